"""Download the videos listed by collect_tiktok.py (resumable; per-video failures are recorded).

    pip install 'hf-tiktokactions[curation]'        # brings yt-dlp
    python dataset_scripts/download_videos.py --metadata data/tiktok/videos.jsonl \
        --output-dir data/tiktok_videos --workers 4

Writes OUTPUT/videos/<id>.mp4, OUTPUT/manifest.jsonl (one line per attempt, read by the curation
step) and OUTPUT/download_summary.json. Rerun the same command to resume or retry failures.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions download``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("download", argv, prog="dataset_scripts/download_videos.py")


if __name__ == "__main__":
    sys.exit(main())
