"""Collect TikTok video metadata for hashtags through the Research API (resumable).

    export TIKTOK_CLIENT_KEY=... TIKTOK_CLIENT_SECRET=...
    python dataset_scripts/collect_tiktok.py --hashtags dataset_scripts/hashtags.csv \
        --start-date 20230101 --end-date 20230630 --max-per-hashtag 900 --output-dir data/tiktok

Exit status: 0 done, 1 error (message on stderr), 2 bad arguments, 3 daily quota exhausted
(rerun the same command after the reset to resume exactly where it stopped).
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions collect``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("collect", argv, prog="dataset_scripts/collect_tiktok.py")


if __name__ == "__main__":
    sys.exit(main())
