"""Pre-training dataset + collator: sources, repeated augmentation, masks, bad videos, DataLoader workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader
from video_files import write_test_video

from hf_tiktokactions.data import PretrainCollator, PretrainVideoDataset
from hf_tiktokactions.data.pretrain_dataset import video_paths
from hf_tiktokactions.errors import VideoDecodeError

SMALL = dict(num_frames=4, sampling_rate=2, input_size=32, num_sample=3)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrain")
    for i in range(4):
        path = folder / "nested" / f"clip{i}.mp4"
        write_test_video(path, 24 + 6 * i, 48, 64, fps=30, pattern="motion", noise=2.0, seed=i)
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def broken_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    return path


def _collator(**overrides) -> PretrainCollator:
    return PretrainCollator(num_frames=4, tubelet_size=2, input_size=32, patch_size=16, **overrides)


def test_folder_list_and_datasets_sources(video_folder):
    from datasets import Dataset

    from_folder = PretrainVideoDataset(video_folder, **SMALL)
    assert len(from_folder) == 4 and all(v.endswith(".mp4") for v in from_folder.videos)
    from_list = PretrainVideoDataset(from_folder.videos[:2], **SMALL)
    from_index = PretrainVideoDataset(Dataset.from_dict({"path": from_folder.videos}), video_column="path", **SMALL)
    assert len(from_list) == 2 and from_index.videos == from_folder.videos
    item = from_index[1]
    assert item["pixel_values"].shape == (3, 4, 3, 32, 32) and item["pixel_values"].dtype == torch.uint8
    assert item["skipped"] == []


def test_an_empty_source_fails_clearly(tmp_path):
    with pytest.raises(VideoDecodeError, match="no videos"):
        PretrainVideoDataset(tmp_path, **SMALL)
    with pytest.raises(VideoDecodeError, match="no such folder"):
        PretrainVideoDataset(tmp_path / "missing", **SMALL)


def test_repeated_augmentation_crops_one_decoded_clip_differently(video_folder):
    dataset = PretrainVideoDataset(video_folder, **{**SMALL, "num_sample": 6})
    clips = dataset[0]["pixel_values"]
    assert len({clips[i].numpy().tobytes() for i in range(6)}) > 1


def test_collator_flattens_samples_normalises_and_masks(video_folder):
    dataset = PretrainVideoDataset(video_folder, **SMALL)
    batch = _collator()([dataset[0], dataset[1]])
    pixel_values = batch["pixel_values"]
    assert pixel_values.shape == (6, 4, 3, 32, 32) and pixel_values.dtype == torch.float32
    assert -2.2 < float(pixel_values.min()) and float(pixel_values.max()) < 2.7
    tokens = (4 // 2) * 2 * 2
    assert batch["bool_masked_pos"].shape == batch["decoder_masked_pos"].shape == (6, tokens)
    assert batch["bool_masked_pos"].dtype == torch.bool
    assert int(batch["bool_masked_pos"][0].sum()) == 2 * int(0.9 * 4)  # tube: 3 of 4 positions per slice
    assert int(batch["decoder_masked_pos"][0].sum()) == tokens // 2  # running cell 0.5
    assert batch["skipped_videos"] == []
    planar = _collator(channels_last=False)([dataset[0]])["pixel_values"]
    assert planar.is_contiguous()
    raw = _collator(normalize=False)([dataset[0]])["pixel_values"]
    assert raw.dtype == torch.uint8


def test_collator_rejects_clips_of_another_size(video_folder):
    dataset = PretrainVideoDataset(video_folder, **{**SMALL, "input_size": 48})
    with pytest.raises(ValueError, match="expects 4 frames of 32x32"):
        _collator()([dataset[0]])


def test_a_bad_video_is_skipped_counted_and_replaced(video_folder, broken_video):
    good = PretrainVideoDataset(video_folder, **SMALL).videos
    dataset = PretrainVideoDataset([str(broken_video)] + good, **SMALL)
    with pytest.warns(UserWarning, match="broken.mp4"):
        item = dataset[0]
    assert [entry["video"] for entry in item["skipped"]] == [str(broken_video)]
    assert "broken.mp4" in item["skipped"][0]["reason"] and item["pixel_values"].shape[0] == 3
    assert dataset.num_skipped == 1
    assert _collator()([item, dataset[1]])["skipped_videos"] == item["skipped"]


def test_a_bad_embedded_clip_is_named_by_its_stored_file_name(video_folder):
    """Embedded clips are bytes: two broken ones of the same size were both named '<13 bytes>'."""
    from datasets import Dataset, Video

    good = Path(PretrainVideoDataset(video_folder, **SMALL).videos[0])
    clips = [{"bytes": b"not a video A", "path": "7001.mp4"}, {"bytes": good.read_bytes(), "path": good.name}]
    clips.append({"bytes": b"not a video B", "path": "7002.mp4"})
    index = Dataset.from_dict({"clip": clips}).cast_column("clip", Video(decode=False))
    dataset = PretrainVideoDataset(video_paths(index, "clip"), **SMALL)
    with pytest.warns(UserWarning):
        named = [entry["video"] for key in (0, 2) for entry in dataset[key]["skipped"]]
    assert named[0] == "7001.mp4 (embedded, 13 bytes)" and "7002.mp4 (embedded, 13 bytes)" in named


def test_only_bad_videos_end_the_epoch_with_a_clear_error(broken_video):
    dataset = PretrainVideoDataset([str(broken_video)] * 3, max_consecutive_failures=5, **SMALL)
    with pytest.warns(UserWarning), pytest.raises(VideoDecodeError, match="5 videos in a row"):
        dataset[0]


def _batches(dataset, seed: int) -> list[dict]:
    torch.manual_seed(seed)
    loader = DataLoader(dataset, batch_size=1, num_workers=2, collate_fn=_collator())
    return list(loader)


def test_dataloader_workers_seed_differently_and_reproducibly(video_folder, broken_video):
    first_video = PretrainVideoDataset(video_folder, **SMALL).videos[0]
    one_video = PretrainVideoDataset([first_video] * 4, **SMALL)
    first = _batches(one_video, seed=0)
    assert len(first) == 4
    # items 0 and 1 are the first draws of worker 0 and worker 1: same video, different crops
    assert not torch.equal(first[0]["pixel_values"], first[1]["pixel_values"])
    assert not torch.equal(first[0]["bool_masked_pos"], first[1]["bool_masked_pos"])
    again = _batches(one_video, seed=0)
    assert all(torch.equal(a["pixel_values"], b["pixel_values"]) for a, b in zip(first, again))
    with_bad = PretrainVideoDataset([str(broken_video)] + one_video.videos[:3], **SMALL)
    batches = _batches(with_bad, seed=1)  # the worker warns in its own process
    assert sum(len(b["skipped_videos"]) for b in batches) == 1 and len(batches) == 4


def test_a_datasets_video_feature_column_is_read_by_path(video_folder):
    from datasets import Dataset, Video

    paths = PretrainVideoDataset(video_folder, **SMALL).videos
    index = Dataset.from_dict({"video": paths}).cast_column("video", Video())
    dataset = PretrainVideoDataset(index, **SMALL)
    assert list(dataset.videos) == paths and dataset[0]["pixel_values"].shape == (3, 4, 3, 32, 32)


def test_embedded_video_bytes_come_before_the_path(video_folder):
    """A dataset pushed with its clips keeps only the file name as ``path``: the bytes must be read (the path first
    failed on every video)."""
    from datasets import Dataset, Video

    path = Path(PretrainVideoDataset(video_folder, **SMALL).videos[0])
    embedded = [{"bytes": path.read_bytes(), "path": path.name}]
    dataset = PretrainVideoDataset(
        Dataset.from_dict({"clip": embedded}).cast_column("clip", Video()), video_column="clip", **SMALL
    )
    assert dataset.videos[0] == path.read_bytes() and dataset[0]["pixel_values"].shape == (3, 4, 3, 32, 32)
