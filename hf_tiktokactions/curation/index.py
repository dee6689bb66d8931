"""The video index: a ``datasets.Dataset`` with one row per curated video, built from ``DIR/metadata/*.json``.

Because it is rebuilt from the per-video metadata files (each written atomically, one per video id),
the index always agrees with them, however often a run was killed and resumed. It is saved with
``save_to_disk`` into a temporary folder that then replaces ``DIR/index``.

Columns (:data:`INDEX_COLUMNS`): ``video_id``, ``source_path``, ``clip_path`` (``clips/<id>.mp4``, ``None``
when rejected: pass it to the pre-training loader as ``video_column="clip_path"`` after filtering
on ``status``), ``status`` (``pass`` / ``review`` / ``rejected``), ``reason``, ``person_frames``,
``clip_start`` / ``clip_end`` (seconds in the source), ``clip_num_frames``, ``sampled_frames``
(clip frame indices), ``duration``, ``fps``, ``width``, ``height``, ``num_frames`` (source, from
the container), ``description``, ``hashtag``, ``metadata_path``.

Every path column is relative to ``DIR`` (:func:`layout.stored_path`), so a moved or copied curation folder
still finds its clips; readers resolve them with :func:`layout.resolved_path` (an index written when paths were
absolute reads the same way).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hf_tiktokactions.curation.pipeline import METADATA_DIR
from hf_tiktokactions.data.saved_dataset import load_saved_dataset
from hf_tiktokactions.errors import OutputStateError
from hf_tiktokactions.layout import INDEX_DIR, INDEX_STATE_FILE, stored_path


def _features():
    from datasets import Features, Sequence, Value

    return Features(
        {
            "video_id": Value("string"),
            "source_path": Value("string"),
            "clip_path": Value("string"),
            "status": Value("string"),
            "reason": Value("string"),
            "person_frames": Value("int32"),
            "clip_start": Value("float64"),
            "clip_end": Value("float64"),
            "clip_num_frames": Value("int32"),
            "sampled_frames": Sequence(Value("int32")),
            "duration": Value("float64"),
            "fps": Value("float64"),
            "width": Value("int32"),
            "height": Value("int32"),
            "num_frames": Value("int32"),
            "description": Value("string"),
            "hashtag": Value("string"),
            "metadata_path": Value("string"),
        }
    )


PATH_COLUMNS = ("source_path", "clip_path", "metadata_path")
INDEX_COLUMNS = (
    "video_id",
    "source_path",
    "clip_path",
    "status",
    "reason",
    "person_frames",
    "clip_start",
    "clip_end",
    "clip_num_frames",
    "sampled_frames",
    "duration",
    "fps",
    "width",
    "height",
    "num_frames",
    "description",
    "hashtag",
    "metadata_path",
)


def read_records(output: str | Path) -> list[dict[str, Any]]:
    """Every committed per-video record under ``DIR/metadata``, sorted by ``video_id``."""
    records = []
    for path in sorted((Path(output) / METADATA_DIR).glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as error:
            raise OutputStateError(
                f"{path} is not valid JSON ({error}); delete it and rerun to redo that video"
            ) from None
    return sorted(records, key=lambda r: r["video_id"])


def index_row(record: dict[str, Any], output: Path) -> dict[str, Any]:
    """One index row from one metadata record; its paths relative to ``output`` (older records held absolute ones)."""
    row = {column: record.get(column) for column in INDEX_COLUMNS}
    row["source_path"] = stored_path(record.get("source_path"), output)
    row["clip_path"] = stored_path(record.get("clip_path"), output)
    row["sampled_frames"] = list(record.get("sampled_frames") or [])
    row["metadata_path"] = f"{METADATA_DIR}/{record['video_id']}.json"
    return row


def build_index(output: str | Path):
    """The index as a ``datasets.Dataset`` (not saved)."""
    from datasets import Dataset

    output = Path(output)
    rows = [index_row(record, output) for record in read_records(output)]
    columns = {name: [row[name] for row in rows] for name in INDEX_COLUMNS}
    return Dataset.from_dict(columns, features=_features())


@contextlib.contextmanager
def quiet_progress_bars():
    """No ``datasets`` progress bars inside (a bar for each small table written is noise after a run's own bar)."""
    from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    bars_were_off = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not bars_were_off:
            enable_progress_bars()


def save_index(output: str | Path):
    """Build the index and put it at ``DIR/index`` (replacing the old one only once the new one is complete)."""
    with quiet_progress_bars():
        return _save_index(Path(output))


def _save_index(output: Path):
    dataset = build_index(output)
    staging = Path(tempfile.mkdtemp(prefix=".index.", dir=output))
    try:
        dataset.save_to_disk(str(staging))
        os.chmod(staging, 0o755)  # mkdtemp creates 0700
        target, old = output / INDEX_DIR, output / ".index.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dataset


def curation_folder(path: str | Path) -> Path:
    """The curation folder ``DIR`` of ``DIR`` or ``DIR/index``: the folder the index's paths are relative to."""
    path = Path(path)
    return path.parent if path.name == INDEX_DIR and not (path / INDEX_DIR).is_dir() else path


def load_index(path: str | Path):
    """Read an index written by :func:`save_index` (``DIR`` or ``DIR/index``); its paths as stored (relative)."""
    path = Path(path)
    if (path / INDEX_DIR).is_dir():
        path = path / INDEX_DIR
    if not (path / INDEX_STATE_FILE).is_file():
        raise OutputStateError(f"{path}: no index here; run dataset_scripts/curate.py first")
    return load_saved_dataset(path)  # an index of no video yet has no Arrow file: datasets cannot read it alone
