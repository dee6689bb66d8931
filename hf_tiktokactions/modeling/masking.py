"""Mask generators of VideoMAE V2 pre-training, as vectorised torch functions.

Token order everywhere is (t, h, w): token ``n = (t * grid_h + h) * grid_w + w``, which is the order of
``Conv3d(...).flatten(2)`` on a (B, C, T, H, W) clip. ``T`` here counts temporal *patches*
(``num_frames // tubelet_size``). All masks are bool (B, N) with True = masked:

* the encoder mask (``bool_masked_pos``): True = hidden from the encoder;
* the decoder mask (``decoder_masked_pos``, the official ``decode_masked_pos``): True = not reconstructed.

Every sample of a batch masks the same number of tokens, so the model can gather tokens by index with
static shapes.
"""

from __future__ import annotations

import torch

__all__ = ["tube_mask", "running_cell_mask", "decoder_mask", "draw_masks", "num_visible_tokens", "kept_token_counts"]


def _rand(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else "cpu"
    return torch.rand(shape, generator=generator, device=device)


def tube_mask(
    batch_size: int,
    num_temporal: int,
    num_spatial: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Tube masking: one random spatial pattern per sample, repeated over every temporal slice.

    ``int(mask_ratio * num_spatial)`` positions are masked per slice (0.9 of 196 -> 176), as in the
    official ``TubeMaskingGenerator``.

    Returns:
        bool (B, num_temporal * num_spatial), True = masked.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    num_masked = int(mask_ratio * num_spatial)
    noise = _rand((batch_size, num_spatial), generator)
    rank = noise.argsort(dim=1).argsort(dim=1)  # rank of each position in a random permutation
    frame_mask = rank < num_masked  # (B, num_spatial)
    return frame_mask.repeat(1, num_temporal)


def running_cell_mask(
    batch_size: int,
    num_temporal: int,
    grid_h: int,
    grid_w: int,
    mask_ratio: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Running-cell masking of the VideoMAE V2 decoder.

    Each 2x2 cell of the patch grid reads a queue ``[1] * m + [0] * (4 - m)`` (m = ``int(4 * ratio)``,
    1 = masked) from a pointer; the pointer advances by one per temporal slice, starting one after a
    random phase in [0, 4) drawn per sample. This reproduces the four maps that the official
    ``RunningCellMaskingGenerator`` precomputes and picks from.

    Returns:
        bool (B, num_temporal * grid_h * grid_w), True = not reconstructed by the decoder.
    """
    num_masked = int(4 * mask_ratio)
    if not 0 < num_masked < 4:
        raise ValueError(f"running-cell mask_ratio must give 1 to 3 masked of 4 cell positions, got {mask_ratio}")
    if grid_h % 2 or grid_w % 2:
        raise ValueError(f"running-cell masking needs an even patch grid, got {grid_h}x{grid_w}")
    queue = torch.arange(4) < num_masked  # (4,) [1, .., 0, ..]
    phase = (_rand((batch_size,), generator) * 4).long().clamp_(max=3).cpu()  # (B,)
    step = torch.arange(num_temporal) + 1  # the official cell runs once before the first slice is read
    cell_index = (torch.arange(4)[None, None, :] + phase[:, None, None] + step[None, :, None]) % 4
    cell = queue[cell_index].view(batch_size, num_temporal, 2, 2)  # (B, T, 2, 2)
    rows = torch.arange(grid_h) % 2
    cols = torch.arange(grid_w) % 2
    mask = cell[:, :, rows[:, None], cols[None, :]]  # (B, T, grid_h, grid_w)
    return mask.reshape(batch_size, -1)


def decoder_mask(
    encoder_mask: torch.Tensor,
    num_temporal: int,
    grid_h: int,
    grid_w: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The decoder mask for a given encoder mask (B, N).

    ``mask_ratio == 0`` is VideoMAE V1: the decoder reconstructs every encoder-masked token, so its mask
    is the complement of the encoder mask. Otherwise the running-cell mask, independent of the encoder
    mask (encoder-visible tokens may be decoded too; they do not count in the loss).
    """
    if mask_ratio == 0:
        return ~encoder_mask
    mask = running_cell_mask(encoder_mask.shape[0], num_temporal, grid_h, grid_w, mask_ratio, generator)
    return mask.to(encoder_mask.device)


def draw_masks(
    batch_size: int,
    num_temporal: int,
    grid_h: int,
    grid_w: int,
    mask_ratio: float = 0.9,
    decoder_mask_ratio: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (encoder_mask, decoder_mask), both bool (B, num_temporal * grid_h * grid_w), True = masked."""
    encoder = tube_mask(batch_size, num_temporal, grid_h * grid_w, mask_ratio, generator)
    decoder = decoder_mask(encoder, num_temporal, grid_h, grid_w, decoder_mask_ratio, generator)
    return encoder.cpu(), decoder.cpu()


def num_visible_tokens(mask: torch.Tensor) -> int:
    """Number of unmasked tokens per sample of a bool (B, N) mask; raises if samples disagree."""
    counts = (~mask).sum(dim=1)
    if counts.numel() and not bool((counts == counts[0]).all()):
        raise ValueError(f"every sample must mask the same number of tokens, got visible counts {counts.tolist()}")
    return int(counts[0]) if counts.numel() else 0


def kept_token_counts(
    num_temporal: int, grid_h: int, grid_w: int, mask_ratio: float, decoder_mask_ratio: float
) -> tuple[int, int]:
    """(encoder-visible, decoder-kept) tokens per sample of masks drawn with these ratios.

    Plain arithmetic on the grid and the ratios (the rules of ``tube_mask``, ``running_cell_mask`` and
    ``decoder_mask``), so the model can size its gathers without reading a mask back from the device and
    without tracing anything under ``torch.compile``.
    """
    num_spatial = grid_h * grid_w
    visible = num_temporal * (num_spatial - int(mask_ratio * num_spatial))
    if decoder_mask_ratio == 0:
        return visible, num_temporal * num_spatial - visible
    return visible, num_temporal * num_spatial * (4 - int(4 * decoder_mask_ratio)) // 4
