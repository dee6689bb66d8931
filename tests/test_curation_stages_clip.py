"""Clip rule, the one-pass candidate buffer, frame sampling and the clip writer."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hf_tiktokactions.curation.stages.clip_selection import CandidateFrames, ClipRule, centre_window, choose_clip
from hf_tiktokactions.curation.stages.clip_writer import ClipEncoding, clip_size, write_clip
from hf_tiktokactions.curation.stages.probe import count_frames
from hf_tiktokactions.curation.stages.sampling import evenly_spaced_indices
from hf_tiktokactions.curation.stages.scenes import Scene
from hf_tiktokactions.errors import VideoRejected

FPS = 30.0


def _times(n, fps=FPS):
    return [i / fps for i in range(n)]


def test_centre_window_of_a_long_scene_and_whole_short_scene():
    assert centre_window(Scene(100, 700), 300) == (250, 550)
    assert centre_window(Scene(10, 200), 300) == (10, 200)


def test_choose_clip_rejects_scenes_under_min_seconds_and_caps_at_max_seconds():
    with pytest.raises(VideoRejected, match="too short: the longest scene lasts 3.00 s < 3.5 s"):
        choose_clip(Scene(0, 90), (0, 90), _times(90), FPS, ClipRule())
    span = choose_clip(Scene(0, 105), (0, 105), _times(105), FPS, ClipRule())
    assert (span.start, span.end, span.num_frames) == (0.0, 3.5, 105)
    span = choose_clip(Scene(0, 600), centre_window(Scene(0, 600), 300), _times(600), FPS, ClipRule())
    assert (span.start_frame, span.end_frame, span.start, span.end) == (150, 450, 5.0, 15.0)


def test_a_scene_of_exactly_min_seconds_passes_wherever_it_starts():
    """105 frames at 30 fps are 3.5 s; frame times are floats from the stream's pts (time base 1/15360, as PyAV and
    FFmpeg write 30 fps MP4), so their difference can come out a hair under 3.5 (frames 18..123: 3.4999999999999996)."""
    times = [i * 512 / 15360 for i in range(200)]
    for start in range(0, 95):
        span = choose_clip(Scene(start, start + 105), (start, start + 105), times, FPS, ClipRule())
        assert span.num_frames == 105
    with pytest.raises(VideoRejected, match="3.47 s < 3.5 s"):
        choose_clip(Scene(18, 122), (18, 122), times, FPS, ClipRule())


def test_choose_clip_trims_a_variable_frame_rate_window_to_max_seconds():
    times = [i / 10 for i in range(150)]  # 10 fps content in a stream that declares 30 fps
    span = choose_clip(Scene(0, 150), (0, 150), times, FPS, ClipRule(3.5, 10.0))
    assert span.end - span.start <= 10.0 and span.end > 9.9


def _feed(candidates, num_frames, cuts):
    for index in range(num_frames):
        candidates.add(index)  # the frame "is" its index
        if index in cuts:
            candidates.cut(index)
    candidates.finish()


def test_candidate_buffer_keeps_exactly_the_window_of_the_longest_scene():
    candidates = CandidateFrames(max_clip_frames=30, max_buffered_frames=1000, cut_lag_frames=5)
    # the cut is reported 3 frames late, as PySceneDetect's flash filter may do
    frames = []
    for index in range(200):
        candidates.add(index)
        frames.append(len(candidates._open))
        if index == 83:
            candidates.cut(80)
    candidates.finish()
    assert candidates.best == Scene(80, 200)
    assert candidates.window == (125, 155)
    assert candidates.window_frames == list(range(125, 155))
    assert max(frames) < 80  # never the whole video in memory


def test_candidate_buffer_memory_cap_asks_for_a_second_read():
    candidates = CandidateFrames(max_clip_frames=30, max_buffered_frames=40, cut_lag_frames=5)
    _feed(candidates, 500, cuts=set())
    assert candidates.window == (235, 265)
    assert candidates.window_frames is None


def test_candidate_buffer_ties_keep_the_earliest_scene():
    candidates = CandidateFrames(max_clip_frames=300, max_buffered_frames=1000, cut_lag_frames=0)
    _feed(candidates, 200, cuts={100})
    assert candidates.best == Scene(0, 100)
    assert candidates.window_frames == list(range(100))


def test_evenly_spaced_indices():
    assert evenly_spaced_indices(300, 10) == [0, 33, 66, 100, 133, 166, 199, 233, 266, 299]
    assert evenly_spaced_indices(5, 10) == [0, 1, 2, 3, 4]
    assert evenly_spaced_indices(0, 10) == []


def test_clip_size_short_side_even_never_upscaled():
    assert clip_size(720, 1280, 320) == (320, 568)
    assert clip_size(1920, 1080, 320) == (568, 320)
    assert clip_size(160, 120, 320) == (160, 120)


def test_write_clip_is_h264_with_short_gop_and_keeps_timestamps(tmp_path):
    frames = [
        av.VideoFrame.from_ndarray(np.full((64, 96, 3), i * 3, np.uint8), format="rgb24").reformat(format="yuv420p")
        for i in range(50)
    ]
    times = [0.5 + i / 25 for i in range(50)]
    target = tmp_path / "clips" / "x.mp4"
    write_clip(frames, times, 25.0, target, ClipEncoding(gop=8))
    assert [p.name for p in target.parent.iterdir()] == ["x.mp4"]  # the temporary file was renamed
    assert count_frames(target) == 50
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        packets = [p for p in container.demux(stream) if p.size]
        keyframes = [i for i, p in enumerate(sorted(packets, key=lambda p: p.pts)) if p.is_keyframe]
        assert keyframes[0] == 0 and max(np.diff(keyframes)) <= 8
    with av.open(str(target)) as container:
        times_read = [frame.time for frame in container.decode(video=0)]
    assert times_read == pytest.approx([t - 0.5 for t in times], abs=1e-3)  # rebased to 0, spacing kept


def test_write_clip_leaves_nothing_when_encoding_fails(tmp_path):
    frame = av.VideoFrame.from_ndarray(np.zeros((64, 96, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
    with pytest.raises(av.error.FFmpegError):  # x264 rejects the preset
        write_clip([frame], [0.0], 25.0, tmp_path / "y.mp4", ClipEncoding(preset="no-such-preset"))
    assert list(tmp_path.iterdir()) == []
