"""Small real H.264 MP4 files for tests, written with PyAV.

``write_test_video(path, num_frames, height, width, fps, pattern="index")`` is shared by the data tests;
keep its signature stable. Patterns:

* ``"index"``: the frame index written in binary as 8 vertical black/white stripes (most significant bit
  on the left), so a test can read back which frame a decoder returned with ``frame_index_of``, even
  after H.264 compression and resizing. Holds indices 0..255; needs ``width >= 32``.
* ``"motion"``: a textured gradient that drifts a few pixels per frame, with a little noise: content that
  costs about what real footage costs to encode and decode (for benchmarks).
* ``"solid"``: one flat colour per frame that changes slowly with the index.

``display_rotation`` makes a phone-style file: the frames are stored turned clockwise by that angle and the
MP4 carries a display matrix that turns them back (:func:`rotate_video`, a stream copy), so only a reader
that honours the matrix sees the pattern upright (``height`` x ``width``, stripes vertical).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "write_test_video",
    "write_flat_h264",
    "write_sorenson_of_width_zero",
    "write_xvid_avi",
    "trim_by_stream_copy",
    "xvid_or_transport_stream",
    "frames_as_a_player_shows",
    "rotate_video",
    "with_another_video_track",
    "add_thumbnail_track",
    "can_write_display_rotation",
    "frame_index_of",
    "INDEX_BITS",
]

INDEX_BITS = 8
_BLACK, _WHITE = 16, 235  # video-range luma, so the encoder does not clip
_CODEC_OPTIONS = {
    "mpeg4": {"qscale": "2"},
    "libvpx-vp9": {"crf": "10", "b": "0", "deadline": "realtime", "cpu-used": "8"},
}


def _index_frame(index: int, height: int, width: int) -> np.ndarray:
    bits = [(index >> (INDEX_BITS - 1 - b)) & 1 for b in range(INDEX_BITS)]
    stripe = width // INDEX_BITS
    row = np.full(width, _BLACK, dtype=np.uint8)
    for b, bit in enumerate(bits):
        if bit:
            row[b * stripe : (b + 1) * stripe] = _WHITE
    return np.repeat(np.broadcast_to(row, (height, width))[..., None], 3, axis=2).copy()


def _motion_frame(index: int, height: int, width: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    shift = 3.0 * index
    r = 128 + 100 * np.sin((x + shift) / 37.0) * np.cos(y / 53.0)
    g = 128 + 100 * np.sin((y - shift) / 29.0)
    b = 128 + 100 * np.cos((x + y + 2 * shift) / 41.0)
    r, g, b = np.broadcast_arrays(r, g, b)
    frame = np.stack([r, g, b], axis=-1) + rng.normal(0, noise, (height, width, 1)).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _solid_frame(index: int, height: int, width: int) -> np.ndarray:
    colour = np.array([(index * 7) % 256, (index * 13 + 64) % 256, (255 - index * 5) % 256], dtype=np.uint8)
    return np.broadcast_to(colour, (height, width, 3)).copy()


def write_test_video(
    path: str | Path,
    num_frames: int,
    height: int,
    width: int,
    fps: int = 30,
    pattern: str = "index",
    crf: int = 18,
    seed: int = 0,
    noise: float = 6.0,
    codec: str = "libx264",
    display_rotation: int = 0,
    b_frames: int | None = None,
    keyframe_interval: int | None = None,
) -> Path:
    """Write ``num_frames`` frames of ``pattern`` as an H.264 (yuv420p) MP4 at ``path``; returns the path.

    ``codec="mpeg4"`` with an ``.avi`` path writes MPEG-4 Part 2 in AVI, as UCF101 and HMDB51 are released (H.264
    with B-frames in AVI has no frame timestamps: decoders return other frames than asked), with XviD's default of
    up to 2 B-frames in a row (``b_frames``: how many; ``None`` is the codec's usual setting, x264 uses up to 3);
    ``codec="libvpx-vp9"`` with a ``.webm`` path writes VP9 WebM, as Something-Something V2 is released;
    ``codec="flv"`` (Sorenson H.263) or ``"libx264"`` with an ``.flv`` path writes FLV, and ``"mpeg1video"`` or
    ``"mpeg2video"`` with an ``.mpg`` path writes an MPEG program stream (MPEG-PS).

    ``height`` and ``width`` must be even (yuv420p). ``crf`` is x264's constant rate factor (lower = more
    bits); ``noise`` is the standard deviation of the per-pixel noise of the ``"motion"`` pattern, which
    mostly decides how many bits a frame costs. ``display_rotation`` (a multiple of 90): see the module
    docstring. ``keyframe_interval``: frames between keyframes (the codec's GOP size; ``None`` is its default,
    250 for x264 and x265). x265 makes open GOPs by default: each keyframe after the first is followed, in decode
    order, by B-frames shown before it.
    """
    if pattern == "index" and (num_frames > 2**INDEX_BITS or width < 4 * INDEX_BITS):
        raise ValueError(f"the index pattern holds at most {2**INDEX_BITS} frames and needs width >= 32")
    if height % 2 or width % 2:
        raise ValueError(f"yuv420p needs even height and width, got {height}x{width}")
    if pattern not in ("index", "motion", "solid"):
        raise ValueError(f"unknown pattern {pattern!r}; use 'index', 'motion' or 'solid'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    turns = -(display_rotation // 90)  # np.rot90 turns counter-clockwise: store the frames turned clockwise
    encoded = path.with_name(f".{path.stem}.stored{path.suffix}") if turns % 4 else path
    with av.open(str(encoded), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = (width, height) if turns % 2 else (height, width)
        stream.pix_fmt = "yuv420p"
        stream.options = _CODEC_OPTIONS.get(codec, {"crf": str(crf)})
        if b_frames is not None or codec == "mpeg4":
            stream.codec_context.max_b_frames = 2 if b_frames is None else b_frames
        if keyframe_interval is not None:
            stream.codec_context.gop_size = keyframe_interval
        for index in range(num_frames):
            if pattern == "index":
                array = _index_frame(index, height, width)
            elif pattern == "motion":
                array = _motion_frame(index, height, width, rng, noise)
            else:
                array = _solid_frame(index, height, width)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(array, turns)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    if encoded != path:
        rotate_video(encoded, path, display_rotation)
        encoded.unlink()
    return path


def write_flat_h264(path: str | Path, side: int, num_frames: int, fps: int) -> Path:
    """A grey ``side`` x ``side`` H.264 file (MP4, or FLV, ... by the suffix of ``path``): flat frames cost x264
    almost nothing, so a huge frame is a small file."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        frame = av.VideoFrame.from_ndarray(np.full((side * 3 // 2, side), 128, np.uint8), format="yuv420p")
        for index in range(num_frames):
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def write_sorenson_of_width_zero(path: str | Path, num_frames: int = 8) -> Path:
    """An FLV of ``num_frames`` 120x200 Sorenson H.263 frames, each picture header damaged to declare a width of 0:
    FFmpeg's FLV decoder refuses such a frame with EINVAL, the code its ``max_pixels`` refusal has too."""
    source = write_test_video(
        Path(path).with_name(f".{Path(path).stem}.source.flv"), num_frames, 120, 200, 25, "solid", codec="flv"
    )
    with av.open(str(source)) as reader, av.open(str(path), "w", format="flv") as writer:
        stream = writer.add_stream_from_template(reader.streams.video[0])
        for packet in reader.demux(reader.streams.video[0]):
            if packet.dts is None:
                continue
            # the header: 17-bit start code, 5-bit version, 8-bit picture number, 3-bit size code (0: an 8-bit width
            # and an 8-bit height follow), so the width is bits 33..40
            header = int.from_bytes(bytes(packet)[:8], "big") & ~(0xFF << (64 - 41))
            damaged = av.Packet(header.to_bytes(8, "big") + bytes(packet)[8:])
            damaged.pts, damaged.dts, damaged.time_base = packet.pts, packet.dts, packet.time_base
            damaged.is_keyframe, damaged.stream = packet.is_keyframe, stream
            writer.mux(damaged)
    source.unlink()
    return Path(path)


def write_xvid_avi(path: str | Path, num_frames: int, height: int, width: int, fps: int = 25) -> Path | None:
    """An ``"index"``-pattern AVI encoded by Xvid with up to 2 B-frames in a row, as DivX / XviD tools wrote UCF101
    and HMDB51: a B-frame is packed into the packet of the P-frame shown after it, and the packets carry no usable
    timestamps. Needs the ``ffmpeg`` command with libxvid (Debian's has it); None without it."""
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libxvid" not in encoders:
        return None
    path = Path(path)
    source = write_test_video(path.with_name(f".{path.stem}.source.mp4"), num_frames, height, width, fps=fps, crf=0)
    command = [ffmpeg, "-v", "error", "-y", "-i", str(source), "-c:v", "libxvid", "-bf", "2", "-g", "12"]
    subprocess.run([*command, "-q:v", "2", str(path)], check=True, timeout=120)
    source.unlink()
    return path


def xvid_or_transport_stream(folder: Path, kind: str) -> Path:
    """40 ``"index"``-pattern frames of 64x48: ``kind`` ``"xvid-packed-b-frames.avi"`` (:func:`write_xvid_avi`;
    skips the test without the ffmpeg command) or ``"mpeg-ts.ts"`` (H.264 in an MPEG transport stream)."""
    import pytest

    if kind.endswith(".avi"):
        path = write_xvid_avi(folder / kind, 40, 48, 64)
        if path is None:
            pytest.skip("needs the ffmpeg command with libxvid")
        return path
    return write_test_video(folder / kind, 40, 48, 64, fps=25)


def frames_as_a_player_shows(path: str | Path) -> list[int]:
    """The index of every frame a player shows, in order (every frame decoded from the start)."""
    with av.open(str(path)) as container:
        return [frame_index_of(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def trim_by_stream_copy(source: str | Path, target: str | Path, start_seconds: float) -> Path | None:
    """``ffmpeg -ss START -i SOURCE -c copy TARGET``, how people cut a video without re-encoding: the MP4 keeps the
    packets from the keyframe before START (the decoder needs them) and an edit list that hides the frames before
    START. Needs the ``ffmpeg`` command; None without it."""
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    command = [ffmpeg, "-v", "error", "-y", "-ss", str(start_seconds), "-i", str(source), "-c", "copy", str(target)]
    subprocess.run(command, check=True, timeout=120)
    return Path(target)


def can_write_display_rotation() -> bool:
    """PyAV writes display matrices from version 18 (``VideoStream.set_display_rotation``)."""
    return hasattr(av.video.stream.VideoStream, "set_display_rotation")


def rotate_video(source: str | Path, target: str | Path, rotation: int) -> Path:
    """Stream-copy ``source`` to the MP4 ``target`` with a display matrix of ``rotation`` degrees
    counter-clockwise (what ``ffprobe`` reports, and PyAV's ``frame.rotation``); no frame is re-encoded.

    This is how phones store portrait video: an iPhone writes -90. Same as
    ``ffmpeg -display_rotation ROTATION -i SOURCE -c copy TARGET`` (FFmpeg 6 and later).
    """
    target = Path(target)
    with av.open(str(source)) as reader, av.open(str(target), "w", format="mp4") as writer:
        source_stream = reader.streams.video[0]
        stream = writer.add_stream_from_template(source_stream)
        stream.set_display_rotation(rotation)
        for packet in reader.demux(source_stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = stream
            writer.mux(packet)
    return target


def add_thumbnail_track(container: av.container.OutputContainer) -> list[av.Packet]:
    """Add to ``container`` (open for writing, nothing muxed yet) a 64x64 MJPEG track of one frame, not marked as an
    attached picture (the thumbnail track cameras and some phone and editor exports write); returns its packets,
    to mux once every track is added."""
    thumbnail = container.add_stream("mjpeg", rate=1)
    thumbnail.width = thumbnail.height = 64
    thumbnail.pix_fmt = "yuvj420p"
    picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")
    picture = picture.reformat(format="yuvj420p")
    picture.pts = 0
    return [*thumbnail.encode(picture), *thumbnail.encode()]


def _add_proxy_track(container: av.container.OutputContainer, num_frames: int, height: int, width: int):
    """Add to ``container`` a flat grey H.264 track of ``num_frames`` frames of ``height`` x ``width`` at 30 fps;
    returns its packets."""
    proxy = container.add_stream("libx264", rate=30)
    proxy.height, proxy.width, proxy.pix_fmt = height, width, "yuv420p"
    proxy.options = {"preset": "ultrafast"}
    packets = []
    for index in range(num_frames):
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
        frame.pts = index
        packets += proxy.encode(frame)
    return packets + proxy.encode()


def with_another_video_track(source: str | Path, target: str | Path, extra: str = "thumbnail", first: bool = True):
    """Stream-copy the video of ``source`` to ``target`` (MP4, MOV or Matroska by its suffix) beside another video
    track, neither marked as an attached picture: ``extra="thumbnail"`` one 64x64 MJPEG frame
    (:func:`add_thumbnail_track`), ``"proxy"`` an editing proxy (a third of the frames, at half the size, flat grey).
    ``first``: the extra track is the file's first (MP4 and MOV then mark it the default video track), else its
    second."""
    target = Path(target)
    formats = {".mov": "mov", ".mkv": "matroska"}
    with av.open(str(source)) as reader, av.open(str(target), "w", format=formats.get(target.suffix, "mp4")) as writer:
        video = reader.streams.video[0]

        def add_extra():
            if extra == "thumbnail":
                return add_thumbnail_track(writer)
            return _add_proxy_track(writer, max(1, video.frames // 3), video.height // 2, video.width // 2)

        packets = add_extra() if first else None
        stream = writer.add_stream_from_template(video)
        writer.mux(packets if first else add_extra())
        for packet in reader.demux(video):
            if packet.dts is not None:  # not the demuxer's end-of-stream marker
                packet.stream = stream
                writer.mux(packet)
    return target


def frame_index_of(frame) -> int:
    """Read back the index of an ``"index"``-pattern frame: uint8 array or tensor, (H, W, C) or (C, H, W).

    Works on a resized frame as long as the stripes keep their horizontal order (no flip, no crop that
    cuts a stripe off).
    """
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    luma = array.astype(np.float32).mean(axis=(0, 2))  # (W,)
    stripe = luma.shape[0] / INDEX_BITS
    index = 0
    for b in range(INDEX_BITS):
        centre = luma[int((b + 0.25) * stripe) : max(int((b + 0.75) * stripe), int((b + 0.25) * stripe) + 1)]
        index = (index << 1) | int(centre.mean() > (_BLACK + _WHITE) / 2)
    return index
