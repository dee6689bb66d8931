"""Videos -> clips + metadata + index, with no network: the per-video stages (``stages/``), the runner
(``pipeline``, ``engines``: local processes or Ray), the index and its publishing, and what comes after
(``governance/``: statistics, figures, retention, privacy). See docs/ARCHITECTURE.md for the layers."""
