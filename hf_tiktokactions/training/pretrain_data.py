"""Which videos a pre-training run reads: a curation index, a folder, a list file or a Hub dataset, then
the filters and the random subset of the paper's scaling study."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.pretrain_dataset import find_videos, video_paths
from ..errors import ConfigError

INDEX_PATH_COLUMN = "clip_path"


def _load_dataset(data: str, token_env: str):
    """A ``datasets`` folder saved with ``save_to_disk`` or a Hub dataset id (train split)."""
    import datasets

    path = Path(data)
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
    else:
        try:
            loaded = datasets.load_dataset(data, token=os.environ.get(token_env))
        except Exception as error:  # offline, private without token, or no such repo: all end here
            raise ConfigError(
                f"--data {data!r} is not a local path and could not be loaded from the Hub ({type(error).__name__}: "
                f"{error}); pass a folder of videos, a list file, an index folder, or set {token_env} for a private dataset"
            ) from error
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    return loaded


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())


def _rows_from_dataset(dataset, column: str | None, only_passed: bool, hashtags: list[str] | None) -> list[str]:
    column = column or (INDEX_PATH_COLUMN if INDEX_PATH_COLUMN in dataset.column_names else "video")
    if column not in dataset.column_names:
        raise ConfigError(f"the dataset has no column {column!r} (columns: {dataset.column_names}); set --video_column")
    if only_passed and "status" in dataset.column_names:
        dataset = dataset.filter(lambda status: status == "pass", input_columns="status")
    if hashtags:
        if "hashtag" not in dataset.column_names:
            raise ConfigError("--hashtags needs an index with a 'hashtag' column")
        wanted = {h.lower().lstrip("#") for h in hashtags}
        dataset = dataset.filter(lambda tag: (tag or "").lower() in wanted, input_columns="hashtag")
    return [v for v in video_paths(dataset, column) if v]  # rejected index rows have no clip


def resolve_videos(
    data: str | None,
    video_column: str | None = None,
    only_passed: bool = True,
    hashtags: str | None = None,
    max_videos: int | None = None,
    subset_seed: int = 0,
    token_env: str = "HF_TOKEN",
) -> list[str]:
    """The list of video paths (or URLs) to pre-train on, in a stable order."""
    if not data:
        raise ConfigError("no --data given: pass a curation index, a folder of videos, a list file or a Hub dataset id")
    tags = [t.strip() for t in hashtags.split(",") if t.strip()] if hashtags else None
    path = Path(data)
    is_dataset = _is_saved_dataset(path) or not path.exists()
    if tags and not is_dataset:
        raise ConfigError("--hashtags filters a curation index; --data is a folder or a list file")
    if is_dataset:
        videos = _rows_from_dataset(_load_dataset(data, token_env), video_column, only_passed, tags)
    elif path.is_dir():
        videos = find_videos(path)
    else:
        base = path.parent
        lines = [line.strip() for line in path.read_text().splitlines()]
        videos = [
            line if "://" in line or os.path.isabs(line) else str(base / line)
            for line in lines
            if line and not line.startswith("#")
        ]
    if not videos:
        raise ConfigError(f"--data {data!r} gives no videos (after filters)")
    if max_videos is not None and max_videos < len(videos):
        chosen = np.random.default_rng(subset_seed).choice(len(videos), size=max_videos, replace=False)
        videos = [videos[i] for i in sorted(chosen)]
    return videos
