"""The pre-training dataset: decode one dense clip per video once, return ``num_sample`` augmented crops.

Repeated augmentation as in VideoMAE V2: the frames are decoded once and cropped ``num_sample`` times
(official default 4), so decoding, the dominant cost, is shared. Videos come from a list of paths, a
folder (searched recursively), or a ``datasets.Dataset`` with a path column.

A video that cannot be decoded is skipped: it is counted (``num_skipped`` on the dataset in this process,
and ``item["skipped"]`` so the collator can report it from DataLoader workers), warned about once, and
replaced by another randomly drawn video. Only ``max_consecutive_failures`` failures in a row end the
epoch, with a ``VideoDecodeError`` that says the data is broken.

Randomness: each process (the main one, or each DataLoader worker) owns a ``numpy.random.Generator``
seeded from ``seed``, the worker id and the worker's seed for this epoch, so workers draw different
clips and an epoch is reproducible once torch's global seed is set.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from hf_tiktokactions.data.frame_cache import DecodedVideoCache
from hf_tiktokactions.data.sampling import dense_clip_indices
from hf_tiktokactions.data.transforms import PRETRAIN_SCALES, MultiScaleCrop
from hf_tiktokactions.errors import VideoDecodeError
from hf_tiktokactions.layout import resolved_path

__all__ = [
    "PretrainVideoDataset",
    "VideoColumn",
    "find_videos",
    "video_paths",
    "video_source",
    "VIDEO_EXTENSIONS",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v")


def find_videos(folder: str | os.PathLike, extensions: Iterable[str] = VIDEO_EXTENSIONS) -> list[str]:
    """Video files under ``folder`` (recursively), sorted, matched by extension (case-insensitive)."""
    root = Path(folder)
    if not root.is_dir():
        raise VideoDecodeError(f"{root}: no such folder; pass a folder of videos, a list of paths or a dataset")
    suffixes = {e.lower() for e in extensions}
    return sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def video_source(value: Any, base: str | os.PathLike | None = None) -> Any:
    """What to decode for one dataset value: a ``Video`` value's embedded bytes before its path (a dataset pushed
    with its clips keeps only the file's base name as ``path``), else the path, resolved against ``base`` when
    it is relative (paths of a curation index are relative to its folder)."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        value = value.get("path")
    if isinstance(value, (str, os.PathLike)) and base is not None:
        return resolved_path(value, base)
    return value


class VideoColumn(Sequence):
    """The videos of a ``datasets.Dataset`` column, read one row at a time (embedded clips are not all loaded
    into memory): ``column[i]`` is :func:`video_source` of row ``i``."""

    def __init__(self, dataset: Any, column: str, base: str | os.PathLike | None = None):
        feature = dataset.features[column]
        if type(feature).__name__ == "Video" and getattr(feature, "decode", False):
            dataset = dataset.cast_column(column, type(feature)(decode=False))
        self.rows, self.column, self.base = dataset.select_columns([column]), column, base

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):  # Sequence's int index; slices are not needed here
        return video_source(self.rows[int(index)][self.column], self.base)

    def name(self, index: int) -> str:
        """How messages name row ``index``: its stored path (an embedded clip keeps its file's base name), else the
        row number."""
        value = self.rows[int(index)][self.column]
        path = value.get("path") if isinstance(value, dict) else value
        return str(path) if path else f"row {index}"

    def select(self, indices: Sequence[int]) -> VideoColumn:
        """The rows ``indices``, still read one at a time."""
        return VideoColumn(self.rows.select(indices), self.column, self.base)


def video_paths(videos: Any, video_column: str = "video", base: str | os.PathLike | None = None) -> Sequence[Any]:
    """Paths (or URLs, or bytes) from a folder, a list, or a ``datasets.Dataset`` column (``Video`` features are
    read undecoded, embedded bytes first, one row at a time; relative paths are taken from ``base``)."""
    if isinstance(videos, (str, os.PathLike)):
        return find_videos(videos)
    column_names = getattr(videos, "column_names", None)
    if column_names is not None:  # a datasets.Dataset
        if video_column not in column_names:
            raise ValueError(f"the dataset has no column {video_column!r}; its columns are {column_names}")
        if type(videos.features[video_column]).__name__ == "Video":
            return VideoColumn(videos, video_column, base)
        return [video_source(v, base) for v in videos[video_column]]
    return videos if isinstance(videos, Sequence) else list(videos)


def decode_crops(settings: Any, video: Any, rng: np.random.Generator) -> torch.Tensor:
    """One dense clip of ``video`` cropped ``settings.num_sample`` times with ``rng`` (``settings`` carries
    ``num_frames``, ``sampling_rate``, ``short_video``, ``backend``, ``frames`` (a ``DecodedVideoCache``),
    ``crop`` and ``num_sample``, as :class:`PretrainVideoDataset` does).

    Returns:
        uint8 (num_sample, T, C, S, S).
    """
    with settings.frames.open(video, settings.backend) as reader:
        indices = dense_clip_indices(
            reader.num_frames, settings.num_frames, settings.sampling_rate, rng, settings.short_video
        )
        frames = reader.read(indices)  # (T, C, H, W), channels-last memory
    return torch.stack([settings.crop(frames, rng) for _ in range(settings.num_sample)])


class PretrainVideoDataset(Dataset):
    """Items: ``{"pixel_values": uint8 (num_sample, T, C, S, S), "skipped": [...]}``, ``skipped`` naming the
    videos passed over to make it (``{"video": name, "reason": why}``).

    Args:
        videos: list of paths / fsspec URLs, a folder, or a ``datasets.Dataset`` (see ``video_column``).
        num_frames, sampling_rate: the dense clip: T frames, ``sampling_rate`` apart, random start.
        input_size: S, the side of the square crops.
        num_sample: crops per decoded clip (repeated augmentation).
        backend: decoding backend (``"decord"``, ``"torchcodec"``, ``"pyav"``).
        scales: multi-scale crop scales of the short side.
        short_video: ``"clamp"`` (upstream) or ``"loop"`` for videos shorter than the clip span.
        seed: base seed of the per-process generators.
        decoded_cache_bytes: keep up to this many bytes of decoded frames in each data-loading process
            (``DecodedVideoCache``; 0: decode on every read), for small sets read many times.
    """

    def __init__(
        self,
        videos: Sequence[str | os.PathLike] | str | os.PathLike | Any,
        *,
        video_column: str = "video",
        num_frames: int = 16,
        sampling_rate: int = 4,
        input_size: int = 224,
        num_sample: int = 4,
        backend: str = "decord",
        scales: Sequence[float] = PRETRAIN_SCALES,
        short_video: str = "clamp",
        seed: int = 0,
        max_consecutive_failures: int = 20,
        decoded_cache_bytes: int = 0,
    ):
        self.videos = video_paths(videos, video_column)
        if not self.videos:
            raise VideoDecodeError(f"no videos found in {videos!r}; check the folder, list or column")
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.input_size = input_size
        self.num_sample = num_sample
        self.backend = backend
        self.frames = DecodedVideoCache(decoded_cache_bytes)
        self.crop = MultiScaleCrop(input_size, scales)
        self.short_video = short_video
        self.seed = seed
        self.max_consecutive_failures = max_consecutive_failures
        self.num_skipped = 0
        self._warned: set[str] = set()
        self._rng: np.random.Generator | None = None
        self._item_rng: np.random.Generator | None = None  # set while a keyed item is being built
        self._rng_key: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def rng(self) -> np.random.Generator:
        """The keyed item's generator while one is built; else this process's generator, re-seeded when
        the worker (or its per-epoch seed) changes."""
        if self._item_rng is not None:
            return self._item_rng
        info = get_worker_info()
        key = (info.id, info.seed) if info is not None else (-1, 0)
        if self._rng is None or key != self._rng_key:
            entropy = [self.seed, key[0] + 1, key[1] % 2**63]
            self._rng, self._rng_key = np.random.default_rng(entropy), key
        return self._rng

    def clips(self, video: Any) -> torch.Tensor:
        """Decode one dense clip of ``video`` and crop it ``num_sample`` times.

        Returns:
            uint8 (num_sample, T, C, S, S).
        """
        return decode_crops(self, video, self.rng)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """``dataset[i]`` draws crops from this process's generator. ``dataset[(epoch, i)]`` (the keys of
        ``EpochKeySampler``) draws them from a generator seeded by (seed, epoch, i), so the item does not
        depend on which worker builds it or where a run resumed, and adds ``seed`` (int) for the masks."""
        if not isinstance(key, tuple):
            return self._item(key)
        epoch, index = key
        self._item_rng = np.random.default_rng([self.seed, epoch, index])
        try:
            item = self._item(index)
            item["seed"] = int(self._item_rng.integers(2**62))
        finally:
            self._item_rng = None
        return item

    def _clip_name(self, index: int, clip: bytes) -> str:
        named = self.videos.name(index) if isinstance(self.videos, VideoColumn) else f"row {index}"
        return f"{named} (embedded, {len(clip)} bytes)"

    def _item(self, index: int) -> dict[str, Any]:
        skipped: list[dict[str, str]] = []
        for _ in range(self.max_consecutive_failures):
            video = self.videos[index]
            try:
                return {"pixel_values": self.clips(video), "skipped": skipped}
            except VideoDecodeError as error:
                name = str(video) if not isinstance(video, bytes) else self._clip_name(index, video)
                skipped.append({"video": name, "reason": str(error)})
                self.num_skipped += 1
                if name not in self._warned:
                    self._warned.add(name)
                    warnings.warn(f"skipping a video that cannot be decoded: {error}", stacklevel=2)
                index = int(self.rng.integers(len(self.videos)))
        raise VideoDecodeError(
            f"{self.max_consecutive_failures} videos in a row could not be decoded (last: {skipped[-1]['video']}); "
            "check the data (the first failures were warned about above)"
        )
