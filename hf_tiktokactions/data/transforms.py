"""Video transforms on uint8 (T, C, H, W) clips: one random draw per clip, no PIL in the pre-training path.

* ``MultiScaleCrop``: VideoMAE pre-training crop (official ``GroupMultiScaleCrop``: crop side from
  ``[1, .875, .75, .66]`` x the short side, one of 13 fixed positions, resize to ``input_size``).
* ``FinetuneTrainTransform``: the official ``_aug_frame`` order: timm RandAugment (``rand-m7-n4-mstd0.5-inc1``)
  on the whole decoded frames with the same draw for every frame, then random-resized crop (scale 0.08-1,
  ratio 3/4-4/3, bilinear without antialiasing) + horizontal flip (off for SSv2), normalise, random erasing of
  one box through the whole clip (``ClipRandomErasing``, upstream's ``cube`` mode).
* ``EvalTransform``: short-side resize, then the centre crop or one of ``num_crops`` crops along the long
  side (multi-view testing), normalise.
* ``normalize_video``: uint8 -> float, ImageNet mean/std; works on any device, so a training loop can
  also ship uint8 to the GPU and normalise there.
* ``VideoMixup``: timm Mixup/CutMix on (B, T, C, H, W) batches (one box for all frames of a clip).

Pre-training's resize is bilinear with antialiasing (what upstream's PIL resize does); fine-tuning's crop and the
test resize are bilinear without it (upstream's ``F.interpolate`` and ``cv2.resize``). Resizing runs on
channels-last memory, where torch's uint8 kernels are fastest. ``rng`` arguments are ``numpy.random.Generator``s;
timm and torchvision parts draw from the global ``random``/``numpy``/``torch`` generators, which DataLoader seeds
per worker.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize_video",
    "resize_clip",
    "multi_scale_crop_box",
    "MultiScaleCrop",
    "short_side_resize",
    "spatial_crop",
    "ClipRandAugment",
    "FinetuneTrainTransform",
    "ClipRandomErasing",
    "EvalTransform",
    "VideoMixup",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRETRAIN_SCALES = (1.0, 0.875, 0.75, 0.66)


def _channel_affine(device: torch.device, num_channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    scale = 1.0 / (255.0 * torch.tensor(IMAGENET_STD, device=device))
    bias = -torch.tensor(IMAGENET_MEAN, device=device) / torch.tensor(IMAGENET_STD, device=device)
    return scale.view(num_channels, 1, 1), bias.view(num_channels, 1, 1)


def normalize_video(video: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 (..., C, H, W) -> float32 ``(x / 255 - mean) / std`` with ImageNet statistics.

    Written into ``out`` when given, so a collator can fill a preallocated (shared-memory) batch in place.
    Convert-copy, then in-place multiply and add: three cheap passes are about 4x faster on CPU than one
    mixed-dtype ``torch.mul(uint8, float)`` or an ``addcmul``.
    """
    channels, height, width = video.shape[-3:]
    scale, bias = _channel_affine(video.device, channels)
    if out is None:
        out = torch.empty(video.shape, dtype=torch.float32, device=video.device)
    out.copy_(video)
    rows = _pixel_rows(out)
    if rows is not None:
        # channels-last memory: broadcasting a (C, 1, 1) vector over an innermost C is not vectorised,
        # one (W * C,) row pattern is (measured 1.6 ms -> 0.1 ms for a 16x224x224 clip)
        rows.mul_(scale.flatten().repeat(width)).add_(bias.flatten().repeat(width))
        return out
    return out.mul_(scale).add_(bias)


def _pixel_rows(video: torch.Tensor) -> torch.Tensor | None:
    """A (rows, W * C) view of a (..., C, H, W) tensor stored channels-last, else None."""
    memory = video.movedim(-3, -1)  # (..., H, W, C)
    if not memory.is_contiguous():
        return None
    return memory.view(-1, video.shape[-1] * video.shape[-3])


def resize_clip(video: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of a (T, C, H, W) clip to ``size`` = (height, width); keeps the dtype."""
    if tuple(video.shape[-2:]) == tuple(size):
        return video
    return F.interpolate(video, size=size, mode="bilinear", antialias=True, align_corners=False)


def multi_scale_crop_box(
    height: int,
    width: int,
    input_size: int = 224,
    scales: Sequence[float] = PRETRAIN_SCALES,
    max_distort: int = 1,
    rng: np.random.Generator | None = None,
) -> tuple[int, int, int, int]:
    """The official multi-scale crop draw: returns (top, left, crop_height, crop_width).

    Crop sides are ``int(short_side * scale)`` (snapped to ``input_size`` within 2 pixels); height and
    width scales differ by at most ``max_distort`` steps; the position is one of 13 fixed points (corners,
    centre, edge centres, quarter points).
    """
    rng = rng if rng is not None else np.random.default_rng()
    sizes = [int(min(height, width) * s) for s in scales]
    sizes = [input_size if abs(s - input_size) < 3 else s for s in sizes]
    pairs = [(sizes[i], sizes[j]) for i in range(len(sizes)) for j in range(len(sizes)) if abs(i - j) <= max_distort]
    crop_h, crop_w = pairs[int(rng.integers(len(pairs)))]
    h_step, w_step = (height - crop_h) // 4, (width - crop_w) // 4
    positions = ((0, 0), (0, 4), (4, 0), (4, 4), (2, 2), (2, 0), (2, 4), (4, 2), (0, 2), (1, 1), (1, 3), (3, 1), (3, 3))
    row, col = positions[int(rng.integers(len(positions)))]
    return row * h_step, col * w_step, crop_h, crop_w


class MultiScaleCrop:
    """Pre-training crop: uint8 (T, C, H, W) -> uint8 (T, C, input_size, input_size), one draw per clip."""

    def __init__(self, input_size: int = 224, scales: Sequence[float] = PRETRAIN_SCALES, max_distort: int = 1):
        self.input_size = input_size
        self.scales = tuple(scales)
        self.max_distort = max_distort

    def __call__(self, video: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        top, left, h, w = multi_scale_crop_box(
            video.shape[-2], video.shape[-1], self.input_size, self.scales, self.max_distort, rng
        )
        return resize_clip(video[..., top : top + h, left : left + w], (self.input_size, self.input_size))

    def __repr__(self) -> str:
        return f"MultiScaleCrop(input_size={self.input_size}, scales={self.scales}, max_distort={self.max_distort})"


def short_side_resize(video: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (T, C, H, W) so that its shorter side is ``size``, keeping the aspect ratio; dtype kept.

    The official test resize: the long side truncated (``int(size * long / short)``: 320x240 -> 298x224) and
    bilinear without antialiasing, as ``cv2.resize(INTER_LINEAR)`` in upstream's ``functional.resize_clip``
    (the crops then hold the same pixels, within 1 of 255).
    """
    height, width = video.shape[-2:]
    if height <= width:
        new = (size, max(1, int(size * width / height)))
    else:
        new = (max(1, int(size * height / width)), size)
    if (height, width) == new:
        return video
    return F.interpolate(video, size=new, mode="bilinear", antialias=False, align_corners=False)


def spatial_crop(video: torch.Tensor, size: int, index: int = 1, num_crops: int = 3) -> torch.Tensor:
    """Square ``size`` crop number ``index`` of ``num_crops`` evenly spaced along the long side.

    Upstream's test crops: start ``int(index * (long - size) / (num_crops - 1))``; one crop is upstream's
    ``CenterCrop`` (offsets ``round((side - size) / 2)``, half to even, as its validation mode crops).
    The short side must already be ``size`` for a crop to cover it (see ``short_side_resize``); any other
    size is centred on the short side.
    """
    height, width = video.shape[-2:]
    along_height = height >= width
    long_side, short_side = (height, width) if along_height else (width, height)
    if num_crops > 1:
        start = int(index * (long_side - size) / (num_crops - 1))
    else:
        start = round((long_side - size) / 2)
    across = round((short_side - size) / 2)
    if along_height:
        return video[..., start : start + size, across : across + size]
    return video[..., across : across + size, start : start + size]


def crop_at_input_size(clip: torch.Tensor, short_side: int, crop_size: int, index: int, num_crops: int) -> torch.Tensor:
    """(T, C, H, W) with short side ``short_side`` -> (T, C, crop_size, crop_size): crop ``index`` of ``num_crops``
    (``spatial_crop``); when ``short_side`` < ``crop_size``, the short side's square scaled up instead."""
    if short_side < crop_size:
        return resize_clip(spatial_crop(clip, short_side, index, num_crops), (crop_size, crop_size))
    return spatial_crop(clip, crop_size, index, num_crops)


class ClipRandAugment:
    """timm RandAugment (e.g. ``"rand-m7-n4-mstd0.5-inc1"``) with ONE draw for all frames of a clip.

    timm's operations work on PIL images and draw from the global ``random``/``numpy`` generators, so the
    same draw is replayed for every frame by restoring those generators' state before each frame.
    uint8 (T, C, H, W) in and out. Settings as the official ``create_random_augment``: ``translate_const`` from
    the crop size, bicubic resampling (``--train_interpolation bicubic``), grey (128) fill.
    """

    def __init__(self, config: str = "rand-m7-n4-mstd0.5-inc1", input_size: int = 224):
        from PIL import Image
        from timm.data.auto_augment import rand_augment_transform

        hparams = {
            "translate_const": int(input_size * 0.45),
            "img_mean": (128, 128, 128),
            "interpolation": Image.Resampling.BICUBIC,
        }
        self.config = config
        self.transform = rand_augment_transform(config, hparams)

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        frames = video.permute(0, 2, 3, 1).contiguous().numpy()  # (T, H, W, C)
        python_state, numpy_state = random.getstate(), np.random.get_state()
        out = []
        for frame in frames:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            out.append(np.asarray(self.transform(Image.fromarray(frame))))
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)

    def __repr__(self) -> str:
        return f"ClipRandAugment({self.config!r})"


class FinetuneTrainTransform:
    """Fine-tuning augmentation: uint8 (T, C, H, W) -> float (T, C, S, S), normalised.

    Order, as the official ``_aug_frame``: RandAugment (timm, one draw per clip) on the whole decoded frames,
    then random-resized crop + flip (torchvision v2: one draw per clip; bilinear without antialiasing, as
    upstream's ``F.interpolate``), normalise, random erasing (one box through the whole clip). RandAugment's
    geometric operations (translate, rotate, shear) move content by pixels of the full frame, so running it after
    the crop would change their strength and what leaves the picture.
    Upstream normalises before the crop: a per-channel affine map, which commutes with crop and resize up to rounding.
    """

    def __init__(
        self,
        input_size: int = 224,
        flip: bool = True,
        rand_augment: str | None = "rand-m7-n4-mstd0.5-inc1",
        erase_prob: float = 0.25,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (0.75, 1.3333),
    ):
        from torchvision.transforms import v2

        steps = [v2.RandomResizedCrop(input_size, scale=scale, ratio=ratio, antialias=False)]
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        self.crop_flip = v2.Compose(steps)
        self.rand_augment = ClipRandAugment(rand_augment, input_size) if rand_augment else None
        self.erase = ClipRandomErasing(erase_prob) if erase_prob > 0 else None

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        if self.rand_augment is not None:
            video = self.rand_augment(video)  # the whole frames, before the crop (official order)
        video = self.crop_flip(video)
        video = normalize_video(video)
        if self.erase is not None:
            video = self.erase(video)
        return video


class ClipRandomErasing:
    """Random erasing of a video clip as upstream fine-tunes (its ``RandomErasing`` with ``cube=True``, the default
    its ``_aug_frame`` builds): with ``probability``, ONE box (area 2 %-33 % of the frame, aspect ratio 0.3-3.3,
    up to 100 tries) is erased at the same place in every frame, each frame's box filled with its own per-pixel
    normal noise (``mode="pixel"``). timm's ``RandomErasing`` takes (T, C, H, W) for a batch of images and draws a
    box per frame, so boxes would flicker through a clip. Draws come from the global ``random`` and ``torch``
    generators, in upstream's order. float (T, C, H, W), normalised, erased in place and returned.
    """

    def __init__(self, probability: float = 0.25, min_area: float = 0.02, max_area: float = 1 / 3, min_aspect=0.3):
        self.probability = probability
        self.min_area, self.max_area = min_area, max_area
        self.log_aspect_ratio = (math.log(min_aspect), math.log(1 / min_aspect))

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        if random.random() > self.probability:
            return video
        num_frames, channels, height, width = video.shape
        for _ in range(100):
            target_area = random.uniform(self.min_area, self.max_area) * height * width
            aspect_ratio = math.exp(random.uniform(*self.log_aspect_ratio))
            box_h = int(round(math.sqrt(target_area * aspect_ratio)))
            box_w = int(round(math.sqrt(target_area / aspect_ratio)))
            if box_w < width and box_h < height:
                top, left = random.randint(0, height - box_h), random.randint(0, width - box_w)
                for frame in video:
                    noise = torch.empty((channels, box_h, box_w), dtype=video.dtype, device=video.device).normal_()
                    frame[:, top : top + box_h, left : left + box_w] = noise
                break
        return video


class EvalTransform:
    """Evaluation: short-side resize to ``short_side_size``, crop ``crop_index`` of ``num_crops``, normalise.

    uint8 (T, C, H, W) -> float (T, C, input_size, input_size). ``num_crops=1`` is the centre crop: upstream's
    validation ``Resize(short_side_size)`` + ``CenterCrop(input_size)``.
    """

    def __init__(self, input_size: int = 224, short_side_size: int = 224, num_crops: int = 1):
        self.input_size = input_size
        self.short_side_size = short_side_size
        self.num_crops = num_crops

    def __call__(self, video: torch.Tensor, crop_index: int | None = None) -> torch.Tensor:
        return normalize_video(self.crop(self.resize(video), crop_index))

    def resize(self, video: torch.Tensor) -> torch.Tensor:
        """The short-side resize alone: (T, C, H, W) -> (T, C, H', W'), dtype kept. Frame by frame, so frames
        shared by several views can be resized once."""
        return short_side_resize(video, self.short_side_size)

    def crop(self, resized: torch.Tensor, crop_index: int | None = None) -> torch.Tensor:
        """Crop ``crop_index`` of an already resized clip, at ``input_size``; dtype kept (not normalised)."""
        index = crop_index if crop_index is not None else self.num_crops // 2
        return crop_at_input_size(resized, self.short_side_size, self.input_size, index, self.num_crops)


class VideoMixup:
    """timm ``Mixup`` (mixup + cutmix, label smoothing) for (B, T, C, H, W) batches.

    timm cuts boxes from the last two dims of a (B, C, H, W) batch; folding T into C makes one box for
    all frames of a clip. Returns (mixed pixel_values, soft targets (B, num_classes)). B must be even.
    """

    def __init__(self, num_classes: int, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0, **kwargs):
        from timm.data.mixup import Mixup

        self.mixup = Mixup(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, num_classes=num_classes, **kwargs)

    def __call__(self, pixel_values: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, frames, channels, height, width = pixel_values.shape
        folded = pixel_values.reshape(batch, frames * channels, height, width)
        mixed, targets = self.mixup(folded, labels)
        return mixed.reshape(batch, frames, channels, height, width), targets
