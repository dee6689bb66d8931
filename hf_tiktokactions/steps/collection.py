"""The network steps: ``collect`` (video metadata through the TikTok Research API) and ``download`` (the videos)."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from ..collection.collect import CollectionResult
from ..collection.download import VIDEO_PAGE_URL, DownloadResult
from ..collection.tiktok_api import DEFAULT_API_BASE
from ..errors import ConfigError, TikTokActionsError
from ..layout import COLLECTION_LOG_FILE
from .options import option


@dataclass
class CollectOptions:
    """Collect TikTok video metadata for hashtags through the Research API (resumable).

    Credentials come from TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET. Exit status: 0 done, 1 error, 2 bad
    arguments, 3 daily quota exhausted (rerun the same command after the reset to resume where it stopped).
    """

    hashtags: str = option("catalogue CSV (hashtag,category,principle,notes) or a comma list: salsa,tango")
    start_date: str = option("first creation date, YYYYMMDD (UTC)")
    end_date: str = option("last creation date, YYYYMMDD (UTC), inclusive")
    max_per_hashtag: int = option("stop a hashtag after this many new videos")
    output_dir: Path = option(
        "directory for videos.jsonl, state.json, summary.json, collect.log", old_names=("--output",)
    )
    api_base: str = option("Research API base URL", DEFAULT_API_BASE)
    allow_insecure_api_base: bool = option(
        "accept a plain http:// --api-base on another machine (the client secret then travels unencrypted)", False
    )
    fields: str | None = option("comma list of video fields (default: id,create_time,username,...)", None)
    max_requests: int | None = option("stop (resumably, exit 3) after this many query requests in this run", None)
    max_retries: int = option("attempts per request on 429 / 5xx / connection errors", 8)
    backoff_base: float = option("first backoff delay in seconds (doubles each retry, with jitter)", 2.0)
    backoff_max: float = option("longest backoff delay in seconds", 300.0)
    quiet: bool = option("log warnings only (the log file still gets everything)", False)


def _log_to(output_dir: Path, quiet: bool) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    console.setFormatter(fmt)
    logfile = logging.FileHandler(output_dir / COLLECTION_LOG_FILE, encoding="utf-8")
    logfile.setFormatter(fmt)
    root = logging.getLogger("hf_tiktokactions")
    root.setLevel(logging.INFO)
    root.addHandler(console)
    root.addHandler(logfile)


def collect(options: CollectOptions) -> CollectionResult:
    """Run (or resume) a collection into ``options.output_dir``; prints the summary and returns the result."""
    from ..collection.collect import CollectionRequest, format_summary, parse_fields
    from ..collection.collect import collect as run_collection
    from ..collection.hashtags import resolve_hashtags
    from ..collection.tiktok_api import Credentials, ResearchApiClient, RetryPolicy

    output_dir = Path(options.output_dir)
    tags = resolve_hashtags(options.hashtags)
    request = CollectionRequest(
        hashtags=tuple(t.name for t in tags),
        start_date=options.start_date,
        end_date=options.end_date,
        max_per_hashtag=options.max_per_hashtag,
        fields=parse_fields(options.fields),
    )
    credentials = Credentials.from_env()
    try:
        _log_to(output_dir, options.quiet)
    except OSError as error:  # an unwritable --output-dir
        raise TikTokActionsError(str(error)) from None
    retry = RetryPolicy(
        max_attempts=options.max_retries, base_delay_s=options.backoff_base, max_delay_s=options.backoff_max
    )
    client = ResearchApiClient(
        credentials, api_base=options.api_base, allow_insecure=options.allow_insecure_api_base, retry=retry
    )
    try:
        result = run_collection(
            client, request, output_dir, catalogue=tags, max_requests=options.max_requests, progress=not options.quiet
        )
    except OSError as error:  # a full disk
        raise TikTokActionsError(str(error)) from None
    print(format_summary(result))
    return result


@dataclass
class DownloadOptions:
    """Download the videos listed by the collect step (resumable; per-video failures are recorded).

    Writes OUTPUT_DIR/videos/<id>.mp4, OUTPUT_DIR/manifest.jsonl (one line per attempt, read by the curate step)
    and OUTPUT_DIR/download_summary.json. Rerun the same command to resume or retry failures.
    """

    metadata: Path = option("videos.jsonl written by the collect step")
    output_dir: Path = option("directory for videos/, manifest.jsonl, download_summary.json", old_names=("--output",))
    workers: int = option("parallel downloads", 4)
    downloader: str = option("how to fetch a video: yt-dlp or local", "yt-dlp", choices=("yt-dlp", "local"))
    source: str | None = option(
        "for --downloader local: path or file:// template with {id}, e.g. file:///mirror/{id}.mp4", None
    )
    url_template: str = option("for --downloader yt-dlp: the page to fetch, with {username} and {id}", VIDEO_PAGE_URL)
    limit: int | None = option("fetch at most this many videos in this run", None)
    quiet: bool = option("no progress bar, warnings only", False)


def download(options: DownloadOptions) -> DownloadResult:
    """Download (or resume downloading) the videos; prints the summary and returns the result."""
    from ..collection.download import LocalCopyDownloader, YtDlpDownloader, download_videos, format_download_summary

    logging.basicConfig(
        level=logging.WARNING if options.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if options.downloader == "local":
        if not options.source:
            raise ConfigError("--downloader local needs --source, e.g. --source 'file:///mirror/{id}.mp4'")
        downloader = LocalCopyDownloader(options.source)
    else:
        downloader = YtDlpDownloader(url_template=options.url_template)
    try:
        result = download_videos(
            Path(options.metadata),
            Path(options.output_dir),
            downloader,
            workers=options.workers,
            limit=options.limit,
            progress=not options.quiet,
        )
    except OSError as error:  # an unwritable --output-dir, a full disk: one line like every other user error
        raise TikTokActionsError(str(error)) from None
    print(format_download_summary(result))
    return result
