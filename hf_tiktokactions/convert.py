"""``python -m hf_tiktokactions.convert SRC OUTPUT_DIR``: official VideoMAE V2 / transformers VideoMAE -> our folder."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions convert`` (options: ``hf_tiktokactions.steps.hub.ConvertOptions``)."""
    from .cli import run_step

    return run_step("convert", argv, prog="python -m hf_tiktokactions.convert")


if __name__ == "__main__":
    sys.exit(main())
