"""Mask generators against the official VideoMAE V2 algorithms (re-implemented here in numpy, loop by loop)."""

import numpy as np
import pytest
import torch

from hf_tiktokactions.modeling.masking import decoder_mask, draw_masks, kept_token_counts, running_cell_mask, tube_mask


def official_running_cell_maps(frames: int, height: int, width: int, ratio: float) -> np.ndarray:
    """The four maps of the official RunningCellMaskingGenerator: (4, frames, height * width), 1 = masked."""
    num_masked = int(4 * ratio)
    queue = np.hstack([np.ones(num_masked), np.zeros(4 - num_masked)])
    maps = []
    for pointer in range(4):
        per_frame = []
        for _ in range(frames):
            pointer += 1  # Cell.run_cell() before Cell.get_cell()
            unit = queue[(np.arange(4) + pointer) % 4].reshape(2, 2)
            per_frame.append(np.tile(unit, [height // 2, width // 2]).flatten())
        maps.append(np.stack(per_frame))
    return np.stack(maps)


def test_tube_mask_masks_the_same_positions_in_every_frame(generator):
    mask = tube_mask(3, 8, 196, 0.9, generator).view(3, 8, 196)
    assert mask.dtype == torch.bool
    assert (mask.sum(-1) == 176).all()  # int(0.9 * 196), as the official TubeMaskingGenerator
    assert (mask == mask[:, :1]).all()
    assert not torch.equal(mask[0, 0], mask[1, 0])


def test_tube_mask_is_seeded():
    first = tube_mask(2, 2, 49, 0.75, torch.Generator().manual_seed(5))
    second = tube_mask(2, 2, 49, 0.75, torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_running_cell_reproduces_the_official_maps(ratio):
    official = torch.from_numpy(official_running_cell_maps(8, 14, 14, ratio)).bool().flatten(1)
    mask = running_cell_mask(64, 8, 14, 14, ratio, torch.Generator().manual_seed(0))
    matches = (mask[:, None, :] == official[None]).all(-1)  # (64, 4)
    assert (matches.sum(1) == 1).all(), "every sample must be exactly one of the official phases"
    assert set(matches.int().argmax(1).tolist()) == {0, 1, 2, 3}, "all four phases must occur"
    assert (mask.view(64, 8, 196).sum(-1) == int(4 * ratio) * 49).all()


def test_running_cell_rejects_odd_grid_and_bad_ratio():
    with pytest.raises(ValueError, match="even patch grid"):
        running_cell_mask(1, 8, 7, 7, 0.5)
    with pytest.raises(ValueError, match="mask_ratio"):
        running_cell_mask(1, 8, 14, 14, 0.1)


def test_decoder_ratio_zero_decodes_exactly_the_encoder_masked_tokens(generator):
    encoder = tube_mask(2, 8, 196, 0.9, generator)
    assert torch.equal(decoder_mask(encoder, 8, 14, 14, 0.0), ~encoder)


def test_draw_masks_shapes(generator):
    encoder, decoder = draw_masks(4, 8, 14, 14, 0.9, 0.5, generator)
    assert encoder.shape == decoder.shape == (4, 8 * 196)
    assert ((~decoder).sum(1) == 8 * 98).all()


@pytest.mark.parametrize(
    "grid, ratio, decoder_ratio",
    [
        ((8, 14, 14), 0.9, 0.5),
        ((8, 14, 14), 0.9, 0.0),
        ((2, 4, 4), 0.75, 0.25),
        ((20, 16, 16), 0.9, 0.75),
        ((1, 2, 2), 0.0, 0.5),
    ],
)
def test_kept_token_counts_equal_the_drawn_masks(generator, grid, ratio, decoder_ratio):
    encoder, decoder = draw_masks(3, *grid, ratio, decoder_ratio, generator)
    assert kept_token_counts(*grid, ratio, decoder_ratio) == ((~encoder).sum(1)[0], (~decoder).sum(1)[0])
