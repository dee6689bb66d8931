"""Which videos a pre-training run reads: a curation folder or its index, a published index (a folder of parquet
shards written by ``push_index --to-folder``, or the same on the Hub), a saved dataset, a folder of videos or a
list file; then the filters and the random subset of the paper's scaling study.

A published index is read by one function, :func:`load_published`, whether it lies in a local folder or on the
Hub (``datasets.load_dataset`` on either), so what trains from the folder trains from the Hub id. Its embedded
clips (the ``clip`` column of ``push_index --embed-clips``) are decoded from their bytes; its relative
``clip_path`` values are taken from the folder it lies in.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..data.pretrain_dataset import find_videos, video_paths, video_source
from ..data.saved_dataset import load_saved_dataset
from ..errors import ConfigError
from ..layout import INDEX_DIR, INDEX_STATE_FILE, METADATA_DIR, PURGE_LOG_DIR
from ..modeling.hub_source import looks_local, missing_here_and_on_the_hub, only_local
from ..redaction import register_secret

INDEX_PATH_COLUMN = "clip_path"
EMBEDDED_CLIP_COLUMN = "clip"


def is_published_folder(path: Path) -> bool:
    """A folder laid out as a Hub dataset of parquet shards (``push_index --to-folder``)."""
    return path.is_dir() and (any(path.glob("*.parquet")) or any(path.glob("data/*.parquet")))


def load_published(data: str, token_env: str = "HF_TOKEN", streaming: bool = False, columns: list[str] | None = None):
    """The ``train`` split of a published index: a local folder of parquet shards or a Hub dataset id, both read
    with ``datasets.load_dataset`` (``streaming``: an ``IterableDataset`` that reads the shards as it goes;
    ``columns``: only these columns are read from the shards)."""
    import datasets

    only = {"columns": columns} if columns is not None else {}
    token = os.environ.get(token_env)
    register_secret(token)  # --hub_token_env may name a variable redaction does not know (not HF_TOKEN)
    try:
        loaded = datasets.load_dataset(data, token=token, streaming=streaming, **only)
    except Exception as error:  # offline, private without token, or no such repo: all end here
        raise ConfigError(
            f"--data {data!r} is not a local path and could not be loaded from the Hub ({type(error).__name__}: "
            f"{error}); pass a folder of videos, a list file, an index folder, or set {token_env} for a private dataset"
        ) from error
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    return loaded


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())


def _curation_folder(path: Path) -> Path | None:
    """The curation folder when ``path`` is one (holding ``index/``) or its ``index/``, else ``None``."""
    if (path / INDEX_DIR / INDEX_STATE_FILE).is_file():
        return path
    if path.name == INDEX_DIR and (path / INDEX_STATE_FILE).is_file() and (path.parent / METADATA_DIR).is_dir():
        return path.parent
    return None


def _load_dataset(data: str, token_env: str) -> tuple[Any, Path | None]:
    """The dataset behind ``data`` and the folder its relative paths are taken from (``None`` for a Hub id)."""
    import datasets

    path = Path(data)
    folder = _curation_folder(path)
    if folder is not None:  # its paths are relative to the curation folder
        return load_saved_dataset(folder / INDEX_DIR), folder
    if is_published_folder(path):
        return load_published(str(path), token_env), path
    if path.is_dir():
        loaded = load_saved_dataset(path)
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
        return loaded, path
    advice = "pass a curation index, a folder of videos, a list file or a Hub dataset id OWNER/NAME"
    if only_local(data):
        raise ConfigError(f"--data {data}: no such file or folder; {advice}")
    try:
        return load_published(data, token_env), None
    except ConfigError as error:
        if not looks_local(data):
            raise
        cause = error.__cause__ or error
        missing = missing_here_and_on_the_hub(f"--data {data}", "file or folder", cause)
        raise ConfigError(f"{missing}; {advice}") from cause


def default_video_column(column_names: Sequence[str]) -> str:
    """The embedded clips when the dataset holds them, else the index's clip paths, else ``video``."""
    for column in (EMBEDDED_CLIP_COLUMN, INDEX_PATH_COLUMN):
        if column in column_names:
            return column
    return "video"


def filter_rows(dataset, only_passed: bool, hashtags: list[str] | None):
    """Rows whose ``status`` is ``pass`` (when asked and the column exists) and whose ``hashtag`` is one of
    ``hashtags``; works on a ``Dataset`` and an ``IterableDataset`` alike."""
    columns = dataset.column_names or []
    if only_passed and "status" in columns:
        dataset = dataset.filter(lambda status: status == "pass", input_columns="status")
    if hashtags:
        if "hashtag" not in columns:
            raise ConfigError("--hashtags needs an index with a 'hashtag' column")
        wanted = {h.lower().lstrip("#") for h in hashtags}
        dataset = dataset.filter(lambda tag: (tag or "").lower() in wanted, input_columns="hashtag")
    return dataset


def check_relative_paths(dataset, column: str, base: Path | None) -> None:
    """Refuse path values that name no clip: relative ones with no folder to resolve them (a Hub index pushed
    without its clips), or ones that name no file in the folder the index lies in (its parquet shards copied without
    the clips): every video would be passed over, one warning each, until too many in a row end the run."""
    if column == EMBEDDED_CLIP_COLUMN or column not in (dataset.column_names or []):
        return
    if hasattr(dataset, "select"):
        sample = dataset.select(range(min(20, len(dataset))))[column]
    else:  # a stream: its first rows
        sample = [row[column] for row in itertools.islice(dataset.select_columns([column]), 20)]
    local = [value for value in sample if isinstance(value, str) and value and "://" not in value]
    if not local:
        return
    if base is None:
        relative = next((value for value in local if not os.path.isabs(value)), None)
        if relative is not None:
            raise ConfigError(
                f"--data: the {column!r} values ({relative!r}, ...) are relative to the curation folder the index came "
                "from and the dataset holds no clips: push it with --embed-clips, or pass that folder as --data"
            )
    elif not any(os.path.exists(video_source(value, base)) for value in local):
        if _curation_folder(base) is not None:
            why = (
                f"its clips are gone (deleted by retention: see {base / PURGE_LOG_DIR}; or moved): curate the videos "
                "again, or pass the folder that holds the clips"
            )
        elif all(os.path.isabs(value) for value in local):
            why = "the clips were moved or deleted, or the index was made on another machine"
        else:
            why = (
                "the folder holds the index without its clips: publish it with --embed-clips, or copy the curation "
                "folder's clips beside it"
            )
        raise ConfigError(
            f"--data {base}: none of the first {len(local)} {column!r} values names an existing file ({local[0]!r}, "
            f"...); {why}"
        )


def escapes_its_folder(value: Any) -> bool:
    """A local path that is absolute or climbs out with ``..``: not a file of the folder it was read from (a
    published index stores its clips relative to its folder, ``clips/...``). Symbolic links are followed: the Hub's
    download cache makes every file of a snapshot one, into its ``blobs/``."""
    if not isinstance(value, str) or not value or "://" in value:
        return False
    return os.path.isabs(value) or ".." in PurePosixPath(value.replace("\\", "/")).parts


def refuse_paths_out_of_the_folder(values: Iterable[Any], column: str, data: str) -> None:
    """A published index (a folder of parquet shards, or a Hub id) comes from outside: a path of ``values`` that
    escapes its folder would have a video read from anywhere on this machine, so it ends the run before training."""
    value = next((value for value in values if escapes_its_folder(value)), None)
    if value is not None:
        raise ConfigError(
            f"--data {data}: the {column!r} value {value!r} names a file outside the index's folder (a published "
            "index names its clips relative to its folder, as push_index.py writes them); refusing to read it"
        )


def _rows_from_dataset(
    dataset, column: str | None, only_passed: bool, hashtags: list[str] | None, base: Path | None, data: str
) -> Sequence[Any]:
    column = column or default_video_column(dataset.column_names)
    if column not in dataset.column_names:
        raise ConfigError(f"the dataset has no column {column!r} (columns: {dataset.column_names}); set --video_column")
    dataset = filter_rows(dataset, only_passed, hashtags)
    if column != EMBEDDED_CLIP_COLUMN and type(dataset.features[column]).__name__ != "Video":
        dataset = dataset.filter(lambda value: value is not None, input_columns=column)  # rejected rows: no clip
        if base is None or is_published_folder(base):
            refuse_paths_out_of_the_folder(dataset[column], column, data)
        check_relative_paths(dataset, column, base)
    return video_paths(dataset, column, base)


def resolve_videos(
    data: str | None,
    video_column: str | None = None,
    only_passed: bool = True,
    hashtags: str | None = None,
    max_videos: int | None = None,
    subset_seed: int = 0,
    token_env: str = "HF_TOKEN",
) -> Sequence[Any]:
    """The videos to pre-train on, in a stable order: paths or URLs, or (for a dataset with embedded clips) a
    sequence that reads each clip's bytes when asked."""
    if not data:
        raise ConfigError("no --data given: pass a curation index, a folder of videos, a list file or a Hub dataset id")
    tags = [t.strip() for t in hashtags.split(",") if t.strip()] if hashtags else None
    path = Path(data)
    is_dataset = (
        _curation_folder(path) is not None or _is_saved_dataset(path) or is_published_folder(path) or not path.exists()
    )
    if tags and not is_dataset:
        raise ConfigError("--hashtags filters a curation index; --data is a folder or a list file")
    if is_dataset:
        dataset, base = _load_dataset(data, token_env)
        if base is not None and _curation_folder(base) is not None and not len(dataset):
            raise ConfigError(
                f"--data {data!r}: the curation index holds no video yet; curate videos into it first (its "
                "curation_summary.json says what the last run did)"
            )
        videos = _rows_from_dataset(dataset, video_column, only_passed, tags, base, data)
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
        local = [video for video in videos[:20] if "://" not in video]
        if local and not any(os.path.exists(video) for video in local):  # else each is "not decodable", 20 in a row
            raise ConfigError(
                f"--data {data}: none of the first {len(local)} files it lists exists ({local[0]!r}, ...); a relative "
                f"path is taken from the list file's folder ({base})"
            )
    if not len(videos):
        raise ConfigError(f"--data {data!r} gives no videos (after filters)")
    if max_videos is not None and max_videos < len(videos):
        chosen = sorted(np.random.default_rng(subset_seed).choice(len(videos), size=max_videos, replace=False))
        videos = videos.select(chosen) if hasattr(videos, "select") else [videos[i] for i in chosen]
    return videos


def streaming_rows(
    data: str | None,
    rank: int,
    num_processes: int,
    video_column: str | None = None,
    only_passed: bool = True,
    hashtags: str | None = None,
    token_env: str = "HF_TOKEN",
    seed: int = 0,
    shuffle_buffer: int = 256,
) -> tuple[Any, int, str, Path | None]:
    """This rank's rows of a published index read as a stream (``--streaming``): ``(rows, rows of the whole index,
    video column, folder of relative paths)``. The shards are split between the ranks with
    ``datasets.distributed.split_dataset_by_node`` (whole shards per rank when their number divides evenly,
    else every ``num_processes``-th row), then shuffled (shard order and a buffer of ``shuffle_buffer`` rows)."""
    from datasets.distributed import split_dataset_by_node

    if not data:
        raise ConfigError(
            "no --data given: --streaming reads a published index (a folder of parquet shards or a Hub id)"
        )
    path = Path(data)
    if path.exists() and not is_published_folder(path):
        raise ConfigError(
            f"--streaming reads a published index (push_index.py --to-folder DIR, or its Hub id); {data} is not one: "
            "drop --streaming to train from it"
        )
    base = path if path.exists() else None
    rows = load_published(data, token_env, streaming=True)
    num_rows = rows.info.splits["train"].num_examples if rows.info.splits and "train" in rows.info.splits else None
    if not num_rows:
        raise ConfigError(f"--data {data!r}: its card states no row count (dataset_info); write it with push_index.py")
    column = video_column or default_video_column(rows.column_names or [])
    if column not in (rows.column_names or []):
        raise ConfigError(f"the dataset has no column {column!r} (columns: {rows.column_names}); set --video_column")
    if type((rows.features or {}).get(column)).__name__ == "Video":
        from datasets import Video

        rows = rows.cast_column(column, Video(decode=False))  # the bytes, decoded by our readers
    tags = [t.strip() for t in hashtags.split(",") if t.strip()] if hashtags else None
    rows = filter_rows(rows, only_passed, tags)
    if column != EMBEDDED_CLIP_COLUMN:
        rows = rows.filter(lambda value: value is not None, input_columns=column)
        if base is None:
            raise ConfigError(
                f"--streaming from the Hub reads embedded clips: {data} has no {EMBEDDED_CLIP_COLUMN!r} column; push "
                "it with --embed-clips"
            )
        check_relative_paths(rows, column, base)
    if len(rows.column_names or []) and (
        (only_passed and "status" in rows.column_names) or tags or column != EMBEDDED_CLIP_COLUMN
    ):
        num_rows = _kept_rows(data, token_env, rows.column_names, column, only_passed, tags)  # the card: all rows
    rows = split_dataset_by_node(rows, rank=rank, world_size=num_processes)
    return rows.shuffle(seed=seed, buffer_size=shuffle_buffer), num_rows, column, base


def _kept_rows(
    data: str, token_env: str, names: list[str], column: str, only_passed: bool, tags: list[str] | None
) -> int:
    """How many rows of a published index (whose columns are ``names``) the filters keep (an epoch is that many
    videos, as a map-style run counts them): one pass over the columns the filters read, never the clips."""
    needed = [name for name in ("status", "hashtag", column) if name in names and name != EMBEDDED_CLIP_COLUMN]
    rows = filter_rows(load_published(data, token_env, streaming=True, columns=needed), only_passed, tags)
    if column != EMBEDDED_CLIP_COLUMN:
        rows = rows.filter(lambda value: value is not None, input_columns=column)
    kept = 0
    for row in rows:
        if column != EMBEDDED_CLIP_COLUMN:
            refuse_paths_out_of_the_folder([row[column]], column, data)
        kept += 1
    if not kept:
        raise ConfigError(f"--data {data!r} gives no videos (after filters)")
    return kept
