"""The budget check of untrusted videos, on real H.264 files written with PyAV.

The launched-server side (the 10000x10000 and 600 fps uploads, server memory) is in ``test_space_app.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from curation_files import corrupt_copy
from video_files import (
    frame_index_of,
    frames_as_a_player_shows,
    trim_by_stream_copy,
    with_another_video_track,
    write_flat_h264,
    write_sorenson_of_width_zero,
    write_test_video,
    xvid_or_transport_stream,
)

from hf_tiktokactions.data.decoding import read_frames
from hf_tiktokactions.data.transforms import short_side_resize
from hf_tiktokactions.data.video_budget import VideoBudget, decode_within, probe_within
from hf_tiktokactions.errors import BudgetExceeded, VideoDecodeError


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """10 s, 300 frames of 96x128 at 30 fps; x264's default keyframe interval puts keyframes at 0, 250."""
    return write_test_video(tmp_path_factory.mktemp("budget") / "clip.mp4", 300, 96, 128, fps=30, pattern="motion")


def test_probe_reads_the_real_frame_count_fps_and_duration(video: Path) -> None:
    probed = probe_within(video, VideoBudget())
    assert (probed.num_frames, probed.height, probed.width) == (300, 96, 128)
    assert probed.fps == pytest.approx(30.0) and probed.duration == pytest.approx(10.0)
    assert probed.keyframe_pts[0] == probed.pts[0] and len(probed.keyframe_pts) >= 2
    assert probe_within(video, VideoBudget(max_frames=300, max_seconds=10, max_fps=30)).num_frames == 300  # at limits


@pytest.mark.parametrize(
    "budget, limit, message",
    [
        (VideoBudget(max_pixels=100 * 100), "MAX_VIDEO_PIXELS", "The video is 128x96 pixels, more than the 10000"),
        (VideoBudget(max_aspect_ratio=1.2), "MAX_ASPECT_RATIO", "an aspect ratio beyond the 1.2:1 allowed"),
        (VideoBudget(max_fps=24), "MAX_VIDEO_FPS", "The video has 30 frames a second, more than the 24 allowed"),
        (VideoBudget(max_frames=100), "MAX_VIDEO_FRAMES", "more than the 100 frames allowed"),
        (VideoBudget(max_seconds=5), "MAX_VIDEO_SECONDS", "The video is 10 s long, longer than the 5 s allowed"),
    ],
)
def test_each_limit_refuses_before_decoding_and_names_itself(video: Path, budget, limit: str, message: str) -> None:
    with pytest.raises(BudgetExceeded, match=message) as error:
        probe_within(video, budget)
    assert error.value.limit == limit and f"({limit}=" in str(error.value)


def test_decoding_matches_the_plain_reader_and_stays_within_the_decode_budget(video: Path) -> None:
    probed = probe_within(video, VideoBudget())
    wanted = [0, 1, 120, 240, 251, 299]  # crosses the keyframe at 250: a seek, not a decode through
    frames = decode_within(probed, wanted, VideoBudget(max_decoded_frames=300), short_side=64, num_threads=2)
    expected = short_side_resize(read_frames(video, wanted, backend="decord"), 64)
    assert frames.shape == (6, 3, 64, 85) and torch.equal(frames, expected)

    with pytest.raises(BudgetExceeded, match=r"decoding more than 100 frames \(MAX_DECODED_FRAMES=100\)"):
        decode_within(probed, [0, 200], VideoBudget(max_decoded_frames=100))
    frames = decode_within(probed, [251, 260], VideoBudget(max_decoded_frames=20))  # from the keyframe at 250
    assert frames.shape == (2, 3, 96, 128)


@pytest.mark.parametrize("name", ["xvid.avi", "mpeg4.mp4"])
def test_each_frame_of_an_mpeg4_part2_file_with_b_frames_decodes_alone(tmp_path: Path, name: str) -> None:
    # the Space's reader: seeking to a wanted frame's own timestamp lands on the keyframe decoded ahead of it
    path = write_test_video(tmp_path / name, 40, 48, 64, fps=25, codec="mpeg4", b_frames=2)
    probed = probe_within(path, VideoBudget())
    assert probed.num_frames == 40 and len(probed.keyframe_pts) >= 3  # more than one group of pictures
    budget = VideoBudget(max_decoded_frames=40)
    assert [frame_index_of(decode_within(probed, [index], budget)[0]) for index in range(40)] == list(range(40))


@pytest.mark.parametrize("kind", ["xvid-packed-b-frames.avi", "mpeg-ts.ts"])
def test_each_frame_of_an_xvid_avi_or_a_transport_stream_decodes_as_a_player_shows_it(tmp_path: Path, kind) -> None:
    # an Xvid AVI's packets carry no usable timestamps (frames are counted); a transport stream seeks by decode time
    path = xvid_or_transport_stream(tmp_path, kind)
    shown = frames_as_a_player_shows(path)
    probed = probe_within(path, VideoBudget())
    assert probed.num_frames == len(shown) >= 36
    decoded = [frame_index_of(decode_within(probed, [index], VideoBudget())[0]) for index in range(len(shown))]
    assert decoded == shown


@pytest.mark.parametrize(
    "name, codec, b_frames",
    [
        ("sorenson.flv", "flv", None),
        ("h264.flv", "libx264", 2),
        ("mpeg1.mpg", "mpeg1video", 0),
        ("mpeg2.mpg", "mpeg2video", 2),
    ],
)
def test_each_frame_of_an_flv_or_mpeg_ps_file_decodes_as_a_player_shows_it(
    tmp_path: Path, name, codec, b_frames
) -> None:
    # FFmpeg finds these formats' streams only while opening them (PyAV refuses stream options for them); an MPEG-PS
    # packet holds several of these small frames, and a seek would shift the timestamps of the frames after it
    path = write_test_video(tmp_path / name, 60, 96, 128, fps=25, codec=codec, b_frames=b_frames)
    shown = frames_as_a_player_shows(path)
    probed = probe_within(path, VideoBudget())
    assert (probed.num_frames, probed.height, probed.width) == (60, 96, 128) and shown == list(range(60))
    assert probed.fps == pytest.approx(25.0) and probed.duration == pytest.approx(2.4)
    decoded = [frame_index_of(decode_within(probed, [index], VideoBudget())[0]) for index in range(60)]
    assert decoded == shown
    with pytest.raises(BudgetExceeded, match=r"more than the 10000 pixels a frame allowed \(MAX_VIDEO_PIXELS=10000\)"):
        probe_within(path, VideoBudget(max_pixels=100 * 100))
    corrupt = corrupt_copy(path, tmp_path / f"corrupt-{name}")  # its first 4 KB overwritten
    with pytest.raises(VideoDecodeError, match="cannot decode this file: it is truncated, corrupt or not a video"):
        decode_within(probe_within(corrupt, VideoBudget()), [0], VideoBudget())


def test_an_flv_frame_with_a_damaged_header_is_not_called_too_large(tmp_path: Path) -> None:
    """FFmpeg refuses a Sorenson frame that declares a width of 0 with EINVAL, as its max_pixels refuses a large one:
    this 200x120 file was refused as "more than the 8294400 pixels a frame allowed. Downscale it"."""
    import av.logging

    path = write_sorenson_of_width_zero(tmp_path / "damaged.flv")
    level = av.logging.get_level()
    with pytest.raises(VideoDecodeError, match=r"no frame size \(corrupt header\)"):
        probe_within(path, VideoBudget())
    assert av.logging.get_level() == level  # PyAV's process-wide log level is put back


def _memory(field: str) -> int:
    """Bytes of ``field`` in /proc/self/status (Linux): ``VmRSS``, resident memory, or ``VmHWM``, its high-water
    mark since the last reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def test_an_flv_of_huge_frames_is_refused_before_ffmpeg_decodes_one(tmp_path: Path) -> None:
    """FFmpeg decodes an FLV's first frames while opening it, without the decoder's pixel limit: opened as is, this
    4096x4096 one took 77 MiB more memory than refusing it does."""
    path = write_flat_h264(tmp_path / "huge.flv", 4096, 8, 25)
    probe_within(write_test_video(tmp_path / "small.flv", 4, 48, 64), VideoBudget())  # PyAV's first open
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    idle = _memory("VmRSS")
    with pytest.raises(BudgetExceeded, match="The video is 4096x4096 pixels, more than the 8294400 pixels") as error:
        probe_within(path, VideoBudget())
    assert error.value.limit == "MAX_VIDEO_PIXELS"
    assert _memory("VmHWM") - idle < 4096 * 4096 * 3 // 2  # less than one decoded frame


def test_a_video_trimmed_by_stream_copy_decodes_the_frames_a_player_shows(tmp_path: Path) -> None:
    source = write_test_video(tmp_path / "source.mp4", 90, 48, 64, fps=30)
    path = trim_by_stream_copy(source, tmp_path / "trimmed.mp4", 1.1)
    if path is None:
        pytest.skip("needs the ffmpeg command")
    probed = probe_within(path, VideoBudget())
    assert probed.num_frames == 57
    decoded = [frame_index_of(decode_within(probed, [index], VideoBudget())[0]) for index in range(57)]
    assert decoded == list(range(33, 90))


def test_a_thumbnail_track_before_the_video_is_not_the_video(tmp_path: Path) -> None:
    """The Space probed a camera's one-frame thumbnail track before an MP4's video (its default video track) and
    refused the file as a single image."""
    source = write_test_video(tmp_path / "source.mp4", 40, 48, 64)
    probed = probe_within(with_another_video_track(source, tmp_path / "camera.mp4"), VideoBudget())
    assert (probed.num_frames, probed.height, probed.width) == (40, 48, 64)
    assert [frame_index_of(frame) for frame in decode_within(probed, [0, 39], VideoBudget())] == [0, 39]


def test_a_passed_deadline_stops_decoding(video: Path) -> None:
    probed = probe_within(video, VideoBudget())
    with pytest.raises(BudgetExceeded, match=r"longer than the 60 s allowed \(REQUEST_TIMEOUT_SECONDS=60\)"):
        decode_within(probed, [10], VideoBudget(), deadline=time.monotonic() - 1)


def test_a_frame_above_the_pixel_budget_is_refused_by_the_probe(tmp_path: Path) -> None:
    """Memory of the 10000x10000 case is measured on the launched server (test_space_app.py)."""
    path = write_test_video(tmp_path / "wide.mp4", 2, 2000, 4000, pattern="solid")  # 8 Mpx
    with pytest.raises(BudgetExceeded, match="4000x2000 pixels, more than the 1000000 pixels") as error:
        probe_within(path, VideoBudget(max_pixels=1_000_000))
    assert error.value.limit == "MAX_VIDEO_PIXELS"


def test_a_frame_right_at_the_pixel_budget_decodes(tmp_path: Path) -> None:
    """FFmpeg pads the width to its SIMD stride when it counts pixels; 136 is not a multiple of 64."""
    path = write_test_video(tmp_path / "edge.mp4", 8, 96, 136, pattern="solid")
    budget = VideoBudget(max_pixels=96 * 136)
    assert decode_within(probe_within(path, budget), [0, 7], budget).shape == (2, 3, 96, 136)
    with pytest.raises(BudgetExceeded, match="MAX_VIDEO_PIXELS"):
        probe_within(path, VideoBudget(max_pixels=96 * 136 - 1))


def test_broken_files_and_bad_settings_get_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video\n")
    with pytest.raises(VideoDecodeError, match="notes.mp4: cannot decode this file"):
        probe_within(tmp_path / "notes.mp4", VideoBudget())
    with pytest.raises(ValueError, match="MAX_VIDEO_FPS='fast' is not a number"):
        VideoBudget.from_env({"MAX_VIDEO_FPS": "fast"})
    with pytest.raises(ValueError, match="MAX_VIDEO_FRAMES='0' must be a positive, finite number"):
        VideoBudget.from_env({"MAX_VIDEO_FRAMES": "0"})
    for name, text in (("MAX_VIDEO_SECONDS", "nan"), ("REQUEST_TIMEOUT_SECONDS", "inf")):  # each turned a limit off
        with pytest.raises(ValueError, match=f"{name}='{text}' must be a positive, finite number"):
            VideoBudget.from_env({name: text})
    assert VideoBudget.from_env({"MAX_VIDEO_PIXELS": "921600", "MAX_VIDEO_SECONDS": ""}) == VideoBudget(
        max_pixels=921_600
    )
