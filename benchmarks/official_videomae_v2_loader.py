"""The official VideoMAE V2 pre-training loader path, re-implemented for comparison in benchmarks.

Reference: OpenGVLab/VideoMAEv2 ``dataset/pretrain_datasets.py`` (``HybridVideoMAE`` with
``num_segments=1``, ``DataAugmentationForVideoMAEv2``), ``dataset/transforms.py`` (``GroupMultiScaleCrop``,
``Stack``, ``ToTorchFormatTensor``, ``GroupNormalize``), ``dataset/loader.py`` (decord ``VideoReader`` with
one thread), ``dataset/masking_generator.py`` and ``utils.multiple_pretrain_samples_collate``. Written from
reading that code, not copied: it performs the same work, with the same libraries, in the same order, so
its speed stands for the official loader's:

1. open the file with decord (``num_threads=1``), take ``len``;
2. draw one dense clip start (``_sample_train_indices`` with one segment) and the frame ids
   (``get_frame_id_list``), ``get_batch(...).asnumpy()``;
3. one PIL image per frame (``Image.fromarray(...).convert("RGB")``);
4. ``num_sample`` times: multi-scale crop (scales [1, .875, .75, .66], max_distort 1, the 13 fixed
   offsets) with PIL ``crop`` + ``resize`` (bilinear) per frame; stack to (H, W, 3T) with numpy;
   to a float (3T, H, W) tensor / 255; normalise channel by channel in place; view as (C, T, H, W);
   draw a tube mask and a running-cell decoder mask with numpy;
5. collate: flatten the per-video lists, ``default_collate`` each.

Not part of the library; only ``benchmarks/loader.py`` imports it.
"""

from __future__ import annotations

import random

import decord
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, default_collate

_MEAN = [0.485, 0.456, 0.406]
_STD = [0.229, 0.224, 0.225]


def _fixed_offsets(image_w: int, image_h: int, crop_w: int, crop_h: int) -> list[tuple[int, int]]:
    """The 13 crop positions of the official ``fill_fix_offset(more_fix_crop=True, ...)``."""
    w_step, h_step = (image_w - crop_w) // 4, (image_h - crop_h) // 4
    quarters = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(qw * w_step, qh * h_step) for qw, qh in quarters]


class OfficialMultiScaleCrop:
    """``GroupMultiScaleCrop(input_size, [1, .875, .75, .66])``: one crop for all frames, PIL resize."""

    def __init__(self, input_size: int, scales=(1, 0.875, 0.75, 0.66), max_distort: int = 1):
        self.input_size = input_size
        self.scales = scales
        self.max_distort = max_distort

    def _crop_box(self, image_w: int, image_h: int) -> tuple[int, int, int, int]:
        base = min(image_w, image_h)
        sizes = [int(base * s) for s in self.scales]
        snapped = [self.input_size if abs(s - self.input_size) < 3 else s for s in sizes]
        pairs = [(w, h) for i, h in enumerate(snapped) for j, w in enumerate(snapped) if abs(i - j) <= self.max_distort]
        crop_w, crop_h = random.choice(pairs)
        off_w, off_h = random.choice(_fixed_offsets(image_w, image_h, crop_w, crop_h))
        return off_w, off_h, off_w + crop_w, off_h + crop_h

    def __call__(self, images: list[Image.Image]) -> list[Image.Image]:
        box = self._crop_box(*images[0].size)
        size = (self.input_size, self.input_size)
        return [img.crop(box).resize(size, Image.BILINEAR) for img in images]


def _tube_mask(num_temporal: int, num_spatial: int, ratio: float) -> np.ndarray:
    num_masked = int(ratio * num_spatial)
    frame = np.hstack([np.zeros(num_spatial - num_masked), np.ones(num_masked)])
    np.random.shuffle(frame)
    return np.tile(frame, (num_temporal, 1)).flatten()


class _RunningCellMasks:
    """The official decoder mask: four precomputed running-cell maps, one picked at random per call."""

    def __init__(self, num_temporal: int, grid: int, ratio: float = 0.5):
        num_masked = int(4 * ratio)
        queue = [1] * num_masked + [0] * (4 - num_masked)
        maps = []
        for phase in range(4):
            cell = queue[phase:] + queue[:phase]
            slices = []
            for _ in range(num_temporal):
                cell = cell[1:] + cell[:1]
                tile = np.array(cell, dtype=np.float64).reshape(2, 2)
                slices.append(np.tile(tile, (grid // 2, grid // 2)))
            maps.append(np.stack(slices).flatten())
        self.maps = maps

    def __call__(self) -> np.ndarray:
        return self.maps[random.randint(0, 3)]


class OfficialPretrainDataset(Dataset):
    """One item = ``num_sample`` augmented clips of one video, as lists (the official return value)."""

    def __init__(
        self,
        paths: list[str],
        num_frames: int = 16,
        sampling_rate: int = 4,
        input_size: int = 224,
        num_sample: int = 4,
        patch_size: int = 16,
        tubelet_size: int = 2,
    ):
        self.paths = list(paths)
        self.num_frames, self.sampling_rate, self.num_sample = num_frames, sampling_rate, num_sample
        self.skip_length = num_frames * sampling_rate
        self.crop = OfficialMultiScaleCrop(input_size)
        self.num_temporal = num_frames // tubelet_size
        self.grid = input_size // patch_size
        self.decoder_masks = _RunningCellMasks(self.num_temporal, self.grid, 0.5)

    def __len__(self) -> int:
        return len(self.paths)

    def _frame_ids(self, length: int) -> list[int]:
        # _sample_train_indices(num_segments=1) then get_frame_id_list, 1-based offsets as upstream
        average = length - self.skip_length + 1
        offset = np.random.randint(average) + 1 if average > 0 else 1
        ids = []
        for _ in range(0, self.skip_length, self.sampling_rate):
            ids.append(offset - 1)
            if offset + self.sampling_rate < length:
                offset += self.sampling_rate
        return ids

    def _augment(self, images: list[Image.Image]) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        cropped = self.crop(images)
        stacked = np.concatenate(cropped, axis=2)  # (H, W, 3T)
        tensor = torch.from_numpy(stacked).permute(2, 0, 1).contiguous().float().div(255.0)
        for channel, mean, std in zip(tensor, _MEAN * self.num_frames, _STD * self.num_frames):
            channel.sub_(mean).div_(std)
        clip = tensor.view((self.num_frames, 3) + tensor.shape[-2:]).transpose(0, 1)  # (C, T, H, W)
        encoder_mask = _tube_mask(self.num_temporal, self.grid * self.grid, 0.9)
        return clip, encoder_mask, self.decoder_masks()

    def __getitem__(self, index: int):
        reader = decord.VideoReader(self.paths[index], num_threads=1, ctx=decord.cpu(0))
        frame_ids = self._frame_ids(len(reader))
        frames = reader.get_batch(frame_ids).asnumpy()
        images = [Image.fromarray(frames[i]).convert("RGB") for i in range(len(frame_ids))]
        clips, encoder_masks, decoder_masks = [], [], []
        for _ in range(self.num_sample):
            clip, encoder_mask, decoder_mask = self._augment(images)
            clips.append(clip)
            encoder_masks.append(encoder_mask)
            decoder_masks.append(decoder_mask)
        return clips, encoder_masks, decoder_masks


def official_collate(batch):
    """``multiple_pretrain_samples_collate``: flatten the per-video lists, ``default_collate`` each."""
    clips, encoder_masks, decoder_masks = zip(*batch)
    flat = lambda nested: [item for items in nested for item in items]  # noqa: E731
    return default_collate(flat(clips)), default_collate(flat(encoder_masks)), default_collate(flat(decoder_masks))
