"""Videos -> clips + metadata + index, with no network: the per-video stages (``stages/``), the runner
(``pipeline``, ``engines``: local processes or Ray), the index and its publishing, and what comes after
(``governance/``: statistics, figures, retention, privacy). Only publishing (``publish.push_index``, an upload to the
Hub) and ``purge --refresh`` (through ``collection.refresh``) reach the network. See docs/ARCHITECTURE.md for the
layers."""
