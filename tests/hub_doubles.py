"""What the Hub upload tests compare: a folder's file names and contents (the ``hub_calls`` fixture, in conftest.py,
records the uploads instead of sending them)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
