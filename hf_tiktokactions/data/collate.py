"""Batch pre-training items: normalised ``pixel_values`` plus the VideoMAE V2 dual masks.

An item from ``PretrainVideoDataset`` holds ``num_sample`` uint8 clips of one video; the collator flattens
them, so a batch of B videos gives ``B * num_sample`` rows:

* ``pixel_values``: float32 (B * num_sample, T, C, H, W), ImageNet mean/std (or uint8 with
  ``normalize=False``, for a loop that normalises on the GPU with ``normalize_video``). By default it is a
  view of channels-last memory (B, T, H, W, C), the layout decoders and torch's fast uint8 resize produce:
  re-laying out channels on the CPU costs more than the normalisation itself, while ``.contiguous()`` on
  the GPU is nearly free. ``channels_last=False`` gives a planar (contiguous) tensor;
* ``bool_masked_pos``: bool (B * num_sample, N), tube mask, True = hidden from the encoder;
* ``decoder_masked_pos``: bool (B * num_sample, N), running-cell mask, True = not reconstructed;
* ``skipped_videos``: ``[{"video": name, "reason": why}]``, videos the dataset could not decode and replaced while
  building this batch;
* ``video_ids`` and ``stream_positions``: for streamed items, the rows they come from and where their worker is in
  the stream (``streaming_dataset.py``).

Placeholders a resumed stream yields for the items it passes over (``{PASSED_OVER: True}``) collate to
``{PASSED_OVER: number of items}``, which the resume drops.

N = (T / tubelet_size) * (input_size / patch_size)^2. Masks come from ``hf_tiktokactions.modeling.masking``
and draw from the torch global generator (seeded per DataLoader worker) unless a generator is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import get_worker_info

from hf_tiktokactions.data.transforms import normalize_video
from hf_tiktokactions.modeling.masking import draw_masks

__all__ = ["PASSED_OVER", "PretrainCollator"]

PASSED_OVER = "passed_over"


def _batch_tensor(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An empty tensor; in a DataLoader worker, in shared memory, so handing it over copies nothing."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    numel = 1
    for size in shape:
        numel *= size
    prototype = torch.empty(0, dtype=dtype)
    storage = prototype._typed_storage()._new_shared(numel, device=prototype.device)
    return prototype.new(storage).view(shape)


@dataclass
class PretrainCollator:
    """``collate_fn`` for ``PretrainVideoDataset`` items (dicts with uint8 ``pixel_values``)."""

    num_frames: int = 16
    tubelet_size: int = 2
    input_size: int = 224
    patch_size: int = 16
    mask_ratio: float = 0.9
    decoder_mask_ratio: float = 0.5
    normalize: bool = True
    channels_last: bool = True
    generator: torch.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.num_frames % self.tubelet_size or self.input_size % self.patch_size:
            raise ValueError(
                f"num_frames ({self.num_frames}) must divide by tubelet_size ({self.tubelet_size}) and "
                f"input_size ({self.input_size}) by patch_size ({self.patch_size})"
            )

    def _draw_masks(self, rows: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        grid = self.input_size // self.patch_size
        return draw_masks(
            rows,
            self.num_frames // self.tubelet_size,
            grid,
            grid,
            mask_ratio=self.mask_ratio,
            decoder_mask_ratio=self.decoder_mask_ratio,
            generator=generator,
        )

    def _masks(self, items: Sequence[dict[str, Any]], rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, N) encoder and decoder masks. From the given generator, or the global one; but for keyed items
        (``dataset[(epoch, i)]``) each video's masks come from a generator seeded by the item, so they do not
        depend on workers, resumes, or the batch the video lands in (batch size, processes, accumulation)."""
        if self.generator is not None or "seed" not in items[0]:
            return self._draw_masks(rows, self.generator)
        per_video = [
            self._draw_masks(len(item["pixel_values"]), torch.Generator().manual_seed(item["seed"])) for item in items
        ]
        return torch.cat([e for e, _ in per_video]), torch.cat([d for _, d in per_video])

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        passed_over = sum(PASSED_OVER in item for item in items)
        if passed_over:
            if passed_over < len(items):  # a resumed stream batched otherwise than its checkpoint's run
                raise RuntimeError(
                    f"a batch holds {passed_over} items a resumed stream passed over beside "
                    f"{len(items) - passed_over} read ones; its batches are out of step with the checkpoint's run"
                )
            return {PASSED_OVER: passed_over}
        clips = [clip for item in items for clip in item["pixel_values"]]  # each uint8 (T, C, H, W)
        shape = (len(clips), *clips[0].shape)
        if shape[1] != self.num_frames or shape[-1] != self.input_size or shape[-2] != self.input_size:
            raise ValueError(
                f"clips are {tuple(shape[1:])}, the collator expects {self.num_frames} frames of "
                f"{self.input_size}x{self.input_size}; build both from the same config"
            )
        dtype = torch.float32 if self.normalize else torch.uint8
        if self.channels_last:  # memory (B, T, H, W, C), the layout the clips arrive in: no channel shuffle
            batch, frames, channels, height, width = shape
            pixel_values = _batch_tensor((batch, frames, height, width, channels), dtype).permute(0, 1, 4, 2, 3)
        else:
            pixel_values = _batch_tensor(shape, dtype)
        for row, clip in zip(pixel_values, clips):
            if self.normalize:
                normalize_video(clip, out=row)
            else:
                row.copy_(clip)
        encoder_mask, decoder_mask = self._masks(items, len(clips))
        batch = {
            "pixel_values": pixel_values,
            "bool_masked_pos": encoder_mask,
            "decoder_masked_pos": decoder_mask,
            "skipped_videos": [entry for item in items for entry in item.get("skipped", ())],
        }
        if "video_id" in items[0]:  # a streamed item names its row (the loop records it: workers' reads included)
            batch["video_ids"] = [item["video_id"] for item in items]
        if "stream_position" in items[0]:
            batch["stream_positions"] = [item["stream_position"] for item in items]
        return batch
