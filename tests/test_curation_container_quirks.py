"""Files as phones and the web make them, through the whole local pipeline: a cover picture or a thumbnail track
beside the video, Matroska cut short, non-square pixels, a video rejected at the container check, and a rerun
after inputs were added that change other inputs' ids."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import pytest
from curation_files import _scene_frame, truncated_copy, write_audio_only, write_frames, write_scene_video

from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions
from hf_tiktokactions.layout import resolved_path

OPTIONS = CurationOptions(detector="none", max_pixels=640 * 480)


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    videos = tmp_path_factory.mktemp("videos")
    write_audio_only(videos / "song.mp4", cover_art=True)
    write_scene_video(videos / "thumbnail_first.mkv", [150], container_format="matroska", thumbnail_track=True)
    write_scene_video(videos / "camera.mov", [150], container_format="mov", thumbnail_track=True)
    write_scene_video(videos / "whole.mkv", [300], container_format="matroska")
    still_end = dict(container_format="matroska", last_frame_seconds=1.5)  # a screen recording's still end
    write_frames(videos / "still_end.mkv", [_scene_frame(0, i, 120, 160) for i in range(121)],
                 [i / 30 for i in range(121)], 30, **still_end)  # fmt: skip
    truncated_copy(
        write_scene_video(videos / ".source.mkv", [300], container_format="matroska"), videos / "cut.mkv", 0.6
    )
    write_scene_video(videos / "anamorphic.mp4", [150], sample_aspect_ratio=Fraction(4, 3))  # 160x120 shown 213x120
    write_scene_video(videos / "short.mp4", [60])
    output = tmp_path_factory.mktemp("curated")
    curate(load_video_inputs(videos), output, OPTIONS, workers=1, progress=False)
    return output, {row["video_id"]: row for row in load_index(output)}


def _record(output, video_id):
    return json.loads((output / "metadata" / f"{video_id}.json").read_text())


def test_a_cover_picture_is_not_the_video(curated):
    """The song's cover art (an attached picture) was curated as a video and rejected as too short; the thumbnail
    track before an MKV's video was taken for the video (one 64x64 frame), and so was a camera's before a MOV's
    (its default video track, which FFmpeg picks)."""
    output, rows = curated
    assert rows["song"]["status"] == "rejected" and rows["song"]["reason"] == "no video stream (audio only)"
    for video_id in ("thumbnail_first", "camera"):
        assert rows[video_id]["status"] == "pass", rows[video_id]["reason"]
        record = _record(output, video_id)
        assert (record["width"], record["height"], record["decoded_frames"]) == (160, 120, 150)


def test_a_matroska_file_cut_short_is_called_truncated(curated):
    """Matroska declares no frame count: a download cut at 60 % passed as a 6 s video. Its header declares the
    file's size; a whole file (a still last frame of 1.5 s included, which a check by duration took for a cut)
    passes."""
    _, rows = curated
    for whole in ("whole", "still_end"):
        assert rows[whole]["status"] == "pass", rows[whole]["reason"]
    cut = rows["cut"]
    assert cut["status"] == "rejected" and cut["reason"].startswith("truncated: the file holds ")
    assert cut["reason"].endswith("bytes its header declares (a download cut short)")


def test_non_square_pixels_become_a_clip_of_the_shape_a_player_shows(curated):
    output, rows = curated
    row = rows["anamorphic"]
    assert row["status"] == "pass", row["reason"]
    assert (row["width"], row["height"]) == (213, 120)  # 160 stored pixels, each 4/3 wide
    with av.open(str(resolved_path(row["clip_path"], output))) as clip:
        stream = clip.streams.video[0]
        assert (stream.width, stream.height) == (212, 120)  # even, for yuv420p
        assert stream.sample_aspect_ratio in (None, 0, 1)  # square pixels: nothing left for a player to stretch


def test_a_video_rejected_at_the_container_check_keeps_what_the_check_read(curated):
    output, rows = curated
    assert rows["short"]["reason"] == "too short: 2.00 s < 3.5 s"
    record = _record(output, "short")
    assert (record["width"], record["height"], record["fps"], record["num_frames"]) == (160, 120, 30.0, 60)
    assert record["duration"] == pytest.approx(2.0, abs=0.05)


def test_a_rerun_with_more_inputs_keeps_each_done_video_under_its_id(tmp_path):
    """clip.mp4 alone is `clip`; with a clip.mov beside it, it is `clip.mp4`: the rerun curated it again under the new
    id and the index held it twice. A list's second same.mp4 is named by its path, the same way."""
    videos = tmp_path / "videos"
    write_scene_video(videos / "clip.mp4", [120])
    curate(load_video_inputs(videos), tmp_path / "out", OPTIONS, workers=1, progress=False)
    write_scene_video(videos / "clip.mov", [130])
    again = curate(load_video_inputs(videos), tmp_path / "out", OPTIONS, workers=1, progress=False)
    assert (again.processed, again.already_done) == (1, 1)
    sources = sorted((row["video_id"], row["source_path"].rsplit("/", 1)[-1]) for row in load_index(tmp_path / "out"))
    assert sources == [("clip", "clip.mp4"), ("clip.mov", "clip.mov")]

    write_scene_video(tmp_path / "a" / "same.mp4", [120])
    write_scene_video(tmp_path / "b" / "same.mp4", [125])
    (tmp_path / "one.txt").write_text("b/same.mp4\n")
    (tmp_path / "both.txt").write_text("a/same.mp4\nb/same.mp4\n")
    curate(load_video_inputs(tmp_path / "one.txt"), tmp_path / "listed", OPTIONS, workers=1, progress=False)
    again = curate(load_video_inputs(tmp_path / "both.txt"), tmp_path / "listed", OPTIONS, workers=1, progress=False)
    assert (again.processed, again.already_done) == (1, 1)
    rows = load_index(tmp_path / "listed")
    assert sorted(row["source_path"].split("/")[-2] for row in rows) == ["a", "b"]  # each file once
