"""What ``curate.py --videos`` accepts, turned into one list of :class:`VideoInput`.

* a folder: every video file under it (recursively, by extension, hidden files skipped); the
  ``video_id`` is the path relative to the folder without its extension, ``/`` replaced by ``__``;
* the download step's output folder (it holds ``manifest.jsonl``) or that manifest itself: the videos
  on disk, ``video_id`` = the TikTok id, with ``description`` / ``hashtag`` from the ``videos.jsonl``
  named in ``download_summary.json`` (or lying beside the manifest) when it can be found;
* a plain list file: one path per line (relative paths are taken from the list's folder; blank lines
  and lines starting with ``#`` are skipped). A listed path need not exist: it is then recorded as
  rejected, like any other bad input.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_tiktokactions.atomic_files import read_jsonl
from hf_tiktokactions.collection.download import MANIFEST_FILE, SUMMARY_FILE, load_downloaded_videos
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.layout import VIDEOS_FILE as METADATA_FILE

MAX_VIDEO_ID_CHARS = 160  # ASCII; with the prefixes and suffixes of its files, well inside 255 bytes a name
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".flv", ".3gp", ".ts", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class VideoInput:
    """One video to curate. ``video_id`` names its outputs (``metadata/<id>.json``, ``clips/<id>.mp4``)."""

    video_id: str
    source_path: str
    description: str | None = None
    hashtag: str | None = None


def safe_video_id(raw: str) -> str:
    """A file-name-safe id: path separators become ``__``, anything unusual becomes ``_``.

    When a character had to be replaced (an accent, a space), a short hash of ``raw`` is appended, so
    names that differ only there (``café`` in NFC and NFD, ``café`` and ``cafè``) keep distinct ids. An id longer
    than :data:`MAX_VIDEO_ID_CHARS` is cut and gets the hash too: it names files (``metadata/.<id>.json.tmp``), and
    one input in a deep folder (``a/b/c.mp4`` gives ``a__b__c``) was past the file system's 255 bytes a name, which
    stopped the whole curation with a traceback.
    """
    text = raw.replace("\\", "/").strip("/").replace("/", "__")
    safe = re.sub(r"[^A-Za-z0-9._=+-]", "_", text).lstrip(".")
    if safe != text or len(safe) > MAX_VIDEO_ID_CHARS:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        safe = f"{(safe or '_')[: MAX_VIDEO_ID_CHARS - len(digest) - 1]}-{digest}"
    return safe or "_"


def _from_folder(folder: Path) -> list[VideoInput]:
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(safe_video_id(str(path.relative_to(folder).with_suffix(""))), []).append(path)
    inputs = []
    for stem, paths in by_stem.items():
        for path in paths:  # x.mp4 and x.mov: both keep their extension in the id
            video_id = stem if len(paths) == 1 else safe_video_id(str(path.relative_to(folder)))
            inputs.append(VideoInput(video_id, str(path.resolve())))
    return inputs


def collection_metadata_file(download_dir: Path) -> Path | None:
    """The `videos.jsonl` a download folder was made from (named in its summary, or lying beside it), if found."""
    summary = download_dir / SUMMARY_FILE
    if summary.is_file():
        try:
            named = json.loads(summary.read_text(encoding="utf-8")).get("metadata")
        except ValueError:
            named = None
        if named and Path(named).is_file():
            return Path(named)
    beside = download_dir / METADATA_FILE
    return beside if beside.is_file() else None


def _from_download(download_dir: Path) -> list[VideoInput]:
    records: dict[str, dict[str, Any]] = {}
    metadata = collection_metadata_file(download_dir)
    if metadata is not None:
        for record in read_jsonl(metadata):
            records.setdefault(str(record.get("id")), record)
    inputs = []
    for entry in load_downloaded_videos(download_dir):
        record = records.get(str(entry["id"]), {})
        inputs.append(
            VideoInput(
                video_id=safe_video_id(str(entry["id"])),
                source_path=str(Path(entry["path"]).resolve()),
                description=record.get("video_description"),
                hashtag=entry.get("hashtag") or record.get("hashtag"),
            )
        )
    return sorted(inputs, key=lambda v: v.video_id)


def _from_list(list_file: Path) -> list[VideoInput]:
    inputs, seen = [], set()
    try:
        text = list_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"--videos {list_file}: not a list file (one video path per line, UTF-8 text) nor a video "
            f"({', '.join(VIDEO_SUFFIXES)})"
        ) from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line).expanduser()
        path = path if path.is_absolute() else list_file.parent / path
        video_id = safe_video_id(path.stem)
        if video_id in seen:
            video_id = safe_video_id(str(path.relative_to(path.anchor)))
        seen.add(video_id)
        inputs.append(VideoInput(video_id, str(path.resolve())))
    return inputs


def load_video_inputs(spec: str | Path) -> list[VideoInput]:
    """The videos named by ``--videos`` (folder, download folder or manifest, list file, or one video file); ids
    are unique."""
    spec = Path(spec).expanduser()
    if spec.is_dir():
        inputs = _from_download(spec) if (spec / MANIFEST_FILE).is_file() else _from_folder(spec)
    elif spec.is_file() and spec.name == MANIFEST_FILE:
        inputs = _from_download(spec.parent)
    elif spec.is_file() and spec.suffix.lower() in VIDEO_SUFFIXES:  # one video
        inputs = [VideoInput(safe_video_id(spec.stem), str(spec.resolve()))]
    elif spec.is_file():
        inputs = _from_list(spec)
    else:
        raise ConfigError(
            f"--videos {spec}: no such folder or file; pass a folder of videos, a list file or a download manifest"
        )
    ids = [v.video_id for v in inputs]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"--videos {spec}: several inputs map to the same video id {duplicates[:5]}; rename them")
    if not inputs:
        raise ConfigError(f"--videos {spec}: no videos found (looked for {', '.join(VIDEO_SUFFIXES)})")
    return inputs
