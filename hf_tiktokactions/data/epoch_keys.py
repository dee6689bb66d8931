"""Training items keyed by (epoch, index): every random draw of an item comes from (seed, epoch, index) alone.

An item's clip and augmentations then do not depend on which DataLoader worker builds it, on how many workers
there are, or on where a run resumed. ``EpochKeySampler`` yields the keys; a dataset that takes them either
draws from a generator it seeds with the key (``PretrainVideoDataset``) or, where the draws happen inside
libraries that use the global generators (timm, torchvision: ``FinetuneVideoDataset``), builds the item inside
``seeded_global_generators``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["EpochKeySampler", "seeded_global_generators"]


class EpochKeySampler(Sampler):
    """Yields ``(epoch, index)`` keys in an order shuffled by (seed, epoch), the same on every rank, so a
    distributed loader can shard the batches and a dataset can seed each item.

    ``per_epoch`` keys are yielded an epoch (default: all ``size``): the first ones of the epoch's order, so the
    others are left out of that epoch only. Call ``set_epoch`` (or the prepared DataLoader's ``set_epoch``) before
    each epoch.
    """

    def __init__(self, size: int, seed: int = 0, per_epoch: int | None = None) -> None:
        if per_epoch is not None and not 0 < per_epoch <= size:
            raise ValueError(f"per_epoch must be in 1..{size}, got {per_epoch}")
        self.size, self.seed, self.epoch = size, seed, 0
        self.per_epoch = size if per_epoch is None else per_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)[: self.per_epoch]
        return iter([(self.epoch, int(i)) for i in order])


@contextmanager
def seeded_global_generators(seed: int, epoch: int, index: int) -> Iterator[None]:
    """Python's ``random``, numpy's global generator and torch's CPU generator, seeded from (seed, epoch, index)
    for the body and given back their states after it (also when it raises).

    The states are restored, not left seeded: in the main process (no loader workers) the same generators drive
    dropout, drop path and mixup, whose draws must not depend on the items. CUDA generators are not touched.
    """
    words = np.random.SeedSequence([seed, epoch, index]).generate_state(4, dtype=np.uint32)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(int.from_bytes(words.tobytes(), "little"))
        np.random.seed(words)
        torch.default_generator.manual_seed(int(words[0]) << 32 | int(words[1]))
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
