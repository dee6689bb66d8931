"""Collect TikTok video metadata for hashtags through the Research API (resumable).

    export TIKTOK_CLIENT_KEY=... TIKTOK_CLIENT_SECRET=...
    python dataset_scripts/collect_tiktok.py --hashtags dataset_scripts/hashtags.csv \
        --start-date 20230101 --end-date 20230630 --max-per-hashtag 900 --output data/tiktok

Exit status: 0 done, 1 error (message on stderr; also when another run holds OUTPUT), 2 bad arguments,
3 daily quota exhausted (rerun the same command after the reset to resume exactly where it stopped),
4 done, but the API returned ids that are not digits only (listed in OUTPUT/invalid_videos.jsonl).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hf_tiktokactions.collection.collect import (
    EXIT_ERROR,
    EXIT_INVALID_IDS,
    EXIT_OK,
    EXIT_QUOTA_EXHAUSTED,
    CollectionRequest,
    collect,
    format_summary,
    parse_fields,
)
from hf_tiktokactions.collection.hashtags import resolve_hashtags
from hf_tiktokactions.collection.tiktok_api import DEFAULT_API_BASE, Credentials, ResearchApiClient, RetryPolicy
from hf_tiktokactions.errors import TikTokActionsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--hashtags",
        required=True,
        help="catalogue CSV (hashtag,category,principle,notes) or a comma list: salsa,tango",
    )
    p.add_argument("--start-date", required=True, help="first creation date, YYYYMMDD (UTC)")
    p.add_argument("--end-date", required=True, help="last creation date, YYYYMMDD (UTC), inclusive")
    p.add_argument("--max-per-hashtag", type=int, required=True, help="stop a hashtag after this many new videos")
    p.add_argument(
        "--output", required=True, type=Path, help="directory for videos.jsonl, state.json, summary.json, collect.log"
    )
    p.add_argument("--api-base", default=DEFAULT_API_BASE, help="Research API base URL")
    p.add_argument(
        "--allow-insecure-api-base",
        action="store_true",
        help="accept a plain http:// --api-base on another machine (the client secret then travels unencrypted)",
    )
    p.add_argument("--fields", default=None, help="comma list of video fields (default: id,create_time,username,...)")
    p.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="stop (resumably, exit 3) after this many query requests in this run",
    )
    p.add_argument("--max-retries", type=int, default=8, help="attempts per request on 429 / 5xx / connection errors")
    p.add_argument(
        "--backoff-base",
        type=float,
        default=2.0,
        help="first backoff delay in seconds (doubles each retry, with jitter)",
    )
    p.add_argument("--backoff-max", type=float, default=300.0, help="longest backoff delay in seconds")
    p.add_argument("--quiet", action="store_true", help="log warnings only (the log file still gets everything)")
    return p.parse_args(argv)


def setup_logging(output: Path, quiet: bool) -> None:
    output.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    console.setFormatter(fmt)
    logfile = logging.FileHandler(output / "collect.log", encoding="utf-8")
    logfile.setFormatter(fmt)
    root = logging.getLogger("hf_tiktokactions")
    root.setLevel(logging.INFO)
    root.addHandler(console)
    root.addHandler(logfile)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tags = resolve_hashtags(args.hashtags)
        request = CollectionRequest(
            hashtags=tuple(t.name for t in tags),
            start_date=args.start_date,
            end_date=args.end_date,
            max_per_hashtag=args.max_per_hashtag,
            fields=parse_fields(args.fields),
        )
        credentials = Credentials.from_env()
        setup_logging(args.output, args.quiet)
        client = ResearchApiClient(
            credentials,
            api_base=args.api_base,
            allow_insecure=args.allow_insecure_api_base,
            retry=RetryPolicy(
                max_attempts=args.max_retries, base_delay_s=args.backoff_base, max_delay_s=args.backoff_max
            ),
        )
        result = collect(
            client, request, args.output, catalogue=tags, max_requests=args.max_requests, progress=not args.quiet
        )
    except TikTokActionsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # an unwritable --output, a full disk
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            "interrupted; everything up to the last finished step is saved, rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    print(format_summary(result))
    if result.status == "quota_exhausted":
        return EXIT_QUOTA_EXHAUSTED
    return EXIT_INVALID_IDS if result.invalid_videos else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
