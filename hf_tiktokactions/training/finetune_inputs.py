"""Which labelled videos a fine-tuning run trains, validates and tests on (``--dataset`` and friends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from ..data import load_hmdb51, load_kinetics, load_ssv2, load_ucf101, load_videofolder
from ..data.finetune_dataset import video_paths, video_sources
from ..errors import ConfigError
from ..modeling.hub_source import looks_local, missing_here_and_on_the_hub, only_local
from .arguments import FinetuneArguments
from .protocol import protocol_of

# Display names (results tables and cards) of the readers' datasets.
DISPLAY_NAMES = {
    "ucf101": "UCF101",
    "hmdb51": "HMDB51",
    "kinetics400": "Kinetics-400",
    "ssv2": "Something-Something V2",
    "videofolder": "videofolder",
}


@dataclass
class LabelledVideos:
    """One split: the videos' paths (for clips embedded in the dataset, their file names), class ids and ids;
    ``embedded``: the clips' bytes, read lazily, when the dataset holds them (a ``push_to_hub`` copy)."""

    name: str
    videos: list[str]
    labels: list[int]
    video_ids: list[str]
    embedded: Sequence[Any] | None = None

    def sources(self) -> Sequence[Any]:
        """What the datasets decode: the embedded clips, else the paths."""
        return self.videos if self.embedded is None else self.embedded

    def error_names(self) -> list[str] | None:
        """How errors name the videos when ``sources`` are not paths (which name themselves)."""
        return None if self.embedded is None else self.videos


@dataclass
class FinetuneData:
    """The splits of a run and the class names (index = class id)."""

    dataset: str  # display name
    class_names: list[str]
    train: LabelledVideos | None
    eval: LabelledVideos | None
    test: LabelledVideos


def display_name(dataset: str) -> str:
    """The name results and cards give ``--dataset``: a benchmark's own name, a local folder's last part (its path
    is the training machine's business), or the Hub id."""
    if dataset in DISPLAY_NAMES:
        return DISPLAY_NAMES[dataset]
    return Path(dataset).resolve().name if Path(dataset).expanduser().exists() else dataset


def _need(value: str | None, option: str, dataset: str) -> str:
    if not value:
        raise ConfigError(f"--dataset {dataset} needs {option}")
    return value


def load_splits(args: FinetuneArguments) -> DatasetDict:
    """The ``DatasetDict`` of ``--dataset`` (a benchmark reader, a saved ``datasets`` folder or a Hub id)."""
    name = args.dataset
    missing = args.missing_videos
    if name == "ucf101":
        return load_ucf101(_need(args.data_root, "--data_root", name), args.split, args.annotation_dir, missing)
    if name == "hmdb51":
        return load_hmdb51(_need(args.data_root, "--data_root", name), args.split, args.annotation_dir, missing)
    if name == "kinetics400":
        annotations = _need(args.annotation_dir, "--annotation_dir (the CSVs)", name)
        return load_kinetics(annotations, _need(args.data_root, "--data_root", name), missing)
    if name == "ssv2":
        annotations = _need(args.annotation_dir, "--annotation_dir (the JSONs)", name)
        return load_ssv2(annotations, _need(args.data_root, "--data_root", name), missing)
    if name == "videofolder":
        return load_videofolder(_need(args.data_root, "--data_root", name))
    import datasets

    if Path(name).exists():
        try:
            loaded = datasets.load_from_disk(name)
        except (FileNotFoundError, ValueError) as error:
            loaded = _load_dataset_folder(name, error)
    elif only_local(name):
        raise ConfigError(f"--dataset {name}: no such folder; pass a saved dataset folder or a Hub id OWNER/NAME")
    else:
        try:
            loaded = datasets.load_dataset(name)
        except Exception as error:
            if looks_local(name):
                missing = missing_here_and_on_the_hub(f"--dataset {name}", "folder", error)
                raise ConfigError(f"{missing}; pass a saved dataset folder or a Hub id OWNER/NAME") from error
            raise ConfigError(
                f"--dataset {name}: not one of {', '.join(DISPLAY_NAMES)}, not a local folder, and loading it from the "
                f"Hub failed ({type(error).__name__}: {error}); check the name, your token, or the network"
            ) from error
    if isinstance(loaded, Dataset):
        loaded = DatasetDict({"train": loaded})
    return loaded


def _load_dataset_folder(name: str, not_saved: Exception) -> DatasetDict:
    """A folder ``save_to_disk`` did not write: a local copy of a Hub dataset repository (data files, README)."""
    import datasets

    try:
        return datasets.load_dataset(name)
    except Exception as error:
        raise ConfigError(
            f"--dataset {name}: neither a folder written by save_to_disk ({not_saved}) nor a dataset repository "
            f"folder that datasets.load_dataset reads ({type(error).__name__}: {error})"
        ) from error


def _labelled(rows: Dataset, name: str, limit: int | None, seed: int) -> LabelledVideos:
    for column in ("video", "label"):
        if column not in rows.column_names:
            raise ConfigError(f"split {name!r} has no {column!r} column (columns: {rows.column_names})")
    if limit is not None and limit < len(rows):
        keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:limit])
        rows = rows.select(keep.tolist())
    paths = video_paths(rows)
    ids = rows["video_id"] if "video_id" in rows.column_names else [Path(p).stem for p in paths]
    sources = video_sources(rows)
    embedded = sources if len(sources) and isinstance(sources[0], bytes) else None
    return LabelledVideos(name, paths, [int(label) for label in rows["label"]], list(ids), embedded)


def _has_labels(rows: Dataset) -> bool:
    return len(rows) > 0 and min(rows["label"]) >= 0


def _pick(splits: DatasetDict, wanted: str, preference: tuple[str, ...], what: str, dataset: str, why: str) -> str:
    """``wanted``, or with ``auto`` the first labelled split of ``preference`` (the dataset's protocol)."""
    if wanted != "auto":
        if wanted not in splits:
            raise ConfigError(f"--{what} {wanted!r} is not a split of this dataset (splits: {', '.join(splits)})")
        if not _has_labels(splits[wanted]):
            raise ConfigError(
                f"--{what} {wanted}: this split has no labels (Kinetics' test.csv and SSv2's test list are published "
                "without them), so it cannot be scored; name a labelled split"
            )
        return wanted
    for name in preference:
        if name in splits and _has_labels(splits[name]):
            return name
    reason = f" ({why})" if why else ""
    raise ConfigError(
        f"--dataset {dataset}: --{what} auto scores the labelled {' or '.join(preference)} split{reason}, and this "
        f"dataset has none (splits: {', '.join(splits)}); provide it, or name another split with --{what}"
    )


def unreadable_videos(split: LabelledVideos, backend: str, workers: int = 8) -> list[tuple[int, str]]:
    """(position, reason) of each video of ``split`` that does not open as a video (missing, empty, not a video, no
    video stream, no frames in its index), found by reading each one's index, decoding nothing: a file cut after
    its index opens, and fails when its frames are read.

    Under a multi-process launch each process reads its share and the answers are gathered (a collective: every
    process calls this), so every process leaves out the same videos, even when one of them meets a transient
    read error, and N processes read each video once instead of N times.
    """
    from concurrent.futures import ThreadPoolExecutor

    from accelerate import PartialState
    from accelerate.utils import gather_object

    from ..data.decoding import open_video
    from ..errors import VideoDecodeError

    state = PartialState()
    share = range(state.process_index, len(split.videos), state.num_processes)

    def reason(position: int) -> str | None:
        try:
            with open_video(split.sources()[position], backend) as reader:
                return None if reader.num_frames > 0 else "no frames"
        except VideoDecodeError as error:
            return str(error)

    with ThreadPoolExecutor(workers) as pool:
        found = [(position, why) for position, why in zip(share, pool.map(reason, share)) if why is not None]
    return sorted(gather_object(found))  # one process: its own list


def without_unreadable(split: LabelledVideos, args: FinetuneArguments) -> tuple[LabelledVideos, list[dict]]:
    """``split`` less the videos that do not open, checked before training: one such video in the validation split
    stopped the run at the end of every first epoch (before its checkpoint), one in the test split after all the
    training. ``--missing_videos drop`` leaves them out (returned, to be recorded and warned about), ``error``
    names them in one error."""
    bad = unreadable_videos(split, args.decode_backend)
    if not bad:
        return split, []
    names = [f"{split.videos[position]} ({why})" for position, why in bad[:5]]
    if args.missing_videos == "error" or len(bad) == len(split.videos):
        raise ConfigError(
            f"{len(bad)} of the {len(split.videos)} videos of split {split.name!r} do not open as videos: "
            f"{'; '.join(names)}{' ...' if len(bad) > 5 else ''}"
            + ("" if len(bad) == len(split.videos) else "; --missing_videos drop leaves them out")
        )
    dropped = {position for position, _ in bad}
    kept = [position for position in range(len(split.videos)) if position not in dropped]
    embedded = split.embedded
    if embedded is not None:  # a lazy column of clips stays lazy
        embedded = embedded.select(kept) if hasattr(embedded, "select") else [embedded[i] for i in kept]
    smaller = LabelledVideos(
        split.name,
        [split.videos[i] for i in kept],
        [split.labels[i] for i in kept],
        [split.video_ids[i] for i in kept],
        embedded,
    )
    return smaller, [{"split": split.name, "video": split.videos[i], "reason": why} for i, why in bad]


def resolve_data(args: FinetuneArguments, seed: int) -> FinetuneData:
    """Read ``--dataset`` and choose its train, validation and test splits: the ``--*_split`` options, where they
    say ``auto`` the dataset's protocol (``protocol.py``: Kinetics-400 and SSv2 are scored on their validation list,
    UCF101 and HMDB51 on the split's test list)."""
    splits = load_splits(args)
    label_feature = next(iter(splits.values())).features.get("label")
    class_names = list(getattr(label_feature, "names", None) or [])
    if not class_names:
        largest = max(max(rows["label"]) for rows in splits.values() if len(rows))
        class_names = [str(i) for i in range(largest + 1)]
    protocol = protocol_of(args.dataset)
    test_name = _pick(splits, args.test_split, protocol.test_splits, "test_split", args.dataset, protocol.splits_why)
    eval_name = _pick(splits, args.eval_split, protocol.eval_splits, "eval_split", args.dataset, protocol.splits_why)
    train = None
    if not args.eval_only:
        if args.train_split not in splits:
            raise ConfigError(
                f"--train_split {args.train_split!r} is not a split of this dataset (splits: {', '.join(splits)})"
            )
        train = _labelled(splits[args.train_split], args.train_split, args.max_train_videos, seed)
    return FinetuneData(
        dataset=display_name(args.dataset),
        class_names=class_names,
        train=train,
        eval=_labelled(splits[eval_name], eval_name, args.max_eval_videos, seed),
        test=_labelled(splits[test_name], test_name, args.max_eval_videos, seed),
    )
