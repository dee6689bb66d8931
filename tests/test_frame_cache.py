"""``decoded_cache_bytes``: the datasets read a video's frames from memory after its first decode, with the same
pixels (so training and evaluation give the same numbers), within the byte budget, and never across processes."""

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_tiktokactions.data.finetune_dataset import FinetuneVideoDataset, MultiViewVideoDataset
from hf_tiktokactions.data.frame_cache import DecodedVideoCache
from hf_tiktokactions.data.pretrain_dataset import PretrainVideoDataset
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.data.transforms import FinetuneTrainTransform

FRAME_BYTES = 48 * 48 * 3


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[str]:
    """7 real H.264 clips, 48x48, 16 frames."""
    folder = make_synthetic_actions(
        tmp_path_factory.mktemp("cache"), clips_per_class=1, size=48, num_frames=16, val_fraction=0.0,
        test_fraction=0.0, progress=False,
    )  # fmt: skip
    return sorted(str(p) for p in Path(folder).rglob("*.mp4"))


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_cached_reads_are_the_decoded_frames(videos, backend):
    cache = DecodedVideoCache(10 * 2**20)
    wanted = [5, 1, 1, 15, 0]
    for video in videos:
        with cache.open(video, "pyav") as reader:  # decoded here and kept: every frame
            first = reader.read(wanted)
        with cache.open(video, backend) as reader:  # from memory
            assert reader.backend == "cache" and reader.num_frames == 16 and reader.info.height == 48
            again = reader.read(wanted)
        assert torch.equal(first, again) and again.stride() == first.stride()  # same pixels, channels-last
    assert cache.bytes == len(videos) * 16 * FRAME_BYTES
    with pytest.raises(IndexError, match="clap_0000.mp4: frame indices must be in"):  # the same error
        with cache.open(videos[0]) as reader:
            reader.read([16])


def test_the_budget_bounds_what_is_kept_and_workers_start_empty(videos):
    cache = DecodedVideoCache(2 * 16 * FRAME_BYTES)  # room for two videos
    for video in videos:
        cache.open(video).close()
    assert cache.bytes == 2 * 16 * FRAME_BYTES
    assert cache.open(videos[0]).backend == "cache" and cache.open(videos[-1]).backend != "cache"
    sent = pickle.loads(pickle.dumps(cache))  # what a DataLoader worker receives
    assert sent.bytes == 0 and sent.max_bytes == cache.max_bytes
    sent.open(videos[0]).close()
    assert sent.bytes == 16 * FRAME_BYTES  # decoded again in the worker, kept there
    assert DecodedVideoCache(0).open(videos[0]).backend != "cache"


def test_the_datasets_give_the_same_items_with_a_cache(videos):
    def pretrain_items(cache_bytes: int) -> list[torch.Tensor]:
        dataset = PretrainVideoDataset(
            videos, num_frames=4, sampling_rate=2, input_size=32, num_sample=2, decoded_cache_bytes=cache_bytes
        )
        return [dataset[(epoch, i)]["pixel_values"] for epoch in range(2) for i in range(len(videos))]

    for cached, plain in zip(pretrain_items(2**24), pretrain_items(0), strict=True):
        assert torch.equal(cached, plain)

    def finetune_items(cache_bytes: int) -> list[torch.Tensor]:
        transform = FinetuneTrainTransform(32, scale=(0.5, 1.0))
        dataset = FinetuneVideoDataset(
            videos, [0] * len(videos), transform, num_frames=4, sampling_rate=2, decoded_cache_bytes=cache_bytes
        )
        random.seed(0), np.random.seed(0), torch.manual_seed(0)  # RandAugment and erasing draw from all three
        return [dataset[i % len(videos)]["pixel_values"] for i in range(2 * len(videos))]

    for cached, plain in zip(finetune_items(2**24), finetune_items(0), strict=True):
        assert torch.equal(cached, plain)

    def views(cache_bytes: int) -> list[torch.Tensor]:
        dataset = MultiViewVideoDataset(
            videos, [0] * len(videos), num_frames=4, sampling_rate=2, num_segments=2, num_crops=3, input_size=32,
            short_side_size=32, normalize=False, decoded_cache_bytes=cache_bytes,
        )  # fmt: skip
        return [dataset[i % len(videos)]["pixel_values"] for i in range(2 * len(videos))]

    cached_views, plain_views = views(2**24), views(0)
    assert all(torch.equal(a, b) for a, b in zip(cached_views, plain_views, strict=True))
    assert np.mean([v.float().std().item() for v in plain_views]) > 1  # real pictures, not blank frames


def test_a_clip_embedded_in_a_dataset_is_kept_by_its_bytes(videos):
    """A dataset row read again gives a new ``bytes`` object holding the same clip: it is served from memory."""
    cache = DecodedVideoCache(10 * 2**20)
    clip = Path(videos[0]).read_bytes()
    with cache.open(clip, "pyav") as reader:
        first = reader.read([0, 3, 15])
    row_read_again = bytes(bytearray(clip))
    assert row_read_again is not clip
    with cache.open(row_read_again, "pyav") as reader:
        assert reader.backend == "cache" and reader.name == "<bytes video>"
        assert torch.equal(reader.read([0, 3, 15]), first)
    assert cache.bytes == 16 * FRAME_BYTES + len(clip)  # the clip's bytes count against the budget too
