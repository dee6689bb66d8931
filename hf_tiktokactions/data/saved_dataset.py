"""Read a dataset folder written by ``datasets.Dataset.save_to_disk``, empty ones included.

``save_to_disk`` of a dataset with no rows writes ``state.json`` and ``dataset_info.json`` but no Arrow file, and
``datasets.load_from_disk`` cannot read that back (an ``IndexError`` deep inside ``datasets``). A curation index is
such a folder when no video was curated yet (every worker of the run was lost, or the input list was all duplicates):
the steps that read it then say what is missing instead of failing with a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..layout import INDEX_STATE_FILE


def _holds_no_data_file(folder: Path) -> bool:
    try:
        state = json.loads((folder / INDEX_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("_data_files") == []


def load_saved_dataset(folder: str | Path) -> Any:
    """``datasets.load_from_disk(folder)``; a folder saved with no rows gives an empty ``Dataset`` with its features."""
    import datasets

    folder = Path(folder)
    if _holds_no_data_file(folder):
        info = datasets.DatasetInfo.from_directory(str(folder))
        if info.features is not None:
            return datasets.Dataset.from_dict({name: [] for name in info.features}, features=info.features, info=info)
    return datasets.load_from_disk(str(folder))
