"""Push a curated video index to the Hugging Face Hub as a private dataset.

    hf auth login                                   # or HF_TOKEN
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/tiktok-actions-index
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/clips --embed-clips --status pass

Without --embed-clips only the rows go up (paths, clip times, statuses, reasons); the videos stay local.
The dataset card (README.md) goes up first: --card PATH, or by default the card stats.py writes for the index.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions push-index``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("push-index", argv, prog="dataset_scripts/push_index.py")


if __name__ == "__main__":
    sys.exit(main())
