"""Crash-safe file writes: a kill -9 at any instant leaves either the old or the new content.

A leaf module (standard library only) that every layer may use, like ``errors.py``.

JSON files are replaced with write-to-temp + fsync + ``os.replace``. JSON-lines files are only
ever appended in whole lines and fsynced; the caller records the committed length in its own
(atomically replaced) state, so a partial tail left by a kill can be cut off on the next start.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temporary file, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON (sorted keys), atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def append_jsonl(path: Path, records: Iterable[dict]) -> int:
    """Append ``records`` as JSON lines in one write, fsync, and return the new file size."""
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    with path.open("ab") as handle:
        if payload:
            handle.write(payload.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        return handle.tell()


def truncate_to(path: Path, size: int) -> bool:
    """Cut ``path`` back to ``size`` bytes (an uncommitted tail); return whether anything was cut."""
    if not path.exists():
        if size:
            raise FileNotFoundError(path)
        path.touch()
        return False
    if path.stat().st_size == size:
        return False
    if path.stat().st_size < size:
        raise ValueError(f"{path} is shorter ({path.stat().st_size} bytes) than its committed {size} bytes")
    with path.open("r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def read_jsonl(path: Path) -> list[dict]:
    """Read every complete line of a JSON-lines file (an incomplete last line is ignored)."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            records.append(json.loads(line))
    return records


def drop_partial_last_line(path: Path) -> bool:
    """Cut a trailing incomplete line (left by a kill mid-append); return whether one was cut."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as handle:
        data = handle.read()
    if data.endswith(b"\n"):
        return False
    return truncate_to(path, data.rfind(b"\n") + 1)
