"""The streamed pre-training items (``--streaming``), in one process: rows from a ``datasets.IterableDataset`` of clip
paths, as ``streaming_rows`` gives one rank of a published index."""

from __future__ import annotations

import warnings

import datasets
import pytest
import torch
from torch.utils.data import DataLoader
from video_files import write_test_video

from hf_tiktokactions.data.collate import PASSED_OVER, PretrainCollator
from hf_tiktokactions.data.streaming_dataset import StreamingPretrainDataset, new_place, record_positions

SMALL = dict(num_frames=4, sampling_rate=2, input_size=32, num_sample=1, backend="pyav")
COLLATOR = dict(num_frames=4, input_size=32, patch_size=16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streamed")
    paths = []
    for i in range(4):
        paths.append(str(write_test_video(folder / f"v{i}.mp4", 12, 32, 40, fps=30, pattern="motion", seed=i)))
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    return paths, str(broken)


def _dataset(paths: list[str], num_shards: int = 1) -> StreamingPretrainDataset:
    table = datasets.Dataset.from_dict({"clip_path": paths, "video_id": [f"id{i}" for i in range(len(paths))]})
    rows = table.to_iterable_dataset(num_shards=num_shards).shuffle(seed=0, buffer_size=8)
    return StreamingPretrainDataset(rows, num_rows=len(paths), video_column="clip_path", **SMALL)


def _epoch(dataset: StreamingPretrainDataset, epoch: int, workers: int = 0) -> list[tuple[str, int]]:
    dataset.set_epoch(epoch)
    loader = DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=lambda items: items)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(item.get("video_id"), item["seed"]) for (item,) in loader]


def test_a_resumed_run_reads_the_rows_and_crops_of_its_epoch_as_the_uninterrupted_one(clips):
    """An epoch's rows and crops depend on the epoch alone: a run resumed in epoch 1 (a fresh dataset, as after a
    restart) read epoch 0's rows and keys again, so it trained on other clips than the run it continued."""
    paths, _ = clips
    uninterrupted = _dataset(paths)
    first, second = _epoch(uninterrupted, 0), _epoch(uninterrupted, 1)
    assert first != second and sorted(first) != sorted(second)  # another order, other crops
    assert _epoch(_dataset(paths), 1) == second


def test_more_loader_workers_than_shards_read_the_whole_epoch(clips):
    """One shard and two workers: datasets gives the second worker no shard, which ended the run with 'the streamed
    index holds no rows for this process'. The workers that have shards read the epoch between them."""
    paths, _ = clips
    items = _epoch(_dataset(paths), 0, workers=2)
    assert len(items) == 4 and {name for name, _ in items} == {f"id{i}" for i in range(4)}


def test_the_preview_passes_over_a_clip_that_cannot_be_decoded(clips):
    """The preview batch decoded the first rows of the stream and stopped the run on a broken one, before any step."""
    paths, broken = clips
    dataset = _dataset([broken, *paths])
    dataset.rows = datasets.Dataset.from_dict({"clip_path": [broken, *paths]}).to_iterable_dataset()  # in order
    with pytest.warns(UserWarning, match="cannot be decoded"):
        item = dataset[(0, 0)]
    assert item["pixel_values"].shape[0] == 1


def test_a_resume_passes_over_the_rows_taken_without_decoding_them(clips):
    """A resumed streamed epoch decoded every item its checkpoint had consumed again, only for skip_first_batches to
    drop them. The rows taken (an undecodable one included) are passed over unread, one placeholder an item taken,
    which collate to a batch the resume drops; the items after them are the uninterrupted epoch's."""
    paths, broken = clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uninterrupted = _dataset([broken, *paths])
        uninterrupted.set_epoch(1)
        items = list(uninterrupted)
    taken = 1 + next(i for i, item in enumerate(items) if item["skipped"])  # the broken row among the rows taken
    assert len(items) == 5 and taken < len(items)
    place = new_place()
    record_positions(place, PretrainCollator(**COLLATOR)(items[:taken])["stream_positions"])
    resumed = _dataset([broken, *paths])
    assert not resumed.resume_at(1, {**place, "readers": 2}, num_workers=0)  # read by other workers: decoded again
    assert resumed.resume_at(1, place, num_workers=0)
    resumed.set_epoch(1)
    decoded, decode = [], resumed._decode
    resumed._decode = lambda row, key: decoded.append(key) or decode(row, key)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broken row is not read again
        again = list(resumed)
    assert again[:taken] == [{PASSED_OVER: True}] * taken and len(decoded) == len(items) - taken
    assert PretrainCollator(**COLLATOR)(again[:2]) == {PASSED_OVER: 2}
    with pytest.raises(RuntimeError, match="1 items a resumed stream passed over beside 1 read ones"):
        PretrainCollator(**COLLATOR)(again[taken - 1 : taken + 1])  # a read item is never dropped with placeholders
    for old, new in zip(items[taken:], again[taken:], strict=True):
        assert (new["video_id"], new["seed"], new["stream_position"]) == (
            old["video_id"],
            old["seed"],
            old["stream_position"],
        )
        assert torch.equal(new["pixel_values"], old["pixel_values"])
