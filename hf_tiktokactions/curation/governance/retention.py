"""Delete what the terms say must not be kept, and keep a record of what was deleted.

* :func:`purge` (after training): the raw videos (each metadata record's ``source_path``), the clips
  (``DIR/clips``) and, unless ``keep_metadata``, the metadata files, the index and the review list.
  Only raw videos that ``download_videos.py`` fetched (files under a folder holding its manifest) are
  deleted; videos curated from the user's own folders or lists are kept and counted, unless
  ``delete_own_videos``.
* :func:`remove_videos` (after a refresh): everything of the given videos -- raw file, clip, metadata
  file -- then the index is rebuilt from the metadata that is left (:func:`index.save_index`).

Each run that deletes something writes ``DIR/purge_logs/<UTC time>-<mode>.json``: mode, times,
counts, bytes freed, the deleted paths, paths that were listed but already gone, and for a refresh
the look-up's outcome. :func:`latest_purge_log` reads the newest (the dataset card shows it).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import read_json, write_json_atomic, write_text_atomic
from hf_tiktokactions.collection.download import MANIFEST_FILE
from hf_tiktokactions.curation.engines import REVIEW_LIST_FILE
from hf_tiktokactions.curation.index import INDEX_DIR, read_records, save_index
from hf_tiktokactions.curation.pipeline import CLIPS_DIR, METADATA_DIR, metadata_path
from hf_tiktokactions.errors import ConfigError, OutputStateError
from hf_tiktokactions.layout import PURGE_LOG_DIR, REFRESH_CHECKS_FILE, lies_under, resolved_path


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Deletion:
    """Files deleted (or, in a dry run, to delete), by kind, with the bytes they held."""

    dry_run: bool = False
    deleted: dict[str, list[str]] = field(
        default_factory=lambda: {"raw_videos": [], "clips": [], "metadata": [], "other": []}
    )
    already_gone: list[str] = field(default_factory=list)
    kept_own_videos: list[str] = field(default_factory=list)
    bytes_freed: int = 0

    def delete_file(self, path: Path, kind: str) -> None:
        if not path.is_file():
            self.already_gone.append(str(path))
            return
        self.bytes_freed += path.stat().st_size
        self.deleted[kind].append(str(path))
        if not self.dry_run:
            path.unlink()

    def delete_tree(self, path: Path, kind: str) -> None:
        if not path.exists():
            return
        files = [p for p in path.rglob("*") if p.is_file()]
        self.bytes_freed += sum(p.stat().st_size for p in files)
        self.deleted[kind].append(str(path))
        if not self.dry_run:
            shutil.rmtree(path)

    def counts(self) -> dict[str, int]:
        return {
            **{kind: len(paths) for kind, paths in self.deleted.items()},
            "already_gone": len(self.already_gone),
            "kept_own_videos": len(self.kept_own_videos),
            "bytes_freed": self.bytes_freed,
        }


def _check_output(output: Path) -> None:
    if not output.is_dir():
        raise OutputStateError(f"--index {output}: no such folder; pass the --output-dir folder of curate")
    if not (output / METADATA_DIR).is_dir() and not (output / CLIPS_DIR).is_dir():
        raise OutputStateError(
            f"--index {output}: neither metadata/ nor clips/ here; is it the --output-dir folder of curate?"
        )


def _source(record: dict[str, Any], output: Path) -> Path | None:
    """The raw video of ``record``: its ``source_path``, stored relative to the curation folder ``output``."""
    source = resolved_path(record.get("source_path"), output)
    return Path(source) if source else None


def was_downloaded(source: Path) -> bool:
    """True when ``source`` lies under a download folder of ``download_videos.py`` (one holding its manifest):
    a copy the terms say must go. Anything else is a video the user brought, and theirs to keep."""
    return any((parent / MANIFEST_FILE).is_file() for parent in source.parents)


def _delete_source(deletion: Deletion, source: Path, delete_own_videos: bool) -> None:
    if delete_own_videos or was_downloaded(source):
        deletion.delete_file(source, "raw_videos")
    else:
        deletion.kept_own_videos.append(str(source))


def write_purge_log(output: Path, log: dict[str, Any]) -> Path:
    """``DIR/purge_logs/<UTC time to the microsecond>-<mode>.json``: names sort in time order."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = output / PURGE_LOG_DIR / f"{stamp}-{log['mode']}.json"
    write_json_atomic(path, log)
    return path


def latest_purge_log(output: str | Path) -> dict[str, Any] | None:
    """The newest purge log of ``output`` (``DIR`` or ``DIR/index``), or ``None``."""
    output = Path(output)
    if output.name == INDEX_DIR:
        output = output.parent
    logs = sorted((output / PURGE_LOG_DIR).glob("*.json"))
    return read_json(logs[-1]) if logs else None


def _log(mode: str, started: str, deletion: Deletion, videos_removed: int, **extra: Any) -> dict[str, Any]:
    return {
        "mode": mode,
        "started_at": started,
        "finished_at": _now(),
        "dry_run": deletion.dry_run,
        "hf_tiktokactions_version": __version__,
        "counts": {**deletion.counts(), "videos_removed": videos_removed},
        "paths": deletion.deleted,
        "already_gone": deletion.already_gone,
        **extra,
    }


def purge(
    output: str | Path, keep_metadata: bool = False, dry_run: bool = False, delete_own_videos: bool = False
) -> dict[str, Any]:
    """Delete downloaded raw videos and clips (and the metadata, index and review list unless ``keep_metadata``);
    the user's own source videos too when ``delete_own_videos``.

    Returns the purge log (also written to ``DIR/purge_logs/`` unless ``dry_run``).
    """
    output = Path(output)
    _check_output(output)
    started = _now()
    deletion = Deletion(dry_run)
    records = read_records(output) if (output / METADATA_DIR).is_dir() else []
    for record in records:
        source = _source(record, output)
        if source is not None:
            _delete_source(deletion, source, delete_own_videos)
    clips = output / CLIPS_DIR
    if clips.is_dir():
        for path in sorted(p for p in clips.iterdir() if p.is_file()):
            deletion.delete_file(path, "clips")
    if not keep_metadata:
        for path in sorted((output / METADATA_DIR).glob("*.json")) if (output / METADATA_DIR).is_dir() else []:
            deletion.delete_file(path, "metadata")
        deletion.delete_tree(output / INDEX_DIR, "other")
        if (output / REVIEW_LIST_FILE).is_file():
            deletion.delete_file(output / REVIEW_LIST_FILE, "other")
    log = _log(
        "purge", started, deletion, len(records), keep_metadata=keep_metadata, kept_own_videos=deletion.kept_own_videos
    )
    if not dry_run:
        log["log_path"] = str(write_purge_log(output, log))
    return log


def remove_videos(output: str | Path, video_ids: Iterable[str], dry_run: bool = False) -> tuple[Deletion, int]:
    """Delete the raw file, clip and metadata file of each of ``video_ids``; rebuild the index if any went.

    Returns the deletion and how many of the ids had a metadata record.
    """
    output = Path(output)
    deletion = Deletion(dry_run)
    removed, video_ids = 0, set(video_ids)
    for video_id in sorted(video_ids):
        meta = metadata_path(output, video_id)
        record = read_json(meta) if meta.is_file() else {}
        removed += bool(record)
        source = _source(record, output)
        if source is not None:
            deletion.delete_file(source, "raw_videos")
        clip = Path(resolved_path(record.get("clip_path") or f"{CLIPS_DIR}/{video_id}.mp4", output))
        if clip.is_file() and lies_under(clip, output / CLIPS_DIR):  # never a file a hostile clip_path names
            deletion.delete_file(clip, "clips")
        if meta.is_file():
            deletion.delete_file(meta, "metadata")
    if removed and not dry_run and (output / INDEX_DIR).exists():
        save_index(output)
    if not dry_run:
        _drop_from_review_list(output, video_ids)
    return deletion, removed


def _drop_from_review_list(output: Path, video_ids: set[str]) -> None:
    """The review list without the lines of ``video_ids`` (``<id>\\t<clip>\\t<reason>``): a removed video's id
    and clip path stayed there after its files went."""
    review = output / REVIEW_LIST_FILE
    if not video_ids or not review.is_file():
        return
    lines = review.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.split("\t", 1)[0] not in video_ids]
    if len(kept) != len(lines):
        write_text_atomic(review, "".join(kept))


def _download_folder(output: str | Path) -> Path | None:
    """The download folder the raw videos lie in (it holds the manifest), if any."""
    from hf_tiktokactions.collection.download import MANIFEST_FILE, VIDEOS_DIR

    for record in read_records(output):
        source = _source(record, output)
        if source is not None and source.parent.name == VIDEOS_DIR and (source.parent.parent / MANIFEST_FILE).is_file():
            return source.parent.parent
    return None


def find_collection_metadata(output: str | Path) -> Path | None:
    """The collection's ``videos.jsonl``, found from the download folder the raw videos lie in."""
    from hf_tiktokactions.curation.inputs import collection_metadata_file

    download = _download_folder(output)
    return collection_metadata_file(download) if download is not None else None


def _forget_in_collection(download: Path | None, video_ids: set[str]) -> None:
    """Videos no longer available leave the collection too: their API records (user names, descriptions) go from
    ``videos.jsonl`` and the manifest marks them ``removed``, so a later ``download`` does not fetch them again (and
    a later curation does not bring them back)."""
    from hf_tiktokactions.atomic_files import append_jsonl
    from hf_tiktokactions.collection.collect import forget_videos
    from hf_tiktokactions.curation.inputs import collection_metadata_file

    if download is None or not video_ids:
        return
    metadata = collection_metadata_file(download)
    if metadata is not None:
        forget_videos(metadata, video_ids)
    reason = "no longer available through the Research API (purge --refresh)"
    entries = [{"id": video_id, "status": "removed", "reason": reason} for video_id in sorted(video_ids)]
    append_jsonl(download / MANIFEST_FILE, entries)


def refresh(
    output: str | Path,
    client: Any,
    created: dict[str, int],
    max_unavailable_share: float = 0.5,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Look the held videos up through ``client`` and remove those no longer available; returns the log.

    ``created`` maps video id -> ``create_time`` (:func:`refresh.creation_times`). When more than
    ``max_unavailable_share`` of the checked videos look unavailable, nothing is deleted: that smells of
    a wrong metadata file or API project rather than of creators deleting half their videos.
    """
    from hf_tiktokactions.collection.refresh import check_availability

    output = Path(output)
    _check_output(output)
    started = _now()
    ids = [record["video_id"] for record in read_records(output)]
    checks_file = output / REFRESH_CHECKS_FILE
    checked_at = read_json(checks_file) if checks_file.is_file() else {}
    availability = check_availability(client, ids, created, checked_at)
    checked = len(availability.available) + len(availability.unavailable)
    if checked and len(availability.unavailable) / checked > max_unavailable_share:
        raise ConfigError(
            f"{len(availability.unavailable)} of {checked} checked videos look unavailable (more than "
            f"--max-unavailable-share {max_unavailable_share:g}); nothing was deleted. Check --metadata and the "
            "research project, or raise --max-unavailable-share if this is right"
        )
    download = _download_folder(output)  # found from the records, before they go
    deletion, removed = remove_videos(output, availability.unavailable, dry_run)
    if not dry_run:
        _forget_in_collection(download, set(availability.unavailable))
    if not dry_run:  # the next refresh starts with what was looked up longest ago (a quota stop goes on from there)
        held = set(ids) - availability.unavailable
        checks = {i: t for i, t in checked_at.items() if i in held}
        write_json_atomic(checks_file, checks | dict.fromkeys(availability.checked_now & held, time.time()))
    log = _log("refresh", started, deletion, removed, refresh=availability.as_json())
    if not dry_run:
        log["log_path"] = str(write_purge_log(output, log))
    return log
