"""Download the videos listed in ``videos.jsonl`` (the Research API gives metadata, not bytes).

A :class:`Downloader` fetches one video into a scratch directory; :func:`download_videos` runs
it over the metadata with a thread pool, moves each finished file into ``OUTPUT/videos/`` with an
atomic rename, and appends one line per attempt to ``OUTPUT/manifest.jsonl``:

    {"id", "status": "ok" | "failed" | "skipped" | "invalid" | "removed", "path", "bytes", "sha256", "reason",
     "hashtag", "url", "downloader", "attempted_at"}

The last line of an id is its current state. A rerun skips ids whose file is in place and tries
the failed ones again, so the step is resumable and idempotent. The curation step reads the
manifest with :func:`load_downloaded_videos`.

Ids come from outside (the API, a file anyone can edit): an id that is not digits only is recorded
as ``invalid`` and never becomes a path; every path built from an id or a user name is checked to
stay inside its folder (:mod:`output_guard`) before anything is written or deleted. One run at a
time writes an output folder (``OUTPUT/.download.lock``).

Downloaders: :class:`YtDlpDownloader` (optional dependency ``yt-dlp``, in the ``curation`` extra)
fetches the public page ``https://www.tiktok.com/@{username}/video/{id}``;
:class:`LocalCopyDownloader` copies from a local path or ``file://`` template (tests, mirrors).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import append_jsonl, drop_partial_last_line, read_jsonl, write_json_atomic
from hf_tiktokactions.errors import DownloadError
from hf_tiktokactions.layout import DOWNLOAD_LOCK_FILE as LOCK_FILE
from hf_tiktokactions.layout import DOWNLOAD_SUMMARY_FILE as SUMMARY_FILE
from hf_tiktokactions.layout import MANIFEST_FILE, PARTIAL_DIR, VIDEOS_DIR
from hf_tiktokactions.output_guard import (
    InvalidVideoId,
    OutsideFolder,
    lock_output,
    path_under,
    research_video_id,
)

logger = logging.getLogger(__name__)

VIDEO_PAGE_URL = "https://www.tiktok.com/@{username}/video/{id}"


class DownloadFailed(Exception):
    """One video could not be fetched; ``str(exc)`` is the reason recorded in the manifest."""


def video_page_url(record: dict[str, Any], template: str = VIDEO_PAGE_URL) -> str:
    """The public URL of a video, built from its ``username`` and ``id``."""
    if "{username}" in template and not record.get("username"):
        raise DownloadFailed("no username in the metadata; collect with --fields including username")
    return template.format(username=record.get("username", ""), id=record["id"])


class Downloader(Protocol):
    """Fetches one video into ``workdir`` and returns the file it wrote there."""

    name: str

    def fetch(self, record: dict[str, Any], workdir: Path) -> Path: ...


class YtDlpDownloader:
    """Downloads the public video page with yt-dlp (``pip install 'hf-tiktokactions[curation]'``).

    ``url_template`` (``{username}``, ``{id}``) points yt-dlp elsewhere, e.g. at a mirror.
    """

    name = "yt-dlp"

    def __init__(
        self,
        url_template: str = VIDEO_PAGE_URL,
        format_spec: str = "mp4/best",
        socket_timeout_s: float = 30.0,
        retries: int = 3,
    ) -> None:
        try:
            import yt_dlp  # noqa: F401  (optional dependency)
        except ImportError:
            raise DownloadError(
                "the yt-dlp downloader needs the optional package yt-dlp: pip install 'hf-tiktokactions[curation]'"
            ) from None
        self.url_template = url_template
        self.options = {
            "format": format_spec,
            "socket_timeout": socket_timeout_s,
            "retries": retries,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "noplaylist": True,
        }

    def fetch(self, record: dict[str, Any], workdir: Path) -> Path:
        import yt_dlp

        url = video_page_url(record, self.url_template)
        template = path_under(workdir, f"{research_video_id(record['id'])}.%(ext)s")
        options = {**self.options, "outtmpl": str(template)}
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                ydl.download([url])
        except yt_dlp.utils.DownloadError as exc:
            raise DownloadFailed(str(exc).replace("ERROR: ", "").splitlines()[0]) from None
        files = [p for p in workdir.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
        if not files:
            raise DownloadFailed("yt-dlp finished without writing a file")
        return max(files, key=lambda p: p.stat().st_size)


class LocalCopyDownloader:
    """Copies ``source`` (a path or ``file://`` URL with ``{id}`` / ``{username}`` placeholders)."""

    name = "local"

    def __init__(self, source: str) -> None:
        if "{id}" not in source:
            raise DownloadError(f"--source {source!r} must contain {{id}}, e.g. file:///mirror/{{id}}.mp4")
        self.source = source
        fixed = _local_path(source.split("{", 1)[0])
        self.root = Path(fixed if fixed.endswith("/") else os.path.dirname(fixed) or ".")

    def fetch(self, record: dict[str, Any], workdir: Path) -> Path:
        vid = research_video_id(record["id"])
        location = _local_path(self.source.format(id=vid, username=record.get("username", "")))
        source = path_under(self.root, location, follow_links=False)  # a user name like ../.. must not leave it
        if not source.is_file():
            raise DownloadFailed(f"source file {source} not found")
        target = path_under(workdir, f"{vid}{source.suffix or '.mp4'}")
        shutil.copyfile(source, target)
        return target


def _local_path(location: str) -> str:
    if location.startswith("file://"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(location).path)
    return location


def _cause(entry: dict[str, Any]) -> str:
    """A failed entry's reason with its own page URL and id made placeholders (each 404 names its URL)."""
    reason = str(entry["reason"])
    if entry.get("url"):
        reason = reason.replace(str(entry["url"]), "{url}")
    return reason.replace(str(entry["id"]), "{id}")


@dataclass
class DownloadResult:
    """Counts of one run; ``failures`` maps a cause (the reason with the video's page URL and id replaced by
    ``{url}`` / ``{id}``, so that one cause is one row) -> number of videos."""

    output: Path
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    already_done: int = 0
    failures: dict[str, int] = field(default_factory=dict)


def read_manifest(path: str | Path) -> dict[str, dict[str, Any]]:
    """The current entry of every id in a manifest (its last line wins)."""
    return {str(entry["id"]): entry for entry in read_jsonl(Path(path))}


def load_downloaded_videos(output: str | Path) -> list[dict[str, Any]]:
    """Manifest entries of the videos that are on disk, with ``path`` made absolute."""
    output = Path(output)
    entries = []
    for entry in read_manifest(output / MANIFEST_FILE).values():
        path = _manifest_file(output, entry)
        if path is not None:
            entries.append({**entry, "path": str(path)})
    return entries


def _manifest_file(output: Path, entry: dict[str, Any]) -> Path | None:
    """The file of an ``ok`` entry if it is on disk inside ``output`` (an edited manifest may point elsewhere)."""
    if entry.get("status") != "ok" or not isinstance(entry.get("path"), str):
        return None
    try:
        path = path_under(output, entry["path"])
    except OutsideFolder:
        logger.warning("manifest entry %s points outside %s (%r); ignored", entry.get("id"), output, entry["path"])
        return None
    return path if path.is_file() else None


def _read_metadata(metadata: Path) -> list[dict[str, Any]]:
    if not metadata.is_file():
        raise DownloadError(f"metadata file {metadata} does not exist; run collect_tiktok.py first")
    try:
        records = read_jsonl(metadata)
    except ValueError as exc:
        raise DownloadError(f"{metadata} is not JSON lines ({exc})") from None
    unique: dict[str, dict[str, Any]] = {}
    for line, record in enumerate(records, 1):
        if not isinstance(record, dict) or "id" not in record:
            raise DownloadError(f"{metadata}:{line}: a record without 'id'")
        unique.setdefault(str(record["id"]), record)
    return list(unique.values())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_one(downloader: Downloader, record: dict[str, Any], output: Path) -> dict[str, Any]:
    """Fetch one video and move it into place; any failure becomes a manifest entry."""
    vid = research_video_id(record["id"])  # download_videos let only valid ids through
    entry: dict[str, Any] = {
        "id": record["id"],
        "hashtag": record.get("hashtag"),
        "downloader": downloader.name,
        "attempted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        entry["url"] = video_page_url(record)
    except DownloadFailed:
        entry["url"] = None
    if record.get("download_allowed") is False:
        return {**entry, "status": "skipped", "reason": "the owner does not allow downloads"}
    workdir = path_under(output, PARTIAL_DIR, vid)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        produced = path_under(workdir, str(downloader.fetch(record, workdir)))
        size = produced.stat().st_size
        if size == 0:
            raise DownloadFailed("the downloaded file is empty")
        final = path_under(output, VIDEOS_DIR, f"{vid}{produced.suffix or '.mp4'}")
        checksum = _sha256(produced)
        os.replace(produced, final)
        return {
            **entry,
            "status": "ok",
            "path": str(final.relative_to(output.resolve())),
            "bytes": size,
            "sha256": checksum,
            "reason": None,
        }
    except (DownloadFailed, OutsideFolder) as exc:
        return {**entry, "status": "failed", "reason": str(exc)}
    except Exception as exc:  # a downloader bug or an OS error must not end the whole run
        return {**entry, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def download_videos(
    metadata: str | Path,
    output: str | Path,
    downloader: Downloader,
    workers: int = 4,
    limit: int | None = None,
    progress: bool = True,
) -> DownloadResult:
    """Download every video of ``metadata`` not yet in ``output``; see the module docstring."""
    if workers < 1:
        raise DownloadError(f"--workers must be at least 1, got {workers}")
    metadata, output = Path(metadata), Path(output)
    records = _read_metadata(metadata)
    lock = lock_output(output, LOCK_FILE, "download")
    try:
        return _download_locked(metadata, output, records, downloader, workers, limit, progress)
    finally:
        lock.close()


def _download_locked(
    metadata: Path,
    output: Path,
    records: list[dict[str, Any]],
    downloader: Downloader,
    workers: int,
    limit: int | None,
    progress: bool,
) -> DownloadResult:
    (output / VIDEOS_DIR).mkdir(parents=True, exist_ok=True)
    shutil.rmtree(output / PARTIAL_DIR, ignore_errors=True)
    manifest = output / MANIFEST_FILE
    drop_partial_last_line(manifest)
    previous = read_manifest(manifest)
    result = DownloadResult(output=output)
    todo = _videos_to_fetch(metadata, output, records, downloader, previous, result)
    if limit is not None:
        todo = todo[:limit]
    logger.info("%d videos to fetch, %d already downloaded", len(todo), result.already_done)
    pool = ThreadPoolExecutor(max_workers=workers)
    with tqdm(total=len(todo), unit="video", disable=not progress or None) as bar:
        futures = [pool.submit(_fetch_one, downloader, record, output) for record in todo]
        recorded: set = set()

        def record_outcome(future) -> None:
            entry = future.result()
            append_jsonl(manifest, [entry])  # only this thread writes the manifest
            recorded.add(future)
            if entry["status"] == "ok":
                result.ok += 1
            elif entry["status"] == "skipped":
                result.skipped += 1
            else:
                result.failed += 1
                cause = _cause(entry)
                result.failures[cause] = result.failures.get(cause, 0) + 1
                logger.info("video %s failed: %s", entry["id"], entry["reason"])
            bar.update()

        try:
            for future in as_completed(futures):
                record_outcome(future)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM: stop soon, and lose none of what was fetched
            waiting = sum(not future.done() for future in futures)
            logger.warning("interrupted: the downloads under way finish and are recorded, %d are left", waiting)
            pool.shutdown(wait=True, cancel_futures=True)  # the queued ones never start
            for future in futures:
                if future.done() and not future.cancelled() and future not in recorded:
                    record_outcome(future)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    shutil.rmtree(output / PARTIAL_DIR, ignore_errors=True)
    _write_summary(metadata, output, downloader, result)
    return result


def _videos_to_fetch(
    metadata: Path,
    output: Path,
    records: list[dict[str, Any]],
    downloader: Downloader,
    previous: dict[str, dict[str, Any]],
    result: DownloadResult,
) -> list[dict[str, Any]]:
    """The records still to download: not already in ``output`` (as ``previous``, the manifest, says), with a valid
    Research API id. Invalid ids are counted in ``result`` and recorded in the manifest once."""
    manifest = output / MANIFEST_FILE
    todo, invalid = [], []
    for record in records:
        entry = previous.get(str(record["id"]))
        try:
            research_video_id(record["id"])
        except InvalidVideoId as exc:
            result.invalid += 1
            if not entry or entry["status"] != "invalid":
                invalid.append(_invalid_entry(record, downloader, str(exc)))
            continue
        if entry and entry["status"] == "removed":  # withdrawn by its creator (purge --refresh): never again
            continue
        if entry and _manifest_file(output, entry) is not None:
            result.already_done += 1
        else:
            todo.append(record)
    if invalid:
        append_jsonl(manifest, invalid)
    if result.invalid:
        logger.warning(
            "%d ids in %s are not Research API ids; recorded as invalid in %s", result.invalid, metadata, manifest
        )
    return todo


def _write_summary(metadata: Path, output: Path, downloader: Downloader, result: DownloadResult) -> None:
    write_json_atomic(
        output / SUMMARY_FILE,
        {
            "hf_tiktokactions_version": __version__,
            "metadata": str(metadata),
            "downloader": downloader.name,
            "ok": result.ok,
            "failed": result.failed,
            "skipped": result.skipped,
            "invalid": result.invalid,
            "already_done": result.already_done,
            "failures_by_reason": dict(sorted(result.failures.items(), key=lambda kv: -kv[1])),
            "manifest": str(output / MANIFEST_FILE),
        },
    )


def _invalid_entry(record: dict[str, Any], downloader: Downloader, reason: str) -> dict[str, Any]:
    return {
        "id": record["id"],
        "status": "invalid",
        "reason": reason,
        "hashtag": record.get("hashtag"),
        "url": None,
        "downloader": downloader.name,
        "attempted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def format_download_summary(result: DownloadResult, limit: int = 5) -> str:
    """A short human summary (the full one is ``download_summary.json``)."""
    lines = [
        f"{result.ok} downloaded, {result.failed} failed, {result.skipped} skipped, "
        f"{result.already_done} already there; manifest {result.output / MANIFEST_FILE}"
    ]
    if result.invalid:
        lines.append(
            f"  {result.invalid} invalid ids (not digits only) were not fetched; they are in the manifest as 'invalid'"
        )
    for reason, count in sorted(result.failures.items(), key=lambda kv: -kv[1])[:limit]:
        lines.append(f"  {count:>5} x {reason}")
    return "\n".join(lines)
