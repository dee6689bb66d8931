"""Dataset statistics as in the paper's appendix, and the dataset card, from a curated index.

    python dataset_scripts/stats.py --index data/curated --output-dir data/curated/stats
    python dataset_scripts/stats.py --index data/curated --output-dir stats --collection data/tiktok --top-n 200

Writes to --output-dir: videos_per_hashtag.png, hashtag_ranges.png, durations.png, categories.png,
stats.md, stats.json and README.md (the dataset card; --no-card to skip it). The numbers are
explained in hf_tiktokactions/curation/governance/stats.py.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions stats``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("stats", argv, prog="dataset_scripts/stats.py")


if __name__ == "__main__":
    sys.exit(main())
