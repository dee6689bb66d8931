"""Retention: delete raw videos and clips after training, or drop videos that are no longer available.

    python dataset_scripts/purge.py --output data/curated                    # raw videos, clips, metadata, index
    python dataset_scripts/purge.py --output data/curated --keep-metadata    # keep metadata/ and index/ for the statistics
    python dataset_scripts/purge.py --output data/curated --delete-own-videos  # your own source videos too
    TIKTOK_CLIENT_KEY=... TIKTOK_CLIENT_SECRET=... \
    python dataset_scripts/purge.py --output data/curated --refresh          # every 15 days at the latest

Raw videos are deleted when download_videos.py fetched them (they lie under a folder holding its manifest);
videos curated from your own folders or lists are kept unless --delete-own-videos.
--refresh looks every held video id up through the Research API (ids batched by creation date from the
collection's videos.jsonl: --metadata, else found from the download folder) and removes the videos it no
longer returns -- raw file, clip, metadata -- and rebuilds the index. Every run writes
DIR/purge_logs/<time>-<mode>.json. Exit status 3: the daily quota ran out (what was confirmed is removed;
run again after the reset).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.collection.collect import EXIT_QUOTA_EXHAUSTED
from hf_tiktokactions.collection.tiktok_api import DEFAULT_API_BASE, Credentials, ResearchApiClient
from hf_tiktokactions.curation.governance.retention import find_collection_metadata, purge, refresh
from hf_tiktokactions.errors import ConfigError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--output", required=True, type=Path, help="curate.py's --output folder")
    p.add_argument(
        "--keep-metadata",
        action="store_true",
        help="keep metadata/, index/ and the review list (delete only videos and clips)",
    )
    p.add_argument(
        "--refresh",
        action="store_true",
        help="instead of purging everything, remove only the videos the Research API no longer returns",
    )
    p.add_argument(
        "--metadata",
        type=Path,
        default=None,
        help="--refresh: the collection's videos.jsonl (default: found from the download folder)",
    )
    p.add_argument("--api-base", default=DEFAULT_API_BASE, help="--refresh: Research API base URL")
    p.add_argument(
        "--allow-insecure-api-base",
        action="store_true",
        help="--refresh: accept a plain http:// --api-base on another machine (the secret travels unencrypted)",
    )
    p.add_argument(
        "--max-unavailable-share",
        type=float,
        default=0.5,
        help="--refresh: delete nothing when more than this share of the checked videos looks unavailable",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing, write no log")
    p.add_argument(
        "--delete-own-videos",
        action="store_true",
        help="also delete source videos that download_videos.py did not fetch (your own folders and lists; kept by default)",
    )
    return p.parse_args(argv)


def _print(log: dict) -> None:
    counts = log["counts"]
    verb = "would delete" if log["dry_run"] else "deleted"
    print(
        f"{log['mode']}: {verb} {counts['raw_videos']} raw videos, {counts['clips']} clips, {counts['metadata']} metadata files"
        f" ({counts['bytes_freed'] / 1e6:.1f} MB); {counts['already_gone']} listed files were already gone"
    )
    if counts.get("kept_own_videos"):
        print(
            f"kept {counts['kept_own_videos']} source videos that were not downloaded by download_videos.py "
            "(your own files; --delete-own-videos deletes them too)"
        )
    if "refresh" in log:
        r = log["refresh"]
        print(
            f"refresh: {r['checked']} checked, {r['unavailable']} no longer available, {r['unchecked']} unchecked, {r['requests']} requests"
        )
    if log.get("log_path"):
        print(f"log: {log['log_path']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.refresh and args.keep_metadata:
        raise ConfigError(
            "--keep-metadata applies to a full purge; --refresh always removes all of an unavailable video"
        )
    if not args.refresh:
        _print(
            purge(
                args.output,
                keep_metadata=args.keep_metadata,
                dry_run=args.dry_run,
                delete_own_videos=args.delete_own_videos,
            )
        )
        return 0
    from hf_tiktokactions.collection.refresh import creation_times

    credentials = Credentials.from_env()
    metadata = args.metadata
    if metadata is None and args.output.is_dir():
        metadata = find_collection_metadata(args.output)
    if metadata is None:
        raise ConfigError(
            f"--refresh: cannot find the collection's videos.jsonl for {args.output}; pass --metadata PATH"
        )
    client = ResearchApiClient(credentials, api_base=args.api_base, allow_insecure=args.allow_insecure_api_base)
    log = refresh(args.output, client, creation_times(metadata), args.max_unavailable_share, args.dry_run)
    _print(log)
    if log["refresh"]["stopped"]:
        print(f"stopped: {log['refresh']['stopped']}; run the same command after the quota reset", file=sys.stderr)
        return EXIT_QUOTA_EXHAUSTED
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
