"""Decoding: exact frames from real H.264 files, metadata without decoding, one clear error for bad files."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import av
import pytest
import torch
from video_files import (
    can_write_display_rotation,
    frame_index_of,
    frames_as_a_player_shows,
    rotate_video,
    trim_by_stream_copy,
    with_another_video_track,
    write_test_video,
    xvid_or_transport_stream,
)

from hf_tiktokactions.data.decoding import BACKENDS, open_video, probe_video, read_frames
from hf_tiktokactions.errors import TikTokActionsError, VideoDecodeError


def _available(backend: str) -> bool:
    if backend != "torchcodec":
        return True
    if importlib.util.find_spec("torchcodec") is None:
        return False
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401 - fails without the FFmpeg libraries
    except Exception:
        return False
    return True


backends = pytest.mark.parametrize(
    "backend",
    [pytest.param(b, marks=pytest.mark.skipif(not _available(b), reason=f"{b} unavailable")) for b in BACKENDS],
)
needs_rotation_writer = pytest.mark.skipif(
    not can_write_display_rotation(), reason="writing a display matrix needs PyAV >= 18"
)


@pytest.fixture(scope="module")
def indexed_video(tmp_path_factory):
    """60 frames, 64x48, 30 fps; frame i shows i in binary stripes."""
    return write_test_video(tmp_path_factory.mktemp("videos") / "indexed.mp4", 60, 48, 64, fps=30)


@pytest.fixture(scope="module")
def broken_files(tmp_path_factory, indexed_video):
    folder = tmp_path_factory.mktemp("broken")
    data = indexed_video.read_bytes()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "text.mp4").write_text("this is not a video\n" * 40)
    corrupt = bytearray(data)
    corrupt[64:1500] = bytes((i * 97 + 13) % 256 for i in range(1500 - 64))
    (folder / "corrupt.mp4").write_bytes(bytes(corrupt))
    return folder


@backends
def test_reads_exactly_the_requested_frames(indexed_video, backend):
    wanted = [5, 0, 59, 5, 17, 18, 40]
    with open_video(indexed_video, backend) as reader:
        frames = reader.read(wanted)
        info = reader.info
    assert frames.dtype == torch.uint8 and frames.shape == (len(wanted), 3, 48, 64)
    assert [frame_index_of(f) for f in frames] == wanted
    assert (info.num_frames, info.fps, info.height, info.width) == (60, 30.0, 48, 64)
    assert info.duration == pytest.approx(2.0)


@backends
@pytest.mark.parametrize("name", ["xvid.avi", "mpeg4.mp4"])
def test_each_frame_of_an_mpeg4_part2_file_with_b_frames_reads_alone(tmp_path, backend, name):
    # XviD AVIs (UCF101, HMDB51): a keyframe is decoded ahead of the frames shown just before it, so a seek to a
    # wanted frame's own timestamp lands on that keyframe, after the frame went by.
    path = write_test_video(tmp_path / name, 40, 48, 64, fps=25, codec="mpeg4", b_frames=2)
    with open_video(path, backend) as reader:
        assert reader.info.num_frames == 40
        assert [frame_index_of(reader.read([index])[0]) for index in range(40)] == list(range(40))


@backends
@pytest.mark.parametrize("kind", ["xvid-packed-b-frames.avi", "mpeg-ts.ts"])
def test_each_frame_of_an_xvid_avi_or_a_transport_stream_reads_as_a_player_shows_it(tmp_path, backend, kind):
    # decord and torchcodec misread both (other frames, or no end on a transport stream): they go to PyAV
    path = xvid_or_transport_stream(tmp_path, kind)
    shown = frames_as_a_player_shows(path)
    with open_video(path, backend) as reader:
        assert reader.backend == "pyav" and reader.info.num_frames == len(shown) >= 36
        assert [frame_index_of(reader.read([index])[0]) for index in range(len(shown))] == shown


@backends
@pytest.mark.parametrize("codec, b_frames", [("mpeg1video", 0), ("mpeg2video", 2)])
def test_each_frame_of_an_mpeg_ps_file_reads_as_a_player_shows_it(tmp_path, backend, codec, b_frames):
    # an MPEG-PS packet holds several of these small frames: after a seek FFmpeg shifts their timestamps by one
    path = write_test_video(tmp_path / "clip.mpg", 60, 96, 128, fps=25, codec=codec, b_frames=b_frames)
    shown = frames_as_a_player_shows(path)
    with open_video(path, backend) as reader:
        assert reader.info.num_frames == len(shown) == 60
        assert [frame_index_of(reader.read([index])[0]) for index in range(60)] == shown
        # a clip in one read, as datasets read them: torchcodec returned frames 0, 2, 5, 8, 32, 32 here
        clip = [0, 3, 6, 9, 30, 33]
        assert [frame_index_of(frame) for frame in reader.read(clip)] == [shown[index] for index in clip]


@backends
def test_h264_in_an_mpeg_ps_file_is_refused_by_name(tmp_path, backend):
    # its frames after the first carry no timestamp: the PyAV reader counted 1 frame, torchcodec read a clip of
    # frame 0 repeated; the Space and the exported pipeline refuse the file too
    path = write_test_video(tmp_path / "h264.mpg", 40, 48, 64, fps=25)
    with pytest.raises(VideoDecodeError, match=r"h264\.mpg: .* of its 40 frames carry no timestamp"):
        open_video(path, backend)


@backends
def test_a_video_trimmed_by_stream_copy_reads_the_frames_a_player_shows(tmp_path, backend):
    # its edit list hides the 33 frames before the cut that the file keeps for decoding; decord counted them and
    # returned frames from before the cut (it goes to PyAV now), probe_video counted them too
    source = write_test_video(tmp_path / "source.mp4", 90, 48, 64, fps=30)
    path = trim_by_stream_copy(source, tmp_path / "trimmed.mp4", 1.1)
    if path is None:
        pytest.skip("needs the ffmpeg command")
    shown = frames_as_a_player_shows(path)
    assert shown[0] == 33 and len(shown) == 57
    assert probe_video(path).num_frames == len(shown)
    with open_video(path, backend) as reader:
        assert reader.info.num_frames == len(shown)
        assert [frame_index_of(reader.read([index])[0]) for index in range(len(shown))] == shown
        assert frame_index_of(reader.read([len(shown) - 1])[0]) == shown[-1]
    with open_video(path, backend) as reader:  # a clip of a few frames, as training items read them
        assert [frame_index_of(frame) for frame in reader.read([10, 30, 50])] == [shown[10], shown[30], shown[50]]


@backends
def test_an_open_gop_hevc_file_reads_as_a_player_shows_it(tmp_path, backend):
    # x265's default open GOP: B-frames decoded after a keyframe are shown before it; decord, seeking to such a
    # keyframe, returned the frame after the one asked for (HEVC MP4, as phones and the web make them)
    if "libx265" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg has no HEVC encoder")
    path = write_test_video(tmp_path / "open-gop.mp4", 60, 48, 64, codec="libx265", keyframe_interval=12)
    shown = frames_as_a_player_shows(path)
    assert shown == list(range(60))
    wanted = [1, 13, 24, 25, 37, 48, 49]
    with open_video(path, backend) as reader:
        assert [frame_index_of(frame) for frame in reader.read(wanted)] == wanted


def test_a_file_is_looked_at_for_open_gops_once_until_it_is_replaced(tmp_path, monkeypatch):
    # open_video demuxed a file's first GOPs with PyAV at every open, to send open-GOP files away from decord: an
    # epoch reopens every file. The answer is kept per file; a file replaced in place is looked at again, even by
    # one of the same size whose modification time was kept (cp -p, rsync -a, tar): the answer was keyed by path,
    # size and mtime only, so decord read that open-GOP file.
    pytest.importorskip("decord")
    if "libx265" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg has no HEVC encoder")
    path = write_test_video(tmp_path / "clip.mp4", 30, 48, 64)  # x264: closed GOPs
    open_gop = write_test_video(tmp_path / "open-gop.mp4", 60, 48, 64, codec="libx265", keyframe_interval=12)
    size = max(os.path.getsize(path), os.path.getsize(open_gop)) + 16
    for video in (path, open_gop):  # the same size: a trailing MP4 'free' box fills each up
        padding = size - os.path.getsize(video)
        with open(video, "ab") as file:
            file.write(padding.to_bytes(4, "big") + b"free" + bytes(padding - 8))
    opened, real_open = [], av.open
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: opened.append(args[0]) or real_open(*args, **kwargs))
    for _ in range(3):
        with open_video(path, "decord") as reader:
            assert reader.backend == "decord" and frame_index_of(reader.read([20])[0]) == 20
    assert len(opened) == 1
    times = os.stat(path)
    os.replace(open_gop, path)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    with open_video(path, "decord") as reader:
        assert reader.backend == "pyav" and [frame_index_of(f) for f in reader.read([13, 25])] == [13, 25]


@pytest.fixture(scope="module")
def two_track_videos(tmp_path_factory, indexed_video):
    """The indexed video beside a one-frame 64x64 MJPEG thumbnail or a 20-frame 32x24 proxy, before or after it."""
    folder = tmp_path_factory.mktemp("two_tracks")
    names = ["thumbnail_first.mp4", "thumbnail_first.mov", "proxy_first.mp4", "thumbnail_after.mov", "proxy_after.mp4"]
    return {
        name: with_another_video_track(indexed_video, folder / name, name.split("_")[0], "_first" in name)
        for name in names
    }


@backends
@pytest.mark.parametrize("name", ["thumbnail_first.mp4", "thumbnail_first.mov", "proxy_first.mp4",
                                  "thumbnail_after.mov", "proxy_after.mp4"])  # fmt: skip
def test_a_thumbnail_or_proxy_track_beside_the_video_is_not_read_as_the_video(two_track_videos, backend, name):
    """An MP4's or MOV's first video track is its default one, which FFmpeg picks: a camera's one-frame thumbnail
    track before the video was read by PyAV, torchcodec and probe_video as a one-frame 64x64 video, an editing proxy
    as a 20-frame one (decord, whose FFmpeg picks otherwise, read the video). decord cannot be told which stream to
    read: such files go to PyAV."""
    path = two_track_videos[name]
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.height, info.width) == (60, 30.0, 48, 64)
    with open_video(path, backend) as reader:
        assert reader.backend == ("pyav" if backend == "decord" else backend)
        assert (reader.info.num_frames, reader.info.height, reader.info.width) == (60, 48, 64)
        assert [frame_index_of(frame) for frame in reader.read([0, 31, 59])] == [0, 31, 59]


@backends
def test_backends_agree_pixel_for_pixel_on_b_frame_content(tmp_path, backend):
    # a smooth moving pattern makes x264 use many B-frames, which the PyAV reader partly skips
    path = write_test_video(tmp_path / "motion.mp4", 90, 48, 64, fps=30, pattern="motion", noise=0.0)
    wanted = list(range(3, 90, 4))
    reference = read_frames(path, wanted, backend="decord")
    assert torch.equal(read_frames(path, wanted, backend=backend), reference)


def test_probe_reads_the_index_only(indexed_video):
    info = probe_video(indexed_video)
    assert (info.num_frames, info.fps, info.height, info.width) == (60, 30.0, 48, 64)


def test_reads_bytes_and_fsspec_urls(indexed_video):
    import fsspec

    with fsspec.open("memory://videos/clip.mp4", "wb") as handle:
        handle.write(indexed_video.read_bytes())
    frames = read_frames("memory://videos/clip.mp4", [1, 30])
    assert [frame_index_of(f) for f in frames] == [1, 30]
    assert [frame_index_of(f) for f in read_frames(indexed_video.read_bytes(), [2])] == [2]


def test_out_of_range_index_is_a_caller_error(indexed_video):
    with pytest.raises(IndexError, match="0, 60"):
        read_frames(indexed_video, [60])


@backends
@pytest.mark.parametrize("name", ["empty", "truncated", "text", "corrupt", "missing"])
def test_bad_files_raise_one_error_naming_the_file(broken_files, name, backend):
    path = broken_files / f"{name}.mp4"
    with pytest.raises(VideoDecodeError) as caught:
        read_frames(path, list(range(0, 60, 4)), backend=backend)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, TikTokActionsError)


def test_probe_of_a_bad_file_names_it(broken_files):
    with pytest.raises(VideoDecodeError, match="text.mp4"):
        probe_video(broken_files / "text.mp4")


def test_unknown_backend_is_rejected(indexed_video):
    with pytest.raises(ValueError, match="decord"):
        open_video(indexed_video, "opencv")


def test_a_failed_read_is_retried_with_pyav(indexed_video, monkeypatch):
    from hf_tiktokactions.data import decoding

    def refuse(self, indices):
        raise RuntimeError("decord could not decode this stream")

    monkeypatch.setattr(decoding._DecordReader, "_read_sorted", refuse)
    with open_video(indexed_video, "decord") as reader:
        assert [frame_index_of(f) for f in reader.read([3, 33])] == [3, 33]


def test_a_file_decord_cannot_open_is_opened_with_pyav(indexed_video, monkeypatch):
    from hf_tiktokactions.data import decoding

    def refuse(self, source, name, num_threads):
        raise RuntimeError("unsupported container")

    monkeypatch.setattr(decoding._DecordReader, "__init__", refuse)
    with open_video(indexed_video, "decord") as reader:
        assert reader.backend == "pyav"
        assert [frame_index_of(f) for f in reader.read([7])] == [7]


# ------------------------------------------------------------------------------------------------
# Phone videos: display rotation


@needs_rotation_writer
@backends
@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_phone_video_reads_upright(tmp_path, backend, rotation):
    # stored turned clockwise by `rotation`, with a display matrix that turns it back: only a reader that
    # honours the matrix sees vertical stripes, so frame_index_of finds the indices
    path = write_test_video(tmp_path / "phone.mp4", 30, 48, 64, fps=30, display_rotation=rotation)
    wanted = [0, 7, 29, 7]
    with open_video(path, backend) as reader:
        frames = reader.read(wanted)
        assert (reader.info.height, reader.info.width) == (48, 64)
    assert frames.shape == (4, 3, 48, 64)
    assert [frame_index_of(f) for f in frames] == wanted
    assert (probe_video(path).height, probe_video(path).width) == (48, 64)


@needs_rotation_writer
@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_stream_copy_with_rotation_reads_as_the_source_turned_pixel_for_pixel(tmp_path, rotation):
    source = write_test_video(tmp_path / "landscape.mp4", 40, 64, 96, fps=30, pattern="motion", noise=0.0)
    rotated = rotate_video(source, tmp_path / "rotated.mp4", rotation)
    if shutil.which("ffprobe"):  # a real display matrix, as other tools see it
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json", str(rotated)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        (side_data,) = json.loads(probe.stdout)["streams"][0]["side_data_list"]
        assert side_data["side_data_type"] == "Display Matrix" and (side_data["rotation"] - rotation) % 360 == 0
    wanted = list(range(1, 40, 3))
    expected = torch.rot90(read_frames(source, wanted, backend="pyav"), rotation // 90, dims=(2, 3))
    for backend in BACKENDS:
        if _available(backend):
            assert torch.equal(read_frames(rotated, wanted, backend=backend), expected), backend


# ------------------------------------------------------------------------------------------------
# Platforms without decord (ARM Linux, Apple silicon)


def test_without_decord_every_backend_request_decodes_with_pyav(tmp_path, indexed_video):
    """A fresh interpreter in which ``import decord`` fails, as where decord has no wheel."""
    script = textwrap.dedent(
        f"""
        import hashlib, sys, warnings
        sys.modules["decord"] = None  # `import decord` now raises ImportError
        from hf_tiktokactions.data.decoding import open_video
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            readers = [open_video({str(indexed_video)!r}, "decord") for _ in range(3)]
        print([r.backend for r in readers], [str(w.message) for w in caught])
        print([hashlib.sha256(r.read([17, 3, 40]).contiguous().numpy()).hexdigest() for r in readers])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, result.stderr
    backends_line, pixels_line = result.stdout.strip().splitlines()
    assert backends_line.startswith("['pyav', 'pyav', 'pyav']")
    assert backends_line.count("'decord' video backend cannot be used here") == 1  # warned once, not per file
    with open_video(indexed_video, "decord") as reader:  # the pixels decord itself gives, in this process
        assert reader.backend == "decord"
        digest = hashlib.sha256(reader.read([17, 3, 40]).contiguous().numpy()).hexdigest()
    assert pixels_line == str([digest] * 3)
