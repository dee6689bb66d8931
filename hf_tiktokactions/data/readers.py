"""Readers for the fine-tuning benchmarks: UCF101, HMDB51, Kinetics-400, Something-Something V2,
and a plain one-folder-per-class layout.

Every reader parses the benchmark's official annotation files and returns a
``datasets.DatasetDict`` (``train`` / ``validation`` / ``test``, whichever the benchmark has) with

- ``video``: absolute path of the video file (``str``); decoding happens later, in the data pipeline;
- ``label``: a ``ClassLabel`` whose names are the benchmark's class names (-1 where an official
  split has no public labels, e.g. the Kinetics or SSv2 test lists);
- ``video_id``: the benchmark's id of the video (file stem, YouTube id, or SSv2 id).

Readers only check that the listed files exist. If none exists, the video root is wrong and a
:class:`~hf_tiktokactions.errors.DatasetLayoutError` names it. Otherwise a missing file is never
silently dropped: the count and the first few paths are logged as a warning (``missing="warn"``, the
default; the rows are kept), or the rows are dropped after the same warning (``missing="drop"``),
or a :class:`~hf_tiktokactions.errors.DatasetLayoutError` is raised (``missing="error"``).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from hf_tiktokactions.errors import DatasetLayoutError

logger = logging.getLogger(__name__)

MissingPolicy = Literal["warn", "error", "drop"]

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp"})
# Folder names a videofolder may use for its splits, mapped to the split names the readers return.
SPLIT_FOLDER_NAMES = {
    "train": "train",
    "training": "train",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    "eval": "test",
}
# How many missing paths a warning or error shows.
MISSING_EXAMPLES = 5


@dataclass
class _Split:
    """The rows of one split, collected before they become a ``datasets.Dataset``."""

    videos: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    video_ids: list[str] = field(default_factory=list)
    extra: dict[str, list] = field(default_factory=dict)

    def add(self, video: str, label: int, video_id: str, **extra) -> None:
        self.videos.append(video)
        self.labels.append(label)
        self.video_ids.append(video_id)
        for key, value in extra.items():
            self.extra.setdefault(key, []).append(value)


# ----------------------------------------------------------------------------------------------
# UCF101


def load_ucf101(
    root: str | os.PathLike,
    split: int = 1,
    annotation_dir: str | os.PathLike | None = None,
    missing: MissingPolicy = "warn",
) -> DatasetDict:
    """UCF101 with one of its three official train/test splits.

    Args:
        root: the folder holding the 101 class folders (``UCF-101/`` from ``UCF101.rar``), or a
            folder that contains ``UCF-101/``.
        split: 1, 2 or 3 (``trainlist0N.txt`` / ``testlist0N.txt``).
        annotation_dir: the folder with ``classInd.txt``, ``trainlist0N.txt``, ``testlist0N.txt``
            (``ucfTrainTestlist/``). Default: ``root/ucfTrainTestlist``, ``root`` or
            ``root/../ucfTrainTestlist``, whichever has ``classInd.txt``.
        missing: what to do about listed videos that are not on disk (see the module docstring).

    Returns:
        ``DatasetDict`` with ``train`` and ``test`` (9537 / 3783 videos for split 1).
    """
    _check_split_number(split, "UCF101")
    root = _existing_dir(root, "UCF101 video root")
    video_root = root / "UCF-101" if (root / "UCF-101").is_dir() else root
    annotations = _find_annotation_dir(
        annotation_dir, [root / "ucfTrainTestlist", root, root.parent / "ucfTrainTestlist"], "classInd.txt", "UCF101"
    )

    # classInd.txt: "1 ApplyEyeMakeup" (1-based index, one class a line)
    class_names: dict[int, str] = {}
    for line_number, fields in _read_fields(annotations / "classInd.txt"):
        if len(fields) != 2 or not fields[0].isdigit():
            _malformed(annotations / "classInd.txt", line_number, "'<index> <ClassName>'")
        class_names[int(fields[0])] = fields[1]
    names = [class_names[index] for index in sorted(class_names)]
    index_of = {name: i for i, name in enumerate(names)}
    index_of_lower = {name.lower(): i for i, name in enumerate(names)}

    splits: dict[str, _Split] = {}
    for split_name, list_name in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        list_path = _existing_file(annotations / list_name, "UCF101 split list")
        rows = _Split()
        # trainlist: "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"; testlist: the path only.
        # The label always comes from the folder name, which both lists carry.
        for line_number, fields in _read_fields(list_path):
            relative = fields[0]
            folder = relative.split("/")[0]
            label = index_of.get(folder, index_of_lower.get(folder.lower()))
            if label is None or "/" not in relative:
                _malformed(list_path, line_number, "'<ClassName>/<file>.avi [<index>]' with a class from classInd.txt")
            rows.add(str(video_root / relative), label, Path(relative).stem)
        splits[split_name] = rows
    return _build(splits, names, "UCF101", video_root, missing)


# ----------------------------------------------------------------------------------------------
# HMDB51

_HMDB_FLAG_TO_SPLIT = {"1": "train", "2": "test"}  # "0": not used in this split


def load_hmdb51(
    root: str | os.PathLike,
    split: int = 1,
    splits_dir: str | os.PathLike | None = None,
    missing: MissingPolicy = "warn",
) -> DatasetDict:
    """HMDB51 with one of its three official 70/30 splits.

    Args:
        root: the folder holding the 51 class folders (``hmdb51_org/`` after unpacking each class's
            ``.rar``); the videos are ``root/<class>/<name>.avi``.
        split: 1, 2 or 3 (``<class>_test_splitN.txt``).
        splits_dir: ``testTrainMulti_7030_splits/``. Default: ``root/testTrainMulti_7030_splits``,
            ``root/../testTrainMulti_7030_splits`` or ``root``, whichever has the split files.
        missing: what to do about listed videos that are not on disk (see the module docstring).

    Returns:
        ``DatasetDict`` with ``train`` (flag 1, 70 a class) and ``test`` (flag 2, 30 a class);
        flag 0 videos are left out, as the split defines.
    """
    _check_split_number(split, "HMDB51")
    root = _existing_dir(root, "HMDB51 video root")
    suffix = f"_test_split{split}.txt"
    splits_path = _find_annotation_dir(
        splits_dir,
        [root / "testTrainMulti_7030_splits", root.parent / "testTrainMulti_7030_splits", root],
        f"*{suffix}",
        "HMDB51",
    )
    # Sorted by class name, not file name: "kick_ball_test_split1.txt" sorts before "kick_test_split1.txt".
    split_files = {path.name[: -len(suffix)]: path for path in splits_path.glob(f"*{suffix}")}
    names = sorted(split_files)
    splits = {"train": _Split(), "test": _Split()}
    for label, name in enumerate(names):
        split_file = split_files[name]
        # "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 " (note the trailing space)
        for line_number, fields in _read_fields(split_file):
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                _malformed(split_file, line_number, "'<file>.avi <0|1|2>'")
            if fields[1] in _HMDB_FLAG_TO_SPLIT:
                splits[_HMDB_FLAG_TO_SPLIT[fields[1]]].add(str(root / name / fields[0]), label, Path(fields[0]).stem)
    return _build(splits, names, "HMDB51", root, missing)


# ----------------------------------------------------------------------------------------------
# Kinetics-400 (and 600/700, which share the format)

_KINETICS_SPLITS = {
    "train": "train", "val": "validation", "validate": "validation", "validation": "validation", "test": "test"
}  # fmt: skip


def load_kinetics(
    csv_dir: str | os.PathLike,
    video_root: str | os.PathLike,
    missing: MissingPolicy = "warn",
) -> DatasetDict:
    """Kinetics from the official CSV files, or from the VideoMAE / VideoMAE V2 list files.

    Args:
        csv_dir: folder with the release's CSVs (``train.csv``, ``validate.csv``, ``test.csv``, or
            ``kinetics-400_{train,val,test}.csv``); columns ``label,youtube_id,time_start,time_end,split``
            (``is_cc`` and other extra columns are ignored; a CSV without ``label`` gives label -1). Class indices
            follow the official checkpoints' Kinetics-400 order (``kinetics_class_order``), or a ``label_map*.txt``
            beside the CSVs naming the same classes, else the sorted names.
            Or the official VideoMAE code's lists ``train.csv`` / ``val.csv`` / ``test.csv``: one
            ``<video path relative to video_root> <class index>`` a line, no header; the class names then come
            from a ``label_map*.txt`` in the folder (one name a line, as VideoMAE V2's ``misc/label_map_k400.txt``),
            else they are the indices.
        video_root: folder searched recursively for ``{youtube_id}_{start:06d}_{end:06d}.<ext>``
            (any video extension, any sub-folder layout: per split, per class, flat); a file named
            ``{youtube_id}.<ext>`` is accepted too. With list files: the folder the listed paths start from.
        missing: what to do about listed videos that are not on disk (see the module docstring).

    Returns:
        ``DatasetDict`` with the splits the CSVs name (``train``, ``validation``, ``test``) and extra
        columns ``time_start``, ``time_end`` (seconds, int; -1 from list files, which do not give them).
    """
    csv_dir = _existing_dir(csv_dir, "Kinetics CSV folder")
    video_root = _existing_dir(video_root, "Kinetics video root")
    csv_files = sorted(csv_dir.glob("*.csv"))
    if not csv_files:
        raise DatasetLayoutError(
            f"Kinetics: no .csv annotation file in {csv_dir}. "
            "Pass the folder of the release's train/validate/test CSVs."
        )
    extra_features = {"time_start": Value("int32"), "time_end": Value("int32")}
    list_files = [path for path in csv_files if _is_videomae_list(path)]
    if list_files:
        others = [path.name for path in csv_files if path not in list_files]
        if others:
            logger.warning("Kinetics: reading the VideoMAE lists in %s, skipping %s.", csv_dir, ", ".join(others))
        return _load_videomae_lists(list_files, csv_dir, video_root, missing, extra_features)

    records = _kinetics_csv_records(csv_files, csv_dir)
    names = kinetics_class_order({label for _, label, *_ in records if label is not None}, csv_dir)
    index_of = {name: i for i, name in enumerate(names)}
    files = _index_videos(video_root)
    splits: dict[str, _Split] = {}
    for split_name, label, youtube_id, start, end in records:
        stem = f"{youtube_id}_{start:06d}_{end:06d}"
        path = files.get(stem) or files.get(youtube_id) or str(video_root / f"{stem}.mp4")
        splits.setdefault(split_name, _Split()).add(
            path, index_of[label] if label is not None else -1, youtube_id, time_start=start, time_end=end
        )
    return _build(_ordered(splits), names, "Kinetics", video_root, missing, extra_features)


# The Kinetics-400 class order of the official VideoMAE / VideoMAE V2 checkpoints (their misc/label_map_k400.txt): the
# first release's alphabetical order, with 7 classes renamed in place by later releases ("blowing up balloons" is
# "inflating balloons", still at index 12), so sorting the later names would move 300 of the 400 classes.
OFFICIAL_KINETICS400_CLASSES = Path(__file__).with_name("kinetics400_classes.txt")


def _kinetics_csv_records(csv_files: list[Path], csv_dir: Path) -> list[tuple[str, str | None, str, int, int]]:
    """``(split, label or None, youtube_id, time_start, time_end)`` of every row of the release's split CSVs; a CSV
    without those columns (a class-index file, say) is skipped with a warning, and none left is an error."""
    records: list[tuple[str, str | None, str, int, int]] = []
    used = 0
    for csv_path in csv_files:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            if not {"youtube_id", "time_start", "time_end"} <= columns:
                # e.g. a class-index CSV next to the split CSVs
                logger.warning(
                    "Kinetics: skipping %s, whose columns %s are not a split list's.", csv_path, sorted(columns)
                )
                continue
            used += 1
            for line_number, row in enumerate(reader, start=2):
                split_value = (row.get("split") or _split_from_file_name(csv_path)).strip().lower()
                if split_value not in _KINETICS_SPLITS:
                    _malformed(csv_path, line_number, "a split of train, val/validate or test")
                try:
                    start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                except ValueError:
                    _malformed(csv_path, line_number, "numeric time_start and time_end")
                label = row.get("label") or None
                records.append((_KINETICS_SPLITS[split_value], label, row["youtube_id"], start, end))
    if not used:
        raise DatasetLayoutError(
            f"Kinetics: none of the CSVs in {csv_dir} ({', '.join(path.name for path in csv_files)}) has the columns "
            "label,youtube_id,time_start,time_end,split."
        )
    return records


def kinetics_class_order(found: set[str], csv_dir: Path) -> list[str]:
    """The class names of a Kinetics CSV release in the order of a ``label_map*.txt`` beside the CSVs, or of the
    official checkpoints' Kinetics-400 map, when that lists exactly these names; else sorted (the first releases'
    order)."""
    for label_map in [*sorted(csv_dir.glob("label_map*.txt")), OFFICIAL_KINETICS400_CLASSES]:
        names = [" ".join(fields) for _, fields in _read_fields(label_map)]
        if set(names) == found and len(names) == len(found):
            return names
    return sorted(found)


def _is_videomae_list(path: Path) -> bool:
    """Whether ``path`` is an official VideoMAE list (``<path> <class index>`` lines, no header)."""
    with path.open(encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "")
    fields = first.split()
    return len(fields) == 2 and fields[1].isdigit() and "," not in first


def _load_videomae_lists(
    list_files: list[Path], csv_dir: Path, video_root: Path, missing: MissingPolicy, extra_features: dict[str, Value]
) -> DatasetDict:
    splits: dict[str, _Split] = {}
    for list_path in list_files:
        rows = splits.setdefault(_KINETICS_SPLITS[_split_from_file_name(list_path)], _Split())
        for line_number, fields in _read_fields(list_path):
            if len(fields) != 2 or not fields[1].isdigit():
                _malformed(list_path, line_number, "'<video path> <class index>' (the VideoMAE list format)")
            video = video_root / fields[0]
            rows.add(str(video), int(fields[1]), video.stem, time_start=-1, time_end=-1)
    largest = max((label for rows in splits.values() for label in rows.labels), default=-1)
    label_maps = sorted(csv_dir.glob("label_map*.txt"))
    if label_maps:
        names = [" ".join(fields) for _, fields in _read_fields(label_maps[0])]
        if len(names) <= largest:
            raise DatasetLayoutError(
                f"Kinetics: {label_maps[0]} names {len(names)} classes, the lists use class index {largest}."
            )
    else:
        names = [str(index) for index in range(largest + 1)]
    return _build(_ordered(splits), names, "Kinetics", video_root, missing, extra_features)


def _split_from_file_name(csv_path: Path) -> str:
    for word in re.split(r"[^a-z]+", csv_path.stem.lower()):
        if word in _KINETICS_SPLITS:
            return word
    raise DatasetLayoutError(
        f"Kinetics: {csv_path} has no 'split' column and its name names no split (train/val/test)."
    )


# ----------------------------------------------------------------------------------------------
# Something-Something V2

_SSV2_FILES = {
    "train": "something-something-v2-train.json",
    "validation": "something-something-v2-validation.json",
    "test": "something-something-v2-test.json",
}


def ssv2_class_name(template: str) -> str:
    """The class name of an SSv2 ``template``, its brackets removed:
    "Putting [something] on [something]" -> "Putting something on something"."""
    return template.replace("[", "").replace("]", "")


def load_ssv2(
    json_dir: str | os.PathLike,
    video_root: str | os.PathLike,
    missing: MissingPolicy = "warn",
) -> DatasetDict:
    """Something-Something V2 from the official JSON files.

    Args:
        json_dir: folder with ``something-something-v2-labels.json`` (``{class name: "index"}``),
            ``-train.json`` and ``-validation.json`` (lists of ``{"id", "label", "template",
            "placeholders"}``) and optionally ``-test.json`` (``{"id"}`` only: label -1).
        video_root: folder searched recursively for ``{id}.webm`` (another video extension works too).
        missing: what to do about listed videos that are not on disk (see the module docstring).

    Returns:
        ``DatasetDict`` with ``train`` and ``validation`` (and ``test``); class indices follow
        ``labels.json``, 174 classes.
    """
    json_dir = _existing_dir(json_dir, "SSv2 annotation folder")
    video_root = _existing_dir(video_root, "SSv2 video root")
    labels_path = _existing_file(json_dir / "something-something-v2-labels.json", "SSv2 label file")
    label_index = {name: int(index) for name, index in _read_json(labels_path).items()}
    names = sorted(label_index, key=label_index.__getitem__)
    if sorted(label_index.values()) != list(range(len(names))):
        raise DatasetLayoutError(f"SSv2: the indices in {labels_path} are not 0..{len(names) - 1}.")

    files = _index_videos(video_root)
    splits: dict[str, _Split] = {}
    for split_name, file_name in _SSV2_FILES.items():
        path = json_dir / file_name
        if split_name == "test" and not path.is_file():
            continue
        entries = _read_json(_existing_file(path, "SSv2 split file"))
        rows = splits[split_name] = _Split()
        for position, entry in enumerate(entries):
            if "id" not in entry:
                raise DatasetLayoutError(f"SSv2: entry {position} of {path} has no 'id'.")
            video_id = str(entry["id"])
            if "template" in entry:
                name = ssv2_class_name(entry["template"])
                if name not in label_index:
                    raise DatasetLayoutError(
                        f"SSv2: entry {position} (id {video_id}) of {path} has template {entry['template']!r}, "
                        f"whose class {name!r} is not in {labels_path}."
                    )
                label = label_index[name]
            else:
                label = -1
            rows.add(files.get(video_id, str(video_root / f"{video_id}.webm")), label, video_id)
    return _build(splits, names, "SSv2", video_root, missing)


# ----------------------------------------------------------------------------------------------
# One folder per class


def load_videofolder(root: str | os.PathLike) -> DatasetDict:
    """Videos laid out as ``root/<class>/<video>`` (one ``train`` split) or
    ``root/<split>/<class>/<video>`` with ``<split>`` among train, val/validation/dev, test.

    Class names are the folder names, sorted; every split uses the same class list (the union).
    Files without a video extension (metadata, notes) are ignored.
    """
    root = _existing_dir(root, "video folder")
    subdirs = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    if subdirs and all(path.name.lower() in SPLIT_FOLDER_NAMES for path in subdirs):
        split_dirs = {SPLIT_FOLDER_NAMES[path.name.lower()]: path for path in subdirs}
    else:
        split_dirs = {"train": root}

    found: dict[str, list[tuple[str, str]]] = {}  # split -> [(class, path)]
    for split_name, split_dir in split_dirs.items():
        found[split_name] = [
            (class_dir.name, str(video))
            for class_dir in sorted(path for path in split_dir.iterdir() if path.is_dir())
            for video in sorted(class_dir.rglob("*"))
            if video.suffix.lower() in VIDEO_EXTENSIONS and video.is_file()
        ]
    names = sorted({name for pairs in found.values() for name, _ in pairs})
    if not names:
        raise DatasetLayoutError(
            f"No video files found in {root}: expected <class>/<video> or <split>/<class>/<video> "
            f"with extensions {', '.join(sorted(VIDEO_EXTENSIONS))}."
        )
    index_of = {name: i for i, name in enumerate(names)}
    splits = {split_name: _Split() for split_name in found}
    for split_name, pairs in found.items():
        for name, video in pairs:
            splits[split_name].add(video, index_of[name], Path(video).stem)
    return _build(_ordered(splits), names, "videofolder", root, "error")


# ----------------------------------------------------------------------------------------------
# Shared helpers


def _build(
    splits: dict[str, _Split],
    names: Sequence[str],
    dataset_name: str,
    video_root: Path,
    missing: MissingPolicy,
    extra_features: dict[str, Value] | None = None,
) -> DatasetDict:
    """Check the listed files, apply the missing-file policy, and make the ``DatasetDict``."""
    if missing not in ("warn", "error", "drop"):
        raise ValueError(f"missing must be 'warn', 'error' or 'drop', not {missing!r}")
    features = Features(
        {
            "video": Value("string"),
            "label": ClassLabel(names=list(names)),
            "video_id": Value("string"),
            **(extra_features or {}),
        }
    )
    absent = {
        split_name: [i for i, video in enumerate(rows.videos) if not os.path.isfile(video)]
        for split_name, rows in splits.items()
    }
    _report_missing(absent, splits, dataset_name, video_root, missing)

    by_split = {}
    for split_name, rows in splits.items():
        columns = {"video": rows.videos, "label": rows.labels, "video_id": rows.video_ids, **rows.extra}
        if missing == "drop" and absent[split_name]:
            dropped = set(absent[split_name])
            columns = {key: [v for i, v in enumerate(values) if i not in dropped] for key, values in columns.items()}
        for key in extra_features or {}:
            columns.setdefault(key, [])
        by_split[split_name] = Dataset.from_dict(columns, features=features)
    return DatasetDict(by_split)


def _report_missing(
    absent: dict[str, list[int]], splits: dict[str, _Split], dataset_name: str, video_root: Path, missing: MissingPolicy
) -> None:
    count = sum(len(indices) for indices in absent.values())
    if count == 0:
        return
    total = sum(len(rows.videos) for rows in splits.values())
    per_split = ", ".join(f"{name}: {len(indices)}" for name, indices in absent.items() if indices)
    examples = [splits[name].videos[i] for name, indices in absent.items() for i in indices][:MISSING_EXAMPLES]
    message = (
        f"{dataset_name}: {count} of {total} listed video files are missing under {video_root} ({per_split}); "
        f"first missing: {', '.join(examples)}"
    )
    if count == total:
        raise DatasetLayoutError(
            f"{dataset_name}: none of the {total} listed video files exist under {video_root} "
            f"(first: {examples[0]}). Is that the folder the videos were unpacked into?"
        )
    if missing == "error":
        raise DatasetLayoutError(message + ". Check the video root, or pass missing='drop' to leave them out.")
    action = "left out (missing='drop')" if missing == "drop" else "kept; pass missing='drop' to leave them out"
    logger.warning("%s. These rows are %s.", message, action)


def _ordered(splits: dict[str, _Split]) -> dict[str, _Split]:
    order = ["train", "validation", "test"]
    return dict(sorted(splits.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def _index_videos(video_root: Path) -> dict[str, str]:
    """Map every video file's stem under ``video_root`` (recursively) to its absolute path."""
    index: dict[str, str] = {}
    for directory, _, file_names in os.walk(video_root, followlinks=True):
        for file_name in file_names:
            stem, extension = os.path.splitext(file_name)
            if extension.lower() in VIDEO_EXTENSIONS:
                index.setdefault(stem, os.path.join(directory, file_name))
    return index


def _read_fields(path: Path) -> Iterable[tuple[int, list[str]]]:
    """Yield ``(line number, whitespace-separated fields)`` of every non-blank line (CRLF tolerated)."""
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split()
            if fields:
                yield line_number, fields


def _read_json(path: Path):
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DatasetLayoutError(f"{path} is not valid JSON: {error}") from None


def _malformed(path: Path, line_number: int, expected: str) -> NoReturn:
    raise DatasetLayoutError(f"{path}, line {line_number}: expected {expected}.")


def _check_split_number(split: int, dataset_name: str) -> None:
    if split not in (1, 2, 3):
        raise DatasetLayoutError(f"{dataset_name}: split must be 1, 2 or 3, not {split!r}.")


def _existing_dir(path: str | os.PathLike, what: str) -> Path:
    resolved = Path(path).expanduser().absolute()
    if not resolved.is_dir():
        raise DatasetLayoutError(f"{what} {resolved} does not exist or is not a folder.")
    return resolved


def _existing_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetLayoutError(f"{what} {path} does not exist.")
    return path


def _find_annotation_dir(
    given: str | os.PathLike | None, candidates: list[Path], pattern: str, dataset_name: str
) -> Path:
    """The explicitly given annotation folder, or the first candidate that holds ``pattern``."""
    if given is not None:
        candidates = [_existing_dir(given, f"{dataset_name} annotation folder")]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob(pattern)):
            return candidate
    searched = ", ".join(str(candidate) for candidate in candidates)
    raise DatasetLayoutError(
        f"{dataset_name}: no {pattern} found in {searched}. Pass the folder of the official annotation files."
    )
