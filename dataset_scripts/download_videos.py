"""Download the videos listed by collect_tiktok.py (resumable; per-video failures are recorded).

    pip install 'hf-tiktokactions[curation]'        # brings yt-dlp
    python dataset_scripts/download_videos.py --metadata data/tiktok/videos.jsonl \
        --output data/tiktok_videos --workers 4

Writes OUTPUT/videos/<id>.mp4, OUTPUT/manifest.jsonl (one line per attempt, read by the curation
step) and OUTPUT/download_summary.json. Rerun the same command to resume or retry failures.
Exit status: 0 done, 2 error (message on stderr; also when another run holds OUTPUT), 4 done, but some
ids in the metadata were not Research API ids (digits only): they are in the manifest as "invalid".
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.collection.download import (
    VIDEO_PAGE_URL,
    LocalCopyDownloader,
    YtDlpDownloader,
    download_videos,
    format_download_summary,
)
from hf_tiktokactions.errors import TikTokActionsError
from hf_tiktokactions.output_guard import EXIT_INVALID_IDS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--metadata", required=True, type=Path, help="videos.jsonl written by collect_tiktok.py")
    p.add_argument(
        "--output", required=True, type=Path, help="directory for videos/, manifest.jsonl, download_summary.json"
    )
    p.add_argument("--workers", type=int, default=4, help="parallel downloads")
    p.add_argument("--downloader", choices=("yt-dlp", "local"), default="yt-dlp", help="how to fetch a video")
    p.add_argument(
        "--source",
        default=None,
        help="for --downloader local: path or file:// template with {id}, e.g. file:///mirror/{id}.mp4",
    )
    p.add_argument(
        "--url-template",
        default=VIDEO_PAGE_URL,
        help="for --downloader yt-dlp: the page to fetch, with {username} and {id}",
    )
    p.add_argument("--limit", type=int, default=None, help="fetch at most this many videos in this run")
    p.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.downloader == "local":
            if not args.source:
                raise TikTokActionsError("--downloader local needs --source, e.g. --source 'file:///mirror/{id}.mp4'")
            downloader = LocalCopyDownloader(args.source)
        else:
            downloader = YtDlpDownloader(url_template=args.url_template)
        result = download_videos(
            args.metadata, args.output, downloader, workers=args.workers, limit=args.limit, progress=not args.quiet
        )
    except OSError as exc:  # an unwritable --output, a full disk: one line like every other user error
        raise TikTokActionsError(str(exc)) from None
    except KeyboardInterrupt:
        print(
            "interrupted; everything up to the last finished step is saved, rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    print(format_download_summary(result))
    return EXIT_INVALID_IDS if result.invalid else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
