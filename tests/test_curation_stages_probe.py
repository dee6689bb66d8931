"""Container probing turns every unusable input into a reason, before anything is decoded."""

from __future__ import annotations

import pytest
from curation_files import truncated_copy, write_audio_only, write_scene_video

from hf_tiktokactions.curation.stages.probe import check_source, count_frames, probe_source
from hf_tiktokactions.errors import VideoRejected

LIMITS = dict(max_pixels=3840 * 2160, max_aspect_ratio=4.0, min_seconds=3.5)


def _reason(path, **overrides) -> str:
    with pytest.raises(VideoRejected) as caught:
        check_source(probe_source(path), **{**LIMITS, **overrides})
    return caught.value.reason


def test_probe_reads_size_rate_frames_and_duration(tmp_path):
    probe = probe_source(write_scene_video(tmp_path / "v.mp4", [120]))
    assert (probe.width, probe.height, probe.fps, probe.num_frames, probe.codec) == (160, 120, 30.0, 120, "h264")
    assert probe.duration == pytest.approx(4.0, abs=0.05)
    assert count_frames(tmp_path / "v.mp4") == 120


def test_probe_reads_the_video_not_a_thumbnail_track_before_it(tmp_path):
    """A camera's one-frame MJPEG thumbnail track before an MP4's video is its default video track, which FFmpeg
    picks: the probe read a 64x64 video of one frame."""
    probe = probe_source(write_scene_video(tmp_path / "camera.mp4", [120], thumbnail_track=True))
    assert (probe.width, probe.height, probe.fps, probe.num_frames, probe.codec) == (160, 120, 30.0, 120, "h264")
    assert count_frames(tmp_path / "camera.mp4") == 120


def test_probe_reasons_for_unusable_inputs(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 50)
    assert _reason(tmp_path / "missing.mp4") == "file not found"
    assert _reason(tmp_path / "empty.mp4") == "empty file (0 bytes)"
    assert "not a readable media file" in _reason(tmp_path / "text.mp4")
    assert _reason(write_audio_only(tmp_path / "audio.mp4")) == "no video stream (audio only)"
    assert _reason(write_scene_video(tmp_path / "short.mp4", [60])) == "too short: 2.00 s < 3.5 s"


def test_probe_rejects_huge_and_extreme_frames(tmp_path):
    video = write_scene_video(tmp_path / "v.mp4", [120], height=120, width=160)
    assert _reason(video, max_pixels=160 * 120 - 1) == "resolution 160x120 exceeds --max-pixels 19199"
    wide = write_scene_video(tmp_path / "wide.mp4", [120], height=16, width=1024)
    assert _reason(wide) == "aspect ratio 1024x16 is beyond 4:1"


@pytest.mark.parametrize("cut_into_index", [0.05, 0.28, 0.5, 0.95])
def test_an_mp4_cut_short_inside_its_index_is_called_truncated(tmp_path, cut_into_index):
    """A download that stops in the last few percent of an MP4 ends inside its moov box (written last unless
    faststart): FFmpeg then opens it as "no video stream", an EOFError, or a stream without a codec."""
    video = write_scene_video(tmp_path / "v.mp4", [120])
    data = video.read_bytes()
    moov = data.rindex(b"moov") - 4
    keep = moov + 8 + int((len(data) - moov - 8) * cut_into_index)
    cut = truncated_copy(video, tmp_path / "cut.mp4", keep=keep / len(data))
    assert _reason(cut) == (
        f"truncated: the file holds {cut.stat().st_size} of the {len(data)} bytes its header declares "
        "(a download cut short)"
    )
    check_source(probe_source(video), **LIMITS)  # the whole file is fine
