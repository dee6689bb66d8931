"""uint8 video transforms: one random draw per clip, official crop geometry, normalisation, timm parts."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hf_tiktokactions.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipRandAugment,
    ClipRandomErasing,
    EvalTransform,
    FinetuneTrainTransform,
    MultiScaleCrop,
    VideoMixup,
    multi_scale_crop_box,
    normalize_video,
    short_side_resize,
    spatial_crop,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def _textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """uint8 (3, H, W): smooth gradients plus detail, so crops and resizes are distinguishable."""
    y = torch.linspace(0, 1, height)[:, None]
    x = torch.linspace(0, 1, width)[None, :]
    g = torch.Generator().manual_seed(seed)
    ones = torch.ones(height, width)
    image = torch.stack([255 * x * ones, 255 * y * ones, 128 + 60 * torch.sin(20 * x * y)])
    return (image + 10 * torch.rand(image.shape, generator=g)).clamp(0, 255).to(torch.uint8)


def _repeated_clip(frames: int = 8, height: int = 120, width: int = 160) -> torch.Tensor:
    """uint8 (T, C, H, W) of identical frames, in channels-last memory as decoders return them."""
    frame = _textured(height, width)
    return frame.expand(frames, -1, -1, -1).contiguous(memory_format=torch.channels_last)


def _all_frames_equal(clip: torch.Tensor) -> bool:
    return all(torch.equal(clip[0], frame) for frame in clip[1:])


def test_multi_scale_crop_boxes_follow_the_official_grid():
    from official_videomae_v2_loader import _fixed_offsets

    rng = np.random.default_rng(0)
    height, width = 320, 568
    allowed_sides = {224 if abs(int(320 * s) - 224) < 3 else int(320 * s) for s in (1, 0.875, 0.75, 0.66)}
    seen_sides = set()
    for _ in range(400):
        top, left, h, w = multi_scale_crop_box(height, width, 224, rng=rng)
        assert h in allowed_sides and w in allowed_sides
        sides = sorted(allowed_sides, reverse=True)
        assert abs(sides.index(h) - sides.index(w)) <= 1  # max_distort 1
        assert (left, top) in _fixed_offsets(width, height, w, h)
        seen_sides.add((h, w))
    assert len(seen_sides) == 10  # 4 squares + 2 x 3 neighbours


def test_multi_scale_crop_is_one_draw_for_the_whole_clip():
    out = MultiScaleCrop(64)(_repeated_clip(), np.random.default_rng(3))
    assert out.shape == (8, 3, 64, 64) and out.dtype == torch.uint8
    assert _all_frames_equal(out)


def test_uint8_resize_matches_pil_bilinear():
    from official_videomae_v2_loader import OfficialMultiScaleCrop

    frame = _textured(120, 160)
    box = (10, 20, 10 + 96, 20 + 96)  # left, top, right, bottom
    pil = np.asarray(Image.fromarray(frame.permute(1, 2, 0).numpy()).crop(box).resize((64, 64), Image.BILINEAR))
    clip = frame[None].contiguous(memory_format=torch.channels_last)
    crop = MultiScaleCrop(64)
    ours = (
        torch.nn.functional.interpolate(
            clip[..., 20:116, 10:106], size=(64, 64), mode="bilinear", antialias=True, align_corners=False
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    assert np.abs(ours.astype(int) - pil.astype(int)).mean() < 1.0
    assert OfficialMultiScaleCrop(64).input_size == crop.input_size


def test_normalize_matches_the_formula_in_both_layouts():
    clip = torch.randint(0, 256, (2, 4, 3, 8, 10), dtype=torch.uint8)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    expected = (clip.float() / 255 - mean) / std
    channels_last = clip.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    for layout in (clip, channels_last):
        out = normalize_video(layout)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, expected)


def test_short_side_resize_and_three_crops_along_the_long_side():
    clip = torch.zeros(2, 3, 100, 200, dtype=torch.uint8)
    resized = short_side_resize(clip, 50)
    assert resized.shape[-2:] == (50, 100)
    marked = torch.arange(100, dtype=torch.uint8).expand(2, 3, 50, 100)
    lefts = [int(spatial_crop(marked, 50, i, 3)[0, 0, 0, 0]) for i in range(3)]
    assert lefts == [0, 25, 50]
    assert int(spatial_crop(marked, 50, 0, 1)[0, 0, 0, 0]) == 25  # one crop: the centre
    tall = torch.arange(100, dtype=torch.uint8)[:, None].expand(2, 3, 100, 50)
    assert [int(spatial_crop(tall, 50, i, 3)[0, 0, 0, 0]) for i in range(3)] == [0, 25, 50]


def test_eval_transform_outputs_normalised_square_clips():
    out = EvalTransform(input_size=32, short_side_size=32, num_crops=3)(_repeated_clip(4, 60, 80), crop_index=2)
    assert out.shape == (4, 3, 32, 32) and out.dtype == torch.float32
    assert _all_frames_equal(out)


def test_finetune_transform_draws_once_per_clip():
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    transform = FinetuneTrainTransform(input_size=48, erase_prob=0.0)
    for _ in range(5):
        out = transform(_repeated_clip(4))
        assert out.shape == (4, 3, 48, 48) and out.dtype == torch.float32
        assert _all_frames_equal(out)


def test_finetune_without_flip_keeps_left_and_right():
    left_bright = torch.zeros(4, 3, 64, 64, dtype=torch.uint8)
    left_bright[..., :32] = 255
    transform = FinetuneTrainTransform(input_size=32, flip=False, rand_augment=None, erase_prob=0.0, scale=(0.9, 1.0))
    for _ in range(10):
        out = transform(left_bright)
        assert out[..., :4].mean() > out[..., -4:].mean()


def test_rand_augment_acts_on_the_whole_frames_before_the_crop():
    """The official ``_aug_frame`` order: RandAugment on the decoded frames, then the random-resized crop.

    One operation, always drawn: a horizontal shift by the full ``translate_const`` (0.45 x 32 = 14 pixels). The
    crop takes the whole 64-wide frame (scale 1, its own aspect ratio) and halves it to 32: a shift made before
    the crop moves the line 7 output pixels, one made after it 14."""
    from timm.data.auto_augment import rand_augment_transform

    random.seed(0)
    np.random.seed(0)
    transform = FinetuneTrainTransform(input_size=32, flip=False, erase_prob=0.0, scale=(1.0, 1.0), ratio=(2.0, 2.0))
    transform.rand_augment.transform = rand_augment_transform(
        "rand-n1-m10-mstd0-p1.0", {"translate_const": 14}, transforms=["TranslateX"]
    )
    frames = torch.zeros(2, 3, 32, 64, dtype=torch.uint8)
    frames[..., 30:34] = 255  # a vertical line in the middle: centre 31.5, i.e. 15.75 after the crop's resize
    for _ in range(8):
        profile = transform(frames)[:, 0].mean(dim=(0, 1))  # (32,) brightness across the output
        shift = abs(float(profile.argmax()) + 0.5 - 15.75)  # pixel centre minus the unshifted line's centre
        assert 6 <= shift <= 8, shift  # after the crop it would be 13 to 15


def test_rand_augment_applies_the_same_ops_to_every_frame():
    random.seed(1)
    np.random.seed(1)
    augment = ClipRandAugment("rand-m9-n3-mstd0.5-inc1", input_size=64)
    changed = 0
    for _ in range(4):
        clip = _repeated_clip(4, 64, 64)
        out = augment(clip)
        assert out.shape == clip.shape and out.dtype == torch.uint8 and _all_frames_equal(out)
        changed += not torch.equal(out, clip)
    assert changed  # it does augment
    # the official create_random_augment's settings: bicubic (--train_interpolation), grey fill, 0.45 x crop size
    assert {(op.kwargs["resample"], op.kwargs["fillcolor"]) for op in augment.transform.ops} == {
        (Image.Resampling.BICUBIC, (128, 128, 128))
    }
    assert {op.hparams["translate_const"] for op in augment.transform.ops} == {28}


def test_mixup_uses_one_box_for_all_frames():
    torch.manual_seed(0)
    np.random.seed(0)
    mixup = VideoMixup(num_classes=5, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0)
    pixel_values = torch.stack([torch.zeros(4, 3, 16, 16), torch.ones(4, 3, 16, 16)])  # (B=2, T, C, H, W)
    mixed, targets = mixup(pixel_values.clone(), torch.tensor([0, 3]))
    assert mixed.shape == pixel_values.shape and targets.shape == (2, 5)
    assert all(torch.equal(mixed[0, 0], mixed[0, t]) for t in range(4))
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(2))


def test_random_erasing_erases_one_box_through_the_whole_clip():
    """Upstream's RandomErasing(cube=True): one draw per clip, the same box in every frame, each frame's box its
    own noise. timm's erases (T, C, H, W) frame by frame: boxes at other places, frames erased or not."""
    random.seed(0)
    torch.manual_seed(0)
    erase = ClipRandomErasing(probability=1.0)
    for _ in range(20):
        clip = torch.full((8, 3, 40, 56), 5.0)  # normalised values never reach 5; the noise is N(0, 1)
        changed = erase(clip.clone()) != 5.0  # (T, C, H, W)
        box = changed[0, 0]
        rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
        assert box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a rectangle
        assert 0.02 * 40 * 56 * 0.9 <= box.sum() <= 40 * 56 / 3 * 1.1
        assert all(torch.equal(changed[t, c], box) for t in range(8) for c in range(3))
    noisy = erase(torch.full((2, 3, 40, 56), 5.0))
    assert not torch.equal(noisy[0], noisy[1])  # the same place, not the same pixels


def test_random_erasing_erases_a_quarter_of_the_clips():
    random.seed(1)
    torch.manual_seed(1)
    transform = FinetuneTrainTransform(input_size=16, rand_augment=None, flip=False, erase_prob=0.25)
    clip = torch.full((4, 3, 16, 16), 128, dtype=torch.uint8)
    clean = normalize_video(clip[:, :, :16, :16])
    erased = [not torch.equal(transform(clip), clean) for _ in range(400)]
    assert 70 <= sum(erased) <= 130  # binomial(400, 0.25): mean 100, sd 8.7; per frame it would be ~ 274


def test_the_training_crop_resizes_without_antialiasing():
    """Upstream's random_resized_crop resizes with F.interpolate(bilinear, align_corners=False), no antialiasing:
    the whole frame (scale 1 at its own aspect ratio) halved must equal that, not an antialiased average."""
    frames = torch.stack([_textured(48, 64, seed) for seed in range(2)])  # uint8 (T, 3, 48, 64)
    transform = FinetuneTrainTransform(
        input_size=24, flip=False, rand_augment=None, erase_prob=0.0, scale=(1.0, 1.0), ratio=(64 / 48, 64 / 48)
    )
    ours = transform(frames)
    theirs = normalize_video(frames).float()
    theirs = torch.nn.functional.interpolate(theirs, size=(24, 24), mode="bilinear", align_corners=False)
    levels = (ours - theirs).abs() * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255  # in uint8 levels
    assert levels.max() <= 1.01


@pytest.mark.parametrize("height, width", [(240, 320), (256, 340), (320, 240), (256, 456)])
def test_the_test_resize_is_upstreams(height, width):
    """Upstream's test resize (functional.resize_clip): the long side truncated, cv2.resize with INTER_LINEAR (no
    antialiasing). Rounding and antialiasing moved UCF101's 320x240 frames by up to 25 of 255 in every crop."""
    cv2 = pytest.importorskip("cv2")
    frames = np.random.default_rng(0).integers(0, 256, (2, height, width, 3), dtype=np.uint8)
    new_h, new_w = (224, int(224 * width / height)) if height <= width else (int(224 * height / width), 224)
    theirs = np.stack([cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR) for frame in frames])
    ours = short_side_resize(torch.from_numpy(frames).permute(0, 3, 1, 2), 224).permute(0, 2, 3, 1)
    assert tuple(ours.shape[1:3]) == (new_h, new_w)
    assert (ours.int() - torch.from_numpy(theirs).int()).abs().max() <= 1


def test_a_short_side_above_the_input_size_is_cropped_at_the_input_size_as_upstream_validates():
    """Upstream's validation is Resize(short_side) then CenterCrop(input_size), as the exported processor: the crop
    was the short side's square squeezed to the input size, another picture. Test crops are spread the same way."""
    from hf_tiktokactions.data.sampling import MultiView
    from hf_tiktokactions.data.views import view_clips

    resized = torch.randint(0, 256, (2, 3, 40, 60), dtype=torch.uint8)  # already short-side resized to 40
    centre = EvalTransform(input_size=32, short_side_size=40, num_crops=1).crop(resized)
    assert torch.equal(centre, resized[..., 4:36, 14:46])  # offsets round((40 - 32) / 2), round((60 - 32) / 2)
    crops = [EvalTransform(input_size=32, short_side_size=40, num_crops=3).crop(resized, i) for i in range(3)]
    assert all(torch.equal(crop, resized[..., 4:36, left : left + 32]) for crop, left in zip(crops, (0, 14, 28)))
    views = [MultiView(0, spatial, np.array([0, 1])) for spatial in range(3)]
    clips = view_clips(resized, np.array([0, 1]), views, 3, short_side=40, crop_size=32)
    assert all(torch.equal(clip, crop) for clip, crop in zip(clips, crops))
    smaller = EvalTransform(input_size=48, short_side_size=40, num_crops=1).crop(resized)
    assert smaller.shape == (2, 3, 48, 48)  # a short side below the input size: its square, scaled up
