"""Frame samplers: dense clips, TSN segments, multi-view test views, short videos as upstream handles them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_tiktokactions.data.sampling import dense_clip_indices, multiview_clips, multiview_indices, segment_indices

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_dense_clip_is_strided_and_inside_the_video():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        indices = dense_clip_indices(300, 16, 4, rng)
        assert np.all(np.diff(indices) == 4) and indices[0] >= 0 and indices[-1] < 300
        starts.add(int(indices[0]))
    assert min(starts) <= 10 and max(starts) >= 225  # the start is uniform over [0, 300 - 64]
    assert list(dense_clip_indices(300, 16, 4)) == list(range(118, 182, 4))  # no rng: centred


def test_dense_clip_on_a_video_exactly_one_span_long():
    assert list(dense_clip_indices(64, 16, 4, np.random.default_rng(1))) == list(range(0, 64, 4))


@pytest.mark.parametrize("length", [1, 2, 5, 10, 33, 63])
def test_short_video_clamps_like_the_official_pretraining_loader(length):
    from official_videomae_v2_loader import OfficialPretrainDataset

    official = OfficialPretrainDataset([], num_frames=16, sampling_rate=4)._frame_ids(length)
    assert list(dense_clip_indices(length, 16, 4, np.random.default_rng(0))) == official


def test_short_video_can_loop_instead():
    assert list(dense_clip_indices(10, 6, 4, short_video="loop")) == [0, 4, 8, 2, 6, 0]
    with pytest.raises(ValueError, match="clamp"):
        dense_clip_indices(10, 6, 4, short_video="bounce")


def test_segments_take_one_frame_per_segment():
    rng = np.random.default_rng(0)
    for _ in range(50):
        indices = segment_indices(100, 16, rng)
        assert np.all(indices // 6 == np.arange(16))  # segment length 100 // 16 = 6
    assert list(segment_indices(100, 16)) == [3 + 6 * i for i in range(16)]  # evaluation: the middle


def test_segments_of_a_short_video_pad_with_the_first_frame():
    assert list(segment_indices(5, 8)) == [0, 0, 0, 0, 1, 2, 3, 4]
    assert list(segment_indices(1, 4, np.random.default_rng(0))) == [0, 0, 0, 0]


def test_multiview_clips_cover_the_video_evenly():
    first, last = multiview_indices(300, 0, 5), multiview_indices(300, 4, 5)
    assert first[0] == 0 and last[-1] == 296 and np.all(np.diff(first) == 4)
    views = multiview_clips(300, num_views=5, num_crops=3)
    assert len(views) == 15 and {(v.temporal, v.spatial) for v in views} == {(t, s) for t in range(5) for s in range(3)}
    assert multiview_indices(300, 0, 1)[0] == (75 - 16) // 2 * 4  # one view: the centred window


def test_test_view_of_a_short_video_pads_with_the_last_frame():
    assert list(multiview_indices(30, 2, 5)) == [0, 4, 8, 12, 16, 20, 24, 28] + [28] * 8


def test_segment_based_multiview_clips_shift_within_segments():
    views = [multiview_indices(160, v, 2, num_frames=16, segment_based=True) for v in range(2)]
    assert list(views[0]) == list(range(0, 160, 10)) and list(views[1]) == list(range(5, 160, 10))


def test_one_segment_based_test_view_is_upstreams_test_mode():
    # upstream test mode (RawFrameClsDataset.load_frame): frame int(tick * x + tick * v / views), tick = 42 / 4;
    # one view takes the first frame of each segment, not the validation clip's middle one
    assert list(multiview_indices(42, 0, 1, num_frames=4, segment_based=True)) == [0, 10, 21, 31]
    assert list(segment_indices(42, 4)) == [5, 15, 25, 35]  # validation mode: the middle of 42 // 4 = 10 frames
    assert [list(multiview_indices(42, v, 2, num_frames=4, segment_based=True)) for v in range(2)] == [
        [0, 10, 21, 31],
        [5, 15, 26, 36],
    ]


def _upstream_ssv2_test_views(num_video_frames: int, num_segment: int, test_num_segment: int) -> list[list[int]]:
    """RawFrameClsDataset's test mode as written upstream: every view's frames sorted together, then view ``t``
    is every ``test_num_segment``-th of them from ``t``."""
    tick = num_video_frames / float(num_segment)
    every = sorted(
        int(t_seg * tick / test_num_segment + tick * x) for t_seg in range(test_num_segment) for x in range(num_segment)
    )
    return [every[t::test_num_segment] for t in range(test_num_segment)]


def test_segment_based_test_views_equal_upstreams_for_every_length():
    for num_video_frames in range(16, 200):
        for views in (1, 2, 3):
            ours = [list(multiview_indices(num_video_frames, v, views, 16, segment_based=True)) for v in range(views)]
            assert ours == _upstream_ssv2_test_views(num_video_frames, 16, views), (num_video_frames, views)


def test_the_single_clip_is_the_official_validation_clip():
    """What fine-tuning scores between epochs and a served model sees: upstream's validation mode."""
    from hf_tiktokactions.data.sampling import finetune_clip_indices
    from hf_tiktokactions.data.views import plan_views

    (view,), crops = plan_views(300, 16, 4)
    official = [118, 122, 126, 130, 135, 139, 143, 147, 152, 156, 160, 164, 169, 173, 177, 181]
    assert crops == 1 and view.indices.tolist() == official
    for frames in range(1, 200):
        (view,), _ = plan_views(frames, 16, 4)
        assert view.indices.tolist() == finetune_clip_indices(frames, 16, 4).tolist()
        (view,), _ = plan_views(frames, 8, 1, segment_based=True)
        assert view.indices.tolist() == segment_indices(frames, 8).tolist()


def test_one_crop_is_upstreams_center_crop():
    """video_transforms.CenterCrop: offsets int(round((side - size) / 2.)), Python's round (half to even)."""
    from hf_tiktokactions.data.transforms import spatial_crop

    for height, width in ((224, 299), (224, 297), (224, 298), (301, 224), (230, 299)):
        video = torch.arange(height * width).view(1, 1, height, width)
        crop = spatial_crop(video, 224, 0, 1)
        top, left = int(round((height - 224) / 2.0)), int(round((width - 224) / 2.0))
        assert crop.shape[-2:] == (224, 224) and int(crop[0, 0, 0, 0]) == top * width + left, (height, width)


def test_a_video_without_frames_is_rejected():
    with pytest.raises(ValueError, match="at least one frame"):
        dense_clip_indices(0)


def test_finetuning_clips_are_the_official_ones():
    """VideoClsDataset.load_video's clips as the official code returns them (recorded from it, 16 x 4): indices
    spread by np.linspace over the span, so the steps are 4, 4, 4, 5; a short video spread over its length."""
    from hf_tiktokactions.data.sampling import finetune_clip_indices

    official_validation = {
        300: [118, 122, 126, 130, 135, 139, 143, 147, 152, 156, 160, 164, 169, 173, 177, 181],
        64: [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63],
        40: [0, 4, 8, 13, 17, 22, 26, 31, 35, 39, 39, 39, 39, 39, 39, 39],
    }
    for frames, expected in official_validation.items():
        assert finetune_clip_indices(frames, 16, 4).tolist() == expected
    pattern = np.asarray(official_validation[64])
    starts = set()
    for seed in range(200):  # training: the end drawn from [64, 300), the same spread behind it
        clip = finetune_clip_indices(300, 16, 4, np.random.default_rng(seed))
        assert (clip - clip[0]).tolist() == pattern.tolist() and 0 <= clip[0] and clip[-1] < 300
        starts.add(int(clip[0]))
    assert min(starts) < 20 and max(starts) > 210  # the whole video is reachable
