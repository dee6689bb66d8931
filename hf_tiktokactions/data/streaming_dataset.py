"""Pre-training items streamed from a published index (parquet shards in a folder or on the Hub), for an index
larger than one disk: no local copy, each rank reading only its own shards.

``StreamingPretrainDataset`` wraps the rows of one rank (a ``datasets.IterableDataset`` already split with
``datasets.distributed.split_dataset_by_node``, so ranks read disjoint shards) and yields the same items as
:class:`PretrainVideoDataset`: ``{"pixel_values": uint8 (num_sample, T, C, S, S), "skipped": [...], "seed": int}``.

Epochs: an epoch is ``len(dataset) = num_rows // num_processes`` items on every rank (``num_rows``: the index's), so
all ranks take the same number of steps even when their shards differ in size. Epoch ``e`` reads the rank's rows
from their start in the order of ``IterableDataset.shuffle(seed)`` for pass ``e`` (shard order and a buffer); a rank
whose share is shorter than an epoch starts it again (reshuffled) within the epoch, one whose share is longer leaves
its last rows to the next epochs' orders.

DataLoader workers: ``datasets`` gives each worker whole shards of the rank's share (worker ``w`` reads shards
``w, w + W, ...``), so with fewer shards than workers only as many workers as shards read; the epoch's items are
divided between those. A persistent worker never sees ``set_epoch`` again, so the dataset counts its epochs: each
``iter()`` starts the epoch after the last.

Randomness and resume: item ``k`` of an epoch ``e`` is cropped with a generator seeded by (seed, rank, 0, e, k), and
where an epoch starts depends on ``e`` alone, so a run is reproducible and a resumed run continues with the rows and
crops of the uninterrupted run. Each item carries its ``stream_position`` (readers, worker, rows that worker has
taken, the undecodable ones included); the loop records them per worker (``record_positions``) in its checkpoints.
``resume_at`` hands such a record back: each worker then passes over its rows taken without decoding them and yields
one placeholder (``{PASSED_OVER: True}``) per item it had yielded, which ``accelerate.skip_first_batches`` drops,
so the batches after them come from the workers in the uninterrupted run's order. Without a record (another number
of workers, an older checkpoint) the consumed batches are decoded again and dropped.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from hf_tiktokactions.data.collate import PASSED_OVER
from hf_tiktokactions.data.frame_cache import DecodedVideoCache
from hf_tiktokactions.data.pretrain_dataset import decode_crops, video_source
from hf_tiktokactions.data.transforms import PRETRAIN_SCALES, MultiScaleCrop
from hf_tiktokactions.errors import VideoDecodeError

__all__ = ["StreamingPretrainDataset", "new_place", "record_positions"]

_PASSES_PER_EPOCH = 1024  # shuffle orders set aside for one epoch (a share read again within it takes the next)


def new_place() -> dict[str, Any]:
    """Where one process is in a streamed epoch: ``readers`` (workers that read), per worker the ``items`` it has
    yielded and the ``rows`` it has taken (JSON-able, for a checkpoint)."""
    return {"readers": 0, "items": [], "rows": []}


def record_positions(place: dict[str, Any], positions: Any) -> None:
    """Add a batch's items' ``stream_position`` (readers, worker, rows taken) to ``place`` (changed)."""
    for readers, worker, rows in positions:
        place["readers"] = int(readers)
        for name in ("items", "rows"):
            place[name].extend([0] * (int(worker) + 1 - len(place[name])))
        place["items"][worker] += 1
        place["rows"][worker] = max(place["rows"][worker], int(rows))


class StreamingPretrainDataset(IterableDataset):
    """Items decoded from the rows of one rank's stream (see the module docstring).

    Args:
        rows: this rank's rows, a ``datasets.IterableDataset`` with ``video_column`` (embedded ``Video`` values,
            read undecoded, or paths resolved against ``base``).
        num_rows: rows of the whole index; an epoch is ``num_rows // num_processes`` items (``len(dataset)``).
        rank, num_processes: this process and how many read the index.
        id_column: a column naming each row (an item's ``video_id``).
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
        self._preview: list[Any] | None = None
        self._resume: tuple[int, dict[str, Any]] | None = None

    def __len__(self) -> int:
        """Items this process yields in an epoch (what its DataLoader counts); ``num_rows`` is the whole index."""
        return self.num_rows // self.num_processes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _readers(self, workers: int) -> int:
        """DataLoader workers that read: ``datasets`` hands a worker whole shards, workers past them get none."""
        return max(1, min(workers, getattr(self.rows, "num_shards", None) or workers))

    def resume_at(self, epoch: int, place: dict[str, Any], num_workers: int) -> bool:
        """Go on in ``epoch`` after the items a checkpoint's ``place`` records (``new_place``), passing over their rows
        without decoding them, when they were read by as many workers as ``num_workers`` give; whether it will."""
        if place.get("readers") != self._readers(max(1, num_workers)):
            return False
        self._resume = (epoch, place)
        return True

    def _rows_of_epoch(self, epoch: int) -> Iterator[dict[str, Any]]:
        """This process's rows for ``epoch``: from the start of the stream in that epoch's order, started again
        (reshuffled) at its end."""
        for repeat in itertools.count():
            self.rows.set_epoch(epoch * _PASSES_PER_EPOCH + repeat)
            empty = True
            for row in self.rows:
                empty = False
                yield row
            if empty:
                raise VideoDecodeError(
                    "the streamed index holds no rows for this process; check --data and its filters"
                )

    def _decode(self, row: dict[str, Any], key: list[int]) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.rank, *key])
        video = video_source(row[self.video_column], self.base)
        item = {"pixel_values": decode_crops(self, video, rng), "skipped": []}
        item["seed"] = int(rng.integers(2**62))
        return item

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        readers = self._readers(workers)
        epoch = self.epoch
        self.epoch += 1  # a persistent worker's copy is not told the next epoch: it is the one after this
        if worker >= readers:
            return
        per_epoch = len(self)
        mine = per_epoch // readers + (1 if worker < per_epoch % readers else 0)
        stream = self._rows_of_epoch(epoch)
        position, passed = 0, 0  # rows of this epoch taken by this worker so far; items a resume passes over
        if self._resume is not None and self._resume[0] == epoch:
            place = self._resume[1]
            if worker < len(place["items"]):
                passed, position = place["items"][worker], place["rows"][worker]
            for _ in range(position):
                next(stream)  # the row only: its video is not read
            for _ in range(passed):
                yield {PASSED_OVER: True}
        for _ in range(mine - passed):
            skipped: list[dict[str, str]] = []
            for _ in range(self.max_consecutive_failures):
                row = next(stream)
                key = position * readers + worker
                position += 1
                try:
                    item = self._decode(row, [0, epoch, key])
                except VideoDecodeError as error:
                    name = str(row.get(self.id_column) or key) if self.id_column else str(key)
                    skipped.append({"video": name, "reason": str(error)})
                    self.num_skipped += 1
                    warnings.warn(f"skipping a streamed video that cannot be decoded: {error}", stacklevel=2)
                    continue
                if self.id_column and self.id_column in row:
                    item["video_id"] = str(row[self.id_column])
                item["skipped"], item["stream_position"] = skipped, (readers, worker, position)
                yield item
                break
            else:
                raise VideoDecodeError(
                    f"{self.max_consecutive_failures} streamed videos in a row could not be decoded (last: "
                    f"{skipped[-1]['video']}); check the data"
                )

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        """``dataset[(0, i)]`` for ``i < preview_size``: the first rows of this rank's shards, for the run's fixed
        preview batch (a stream has no other random access). A row that cannot be decoded gives way to the next one,
        as in training (the preview only watches the run: the row is not recorded as skipped)."""
        _, index = key
        if self._preview is None:
            self._preview = list(itertools.islice(iter(self.rows), self.preview_size + self.max_consecutive_failures))
        if not self._preview:
            raise VideoDecodeError("the streamed index holds no rows for this process; check --data and its filters")
        error: VideoDecodeError | None = None
        for offset in range(min(len(self._preview), self.max_consecutive_failures)):
            try:  # a short shard repeats
                return self._decode(self._preview[(index + offset) % len(self._preview)], [1, index])
            except VideoDecodeError as failed:
                error = failed
                warnings.warn(
                    f"the preview passes over a streamed video that cannot be decoded: {failed}", stacklevel=2
                )
        raise VideoDecodeError(f"none of the first streamed videos of the preview could be decoded (last: {error})")
