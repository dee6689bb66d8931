"""Pre-training items streamed from a published index (parquet shards in a folder or on the Hub), for an index
larger than one disk: no local copy, each rank reading only its own shards.

``StreamingPretrainDataset`` wraps the rows of one rank (a ``datasets.IterableDataset`` already split with
``datasets.distributed.split_dataset_by_node``, so ranks read disjoint shards) and yields the same items as
:class:`PretrainVideoDataset`: ``{"pixel_values": uint8 (num_sample, T, C, S, S), "skipped": [...], "seed": int}``.

Epochs: an epoch is ``len(dataset) = num_rows // num_processes`` items on every rank (``num_rows``: the index's), so
all ranks take the same number of steps even when their shards differ in size; a rank that reaches the end of
its shards starts them again (reshuffled), and the next epoch continues where this one stopped.

Randomness: item ``k`` of a rank's stream is cropped with a generator seeded by (seed, rank, 0, k), so a run is
reproducible; the row order comes from ``IterableDataset.shuffle(seed)`` (shard order and a buffer).
Not exact on resume: a resumed run reads its skipped batches again to get to the same place.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from hf_tiktokactions.data.frame_cache import DecodedVideoCache
from hf_tiktokactions.data.pretrain_dataset import decode_crops, video_source
from hf_tiktokactions.data.transforms import PRETRAIN_SCALES, MultiScaleCrop
from hf_tiktokactions.errors import VideoDecodeError

__all__ = ["StreamingPretrainDataset"]


class StreamingPretrainDataset(IterableDataset):
    """Items decoded from the rows of one rank's stream (see the module docstring).

    Args:
        rows: this rank's rows, a ``datasets.IterableDataset`` with ``video_column`` (embedded ``Video`` values,
            read undecoded, or paths resolved against ``base``).
        num_rows: rows of the whole index; an epoch is ``num_rows // num_processes`` items (``len(dataset)``).
        rank, num_processes: this process and how many read the index.
        id_column: a column naming each row (kept in ``read_ids``, the rows this process has read).
        Other arguments as :class:`PretrainVideoDataset`.
    """

    def __init__(
        self,
        rows: Any,
        *,
        num_rows: int,
        rank: int = 0,
        num_processes: int = 1,
        video_column: str = "clip",
        id_column: str | None = "video_id",
        base: str | os.PathLike | None = None,
        num_frames: int = 16,
        sampling_rate: int = 4,
        input_size: int = 224,
        num_sample: int = 4,
        backend: str = "decord",
        scales=PRETRAIN_SCALES,
        short_video: str = "clamp",
        seed: int = 0,
        max_consecutive_failures: int = 20,
        preview_size: int = 8,
    ):
        self.rows, self.num_rows, self.rank, self.num_processes = rows, num_rows, rank, num_processes
        self.video_column, self.id_column, self.base = video_column, id_column, base
        self.num_frames, self.sampling_rate, self.num_sample = num_frames, sampling_rate, num_sample
        self.backend, self.crop, self.short_video = backend, MultiScaleCrop(input_size, scales), short_video
        self.frames = DecodedVideoCache(0)  # one pass over a stream: nothing is read twice
        self.seed, self.max_consecutive_failures, self.preview_size = seed, max_consecutive_failures, preview_size
        self.epoch, self.num_skipped = 0, 0
        self.read_ids: list[str] = []
        self._stream: Iterator[dict[str, Any]] | None = None
        self._position = 0  # items taken from this process's stream so far
        self._passes = 0
        self._preview: list[Any] | None = None

    def __len__(self) -> int:
        """Items this process yields in an epoch (what its DataLoader counts); ``num_rows`` is the whole index."""
        return self.num_rows // self.num_processes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _next_row(self) -> dict[str, Any]:
        """The next row of this process's stream, starting the shards again (reshuffled) at their end."""
        for _ in range(2):
            if self._stream is None:
                self.rows.set_epoch(self._passes)
                self._passes += 1
                self._stream = iter(self.rows)
            try:
                return next(self._stream)
            except StopIteration:
                self._stream = None
        raise VideoDecodeError("the streamed index holds no rows for this process; check --data and its filters")

    def _decode(self, row: dict[str, Any], key: list[int]) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.rank, *key])
        video = video_source(row[self.video_column], self.base)
        item = {"pixel_values": decode_crops(self, video, rng), "skipped": []}
        item["seed"] = int(rng.integers(2**62))
        return item

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        per_epoch = len(self)
        mine = per_epoch // workers + (1 if worker < per_epoch % workers else 0)
        for _ in range(mine):
            skipped: list[dict[str, str]] = []
            for _ in range(self.max_consecutive_failures):
                row = self._next_row()
                key = self._position * workers + worker
                self._position += 1
                try:
                    item = self._decode(row, [0, key])
                except VideoDecodeError as error:
                    name = str(row.get(self.id_column) or key) if self.id_column else str(key)
                    skipped.append({"video": name, "reason": str(error)})
                    self.num_skipped += 1
                    warnings.warn(f"skipping a streamed video that cannot be decoded: {error}", stacklevel=2)
                    continue
                if self.id_column and self.id_column in row:
                    self.read_ids.append(str(row[self.id_column]))
                item["skipped"] = skipped
                yield item
                break
            else:
                raise VideoDecodeError(
                    f"{self.max_consecutive_failures} streamed videos in a row could not be decoded (last: "
                    f"{skipped[-1]['video']}); check the data"
                )

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        """``dataset[(0, i)]`` for ``i < preview_size``: the first rows of this rank's shards, for the run's fixed
        preview batch (a stream has no other random access)."""
        _, index = key
        if self._preview is None:
            self._preview = list(itertools.islice(iter(self.rows), self.preview_size))
        if not self._preview:
            raise VideoDecodeError("the streamed index holds no rows for this process; check --data and its filters")
        return self._decode(self._preview[index % len(self._preview)], [1, index])  # a short shard repeats
