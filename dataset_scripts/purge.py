"""Retention: delete raw videos and clips after training, or drop videos that are no longer available.

    python dataset_scripts/purge.py --index data/curated                    # raw videos, clips, metadata, index
    python dataset_scripts/purge.py --index data/curated --keep-metadata  # keep metadata/ and index/ for the statistics
    python dataset_scripts/purge.py --index data/curated --delete-own-videos  # your own source videos too
    TIKTOK_CLIENT_KEY=... TIKTOK_CLIENT_SECRET=... \
    python dataset_scripts/purge.py --index data/curated --refresh          # every 15 days at the latest

Raw videos are deleted when download_videos.py fetched them (they lie under a folder holding its manifest);
videos curated from your own folders or lists are kept unless --delete-own-videos.
--refresh looks every held video id up through the Research API (ids batched by creation date from the
collection's videos.jsonl: --metadata, else found from the download folder) and removes the videos it no
longer returns -- raw file, clip, metadata -- and rebuilds the index. Every run writes
DIR/purge_logs/<time>-<mode>.json. Exit status 3: the daily quota ran out (what was confirmed is removed;
run again after the reset).
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions purge``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("purge", argv, prog="dataset_scripts/purge.py")


if __name__ == "__main__":
    sys.exit(main())
