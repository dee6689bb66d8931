"""Fine-tuning and evaluation datasets over labelled videos (the benchmark readers' rows), and their collator.

* ``FinetuneVideoDataset`` (training): one clip per video (a random dense window, or TSN segments for SSv2),
  augmented ``num_sample`` times (repeated augmentation, official ``num_sample``): the frames are decoded once.
* ``MultiViewVideoDataset`` (evaluation): every test view of a video, ``num_segments`` temporal clips x
  ``num_crops`` spatial crops (official ``test_num_segment`` x ``test_num_crop``), or (``validation_clip``) the
  official validation clip scored between epochs. The frames of all views are decoded in one read.

Items are ``{"pixel_values": float (V, T, C, S, S), "labels": int64 (V,), "index": int}`` (``pixel_values`` uint8
from ``MultiViewVideoDataset(normalize=False)``) with V = num_sample or the number of views; ``collate_clips``
concatenates them into a flat batch of clips, so a multi-view batch of B videos is (B * V, T, C, S, S), views of
a video adjacent, ready to be reshaped to (B, V, ...) after the model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hf_tiktokactions.data.epoch_keys import seeded_global_generators
from hf_tiktokactions.data.frame_cache import DecodedVideoCache
from hf_tiktokactions.data.pretrain_dataset import VideoColumn
from hf_tiktokactions.data.sampling import finetune_clip_indices, segment_indices
from hf_tiktokactions.data.transforms import EvalTransform, FinetuneTrainTransform, normalize_video
from hf_tiktokactions.data.views import frames_needed, plan_views, view_clips
from hf_tiktokactions.errors import VideoDecodeError

__all__ = ["FinetuneVideoDataset", "MultiViewVideoDataset", "collate_clips", "video_paths", "video_sources"]

SAMPLING_MODES = ("dense", "segment")


def video_paths(rows: Any, video_column: str = "video") -> list[str]:
    """Paths of a ``datasets.Dataset``'s video column (a string column, or a ``Video`` feature read as paths: for
    clips embedded in the dataset, as ``push_to_hub`` writes them, only the file's name)."""
    feature = rows.features[video_column]
    if type(feature).__name__ == "Video":
        rows = rows.cast_column(video_column, type(feature)(decode=False))
        return [value["path"] for value in rows[video_column]]
    return [os.fspath(value) for value in rows[video_column]]


def video_sources(rows: Any, video_column: str = "video") -> Sequence[Any]:
    """What to decode for each row: for a ``Video`` feature a lazy column giving a row's embedded bytes before its
    path (``VideoColumn``: the clips are never all in memory), else the paths."""
    if type(rows.features[video_column]).__name__ == "Video":
        return VideoColumn(rows, video_column)
    return video_paths(rows, video_column)


def _check_sampling(sampling: str) -> None:
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}")


class FinetuneVideoDataset(Dataset):
    """Training items: ``num_sample`` augmented copies of one clip per video.

    Args:
        videos, labels: what to decode (paths, or a lazy column of embedded clips: ``video_sources``) and class
            ids (same length).
        num_frames, sampling_rate: T frames ``sampling_rate`` apart (``dense``) or T segments (``segment``).
        transform: uint8 (T, C, H, W) -> float (T, C, S, S), e.g. ``FinetuneTrainTransform``.
        num_sample: augmented copies per decoded clip.
        max_consecutive_failures: undecodable videos are skipped (warned once each) and replaced by a random one;
            this many failures in a row end training with a ``VideoDecodeError``.
        decoded_cache_bytes: keep up to this many bytes of decoded frames in each data-loading process
            (``DecodedVideoCache``; 0: decode on every read), for small sets read many times.
        names: how warnings and errors name each video (default: ``videos`` themselves, when they are paths).
        seed: with the (epoch, index) keys of ``EpochKeySampler``, what every random draw of an item comes from.

    ``dataset[(epoch, i)]`` builds the item with the global generators (which timm's and torchvision's
    augmentations draw from) seeded by (seed, epoch, i): the same item in any worker, with any number of
    workers, and in a resumed run. ``dataset[i]`` draws from the generators as they are (DataLoader seeds them
    per worker).
    """

    def __init__(
        self,
        videos: Sequence[str],
        labels: Sequence[int],
        transform: FinetuneTrainTransform,
        *,
        num_frames: int = 16,
        sampling_rate: int = 4,
        sampling: str = "dense",
        num_sample: int = 2,
        backend: str = "decord",
        max_consecutive_failures: int = 20,
        decoded_cache_bytes: int = 0,
        names: Sequence[str] | None = None,
        seed: int = 0,
    ):
        _check_sampling(sampling)
        if len(videos) != len(labels) or not len(videos):
            raise ValueError(
                f"need as many labels as videos, and at least one video (got {len(videos)} and {len(labels)})"
            )
        self.videos, self.labels = _kept(videos), [int(label) for label in labels]
        self.names = names
        self.transform = transform
        self.num_frames, self.sampling_rate, self.sampling = num_frames, sampling_rate, sampling
        self.num_sample, self.backend = num_sample, backend
        self.frames = DecodedVideoCache(decoded_cache_bytes)
        self.max_consecutive_failures = max_consecutive_failures
        self.seed = seed
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.videos)

    def _indices(self, num_video_frames: int, rng: np.random.Generator) -> np.ndarray:
        if self.sampling == "segment":
            return segment_indices(num_video_frames, self.num_frames, rng)
        return finetune_clip_indices(num_video_frames, self.num_frames, self.sampling_rate, rng)

    def _item(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        with self.frames.open(self.videos[index], self.backend) as reader:
            frames = reader.read(self._indices(reader.num_frames, rng))  # uint8 (T, C, H, W)
        clips = torch.stack([self.transform(frames) for _ in range(self.num_sample)])
        return {"pixel_values": clips, "labels": torch.full((self.num_sample,), self.labels[index]), "index": index}

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """``pixel_values`` float (num_sample, T, C, S, S), ``labels`` (num_sample,), ``index`` of the video used,
        ``skipped``: the undecodable videos passed over to reach it (``{"video": name, "reason": why}``)."""
        if not isinstance(key, tuple):
            return self._item_or_replacement(key)
        epoch, index = key
        with seeded_global_generators(self.seed, epoch, index):
            return self._item_or_replacement(index)

    def _item_or_replacement(self, index: int) -> dict[str, Any]:
        skipped: list[dict[str, str]] = []
        for _ in range(self.max_consecutive_failures):
            try:
                return {**self._item(index), "skipped": skipped}
            except VideoDecodeError as error:
                name = _name(self, index)
                skipped.append({"video": name, "reason": str(error)})
                if name not in self._warned:
                    self._warned.add(name)
                    warnings.warn(f"skipping a training video that cannot be decoded: {error}", stacklevel=2)
                index = int(torch.randint(0, len(self.videos), ()).item())
        raise VideoDecodeError(
            f"{self.max_consecutive_failures} training videos in a row could not be decoded "
            f"(last: {_name(self, index)}); check the data"
        )


class MultiViewVideoDataset(Dataset):
    """Evaluation items: all ``num_segments x num_crops`` views of a video, temporal-major.

    Dense sampling slides a T-frame window (every ``sampling_rate``-th frame) to ``num_segments`` evenly spaced
    starts; segment sampling (SSv2) shifts the TSN frame inside each segment. Each clip is resized (short side
    ``short_side_size``) and cropped at ``num_crops`` places along the long side, then to ``input_size``.
    A video that cannot be decoded raises ``VideoDecodeError``: a test set is never silently shrunk.

    The frames the views share are resized once. ``normalize=False`` gives uint8 clips (a quarter of the bytes
    to pass from the workers and copy to the device); ``predict_multiview`` normalises those on the device.
    ``decoded_cache_bytes``: as :class:`FinetuneVideoDataset`'s (a test split evaluated again and again);
    ``names``: the videos' names for errors, where ``videos`` are embedded clips rather than paths.
    ``validation_clip=True``: each video's one validation clip instead (upstream's validation mode, what
    fine-tuning scores between epochs: the centred ``finetune_clip_indices`` or the TSN middle frames, centre
    crop); ``num_segments`` and ``num_crops`` are then ignored.
    """

    def __init__(
        self,
        videos: Sequence[str],
        labels: Sequence[int],
        *,
        num_frames: int = 16,
        sampling_rate: int = 4,
        sampling: str = "dense",
        num_segments: int = 5,
        num_crops: int = 3,
        input_size: int = 224,
        short_side_size: int = 224,
        backend: str = "decord",
        normalize: bool = True,
        decoded_cache_bytes: int = 0,
        names: Sequence[str] | None = None,
        validation_clip: bool = False,
    ):
        _check_sampling(sampling)
        self.normalize = normalize
        self.validation_clip = validation_clip
        self.videos, self.labels, self.names = _kept(videos), [int(label) for label in labels], names
        self.num_frames, self.sampling_rate, self.sampling = num_frames, sampling_rate, sampling
        self.num_segments, self.num_crops = (1, 1) if validation_clip else (num_segments, num_crops)
        self.transform = EvalTransform(input_size, short_side_size, self.num_crops)
        self.backend = backend
        self.frames = DecodedVideoCache(decoded_cache_bytes)

    @property
    def num_views(self) -> int:
        return self.num_segments * self.num_crops

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            return self._item(index)
        except VideoDecodeError as error:
            if self.names is None:
                raise
            raise VideoDecodeError(f"{self.names[index]}: {error}") from None

    def _item(self, index: int) -> dict[str, Any]:
        with self.frames.open(self.videos[index], self.backend) as reader:
            views, num_crops = plan_views(
                reader.num_frames,
                self.num_frames,
                self.sampling_rate,
                self.sampling == "segment",
                None if self.validation_clip else (self.num_segments, self.num_crops),
            )
            wanted = frames_needed(views)
            frames = reader.read(wanted)  # uint8 (F, C, H, W), one decode for every view
        frames = self.transform.resize(frames)  # each distinct frame once, not once per view
        clips = view_clips(frames, wanted, views, num_crops, self.transform.short_side_size, self.transform.input_size)
        if self.normalize:
            clips = normalize_video(clips)
        return {"pixel_values": clips, "labels": torch.full((len(clips),), self.labels[index]), "index": index}


def _kept(videos: Sequence[Any]) -> Sequence[Any]:
    """A lazy column of embedded clips as it is (a list of it would hold every clip in memory), else a list."""
    return videos if isinstance(videos, VideoColumn) else list(videos)


def _name(dataset: FinetuneVideoDataset, index: int) -> str:
    return str(dataset.names[index] if dataset.names is not None else dataset.videos[index])


def collate_clips(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Items -> ``pixel_values`` float (sum V, T, C, S, S), ``labels`` int64 (sum V,), ``index`` int64 (B,),
    ``skipped_videos``: the training videos passed over to make them (``{"video": name, "reason": why}``)."""
    return {
        "pixel_values": torch.cat([item["pixel_values"] for item in items]),
        "labels": torch.cat([item["labels"] for item in items]),
        "index": torch.tensor([item["index"] for item in items]),
        "skipped_videos": [entry for item in items for entry in item.get("skipped", ())],
    }
