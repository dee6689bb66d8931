"""Keyed items: ``dataset[(epoch, i)]`` and its masks depend only on (seed, epoch, i), not on workers or resumes."""

import torch
from torch.utils.data import DataLoader
from video_files import write_test_video

from hf_tiktokactions.data.collate import PretrainCollator
from hf_tiktokactions.data.epoch_keys import EpochKeySampler
from hf_tiktokactions.data.pretrain_dataset import PretrainVideoDataset


def make_dataset(tmp_path, seed=0):
    paths = [write_test_video(tmp_path / f"v{i}.mp4", 24, 48, 64, pattern="motion", seed=i) for i in range(4)]
    return PretrainVideoDataset(paths, num_frames=4, sampling_rate=2, input_size=32, num_sample=2, seed=seed)


def test_a_key_gives_the_same_item_in_any_instance(tmp_path):
    first, second = make_dataset(tmp_path), make_dataset(tmp_path)
    a = first[(3, 1)]
    second[(0, 2)]  # other draws in between must not matter
    b = second[(3, 1)]
    assert torch.equal(a["pixel_values"], b["pixel_values"]) and a["seed"] == b["seed"]
    assert not torch.equal(a["pixel_values"], first[(4, 1)]["pixel_values"])
    assert "seed" not in first[1]


def test_batches_do_not_depend_on_the_number_of_workers(tmp_path):
    dataset = make_dataset(tmp_path)
    collator = PretrainCollator(num_frames=4, input_size=32, patch_size=8, mask_ratio=0.75)

    def batches(workers):
        sampler = EpochKeySampler(len(dataset), seed=5)
        sampler.set_epoch(2)
        loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=collator, num_workers=workers)
        return list(loader)

    for single, multi in zip(batches(0), batches(2), strict=True):
        for key in ("pixel_values", "bool_masked_pos", "decoder_masked_pos"):
            assert torch.equal(single[key], multi[key]), key


def test_sampler_order_follows_seed_and_epoch():
    sampler = EpochKeySampler(10, seed=1)
    first = list(sampler)
    assert sorted(i for _, i in first) == list(range(10)) and {e for e, _ in first} == {0}
    sampler.set_epoch(1)
    assert [i for _, i in sampler] != [i for _, i in first]
    assert list(EpochKeySampler(10, seed=1)) == first


def test_a_finetuning_item_draws_from_its_key_and_leaves_the_global_generators_alone(tmp_path):
    """timm and torchvision augment from the global generators: a keyed item seeds them for itself and gives them
    back as they were, so the main process's dropout and mixup draws do not depend on the items."""
    import random

    import numpy as np

    from hf_tiktokactions.data.finetune_dataset import FinetuneVideoDataset
    from hf_tiktokactions.data.transforms import FinetuneTrainTransform

    paths = [write_test_video(tmp_path / f"v{i}.mp4", 24, 48, 64, pattern="motion", seed=i) for i in range(3)]

    def dataset(seed=0):
        return FinetuneVideoDataset(
            paths, [0, 1, 2], FinetuneTrainTransform(32), num_frames=4, sampling_rate=2, seed=seed
        )

    first, second = dataset(), dataset()
    torch.manual_seed(1)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    a = first[(3, 1)]
    after = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and torch.equal(before[2], after[2])
    second[(0, 2)]
    torch.rand(5), random.random(), np.random.rand()  # other draws in between must not matter
    assert torch.equal(a["pixel_values"], second[(3, 1)]["pixel_values"])
    assert not torch.equal(a["pixel_values"], first[(4, 1)]["pixel_values"])
    assert not torch.equal(a["pixel_values"], dataset(seed=1)[(3, 1)]["pixel_values"])
