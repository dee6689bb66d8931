"""What a container says about a video, read without decoding a frame (the ``ffprobe`` equivalent).

:func:`probe_source` reads an input's container before the decode pass and turns every way it cannot be read
(missing, empty, not a media file, audio only) into :class:`VideoRejected` with the reason the index records;
:func:`check_source` then rejects what it read as too large, too elongated or too short (the caller records the
facts first, so a rejected video keeps them). :func:`count_frames` counts the packets of a written clip's video
stream (``ffprobe -count_packets``), which for our all-frames H.264 clips is its frame count.

The video stream is the file's main one, never a cover picture nor a camera's thumbnail or an editor's proxy track
beside it (``video_streams.main_video_stream``). A stream of non-square pixels (an anamorphic encode: its sample
aspect ratio is not 1:1) is probed at the size a player shows, so the clip made from it is resampled to square pixels.

``hf_tiktokactions.data.decoding.probe_video`` answers the same question for the data layer, but it
imports torch; curation workers that run with the detector off never need torch, so this module
talks to PyAV directly.
"""

from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import VideoRejected
from hf_tiktokactions.video_streams import (
    main_video_stream,
    shown_frame_count,
    square_pixel_width,
    video_stream_duration,
)


@dataclass(frozen=True)
class SourceProbe:
    """Container facts about the main video stream. ``width`` x ``height``: the size a player shows (as stored,
    before the display rotation; non-square pixels made square). ``duration`` is in seconds (0 when unknown);
    ``num_frames`` the frames the container declares (0 when unknown), less those an edit list cuts;
    ``declared_bytes`` the file size a Matroska / WebM header or an MP4 / MOV file's top-level boxes declare (0 when
    none: other containers, or a live-written file of unknown size)."""

    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str
    size_bytes: int
    declared_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def quiet_ffmpeg() -> None:
    """Broken inputs are reported as reasons in the index; FFmpeg's own log lines about them are noise."""
    import av.logging

    av.logging.set_level(None)


def open_error_reason(error: BaseException) -> str:
    """A short reason for a file FFmpeg cannot open (the full path is in the record already)."""
    text = str(error)
    if "Invalid data found" in text:
        return "not a readable media file (corrupt, truncated or not a video)"
    if "moov atom not found" in text:
        return "truncated MP4 (no index atom)"
    return f"cannot open: {type(error).__name__}: {text}"


def probe_source(path: str | os.PathLike) -> SourceProbe:
    """Read the container header of ``path``; raise :class:`VideoRejected` when it cannot be read as a video."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoRejected("file not found")
    size = path.stat().st_size
    if size == 0:
        raise VideoRejected("empty file (0 bytes)")
    declared_bytes = matroska_declared_bytes(path) or mp4_declared_bytes(path)
    # a download cut short in an MP4's index (the moov box, last unless faststart) opens as anything from "no video
    # stream" to a stream without a codec: the boxes' sizes tell the cut apart from a file that is corrupt
    cut_short = VideoRejected(truncated_reason(size, declared_bytes)) if size < declared_bytes else None
    quiet_ffmpeg()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as error:
        raise (cut_short or VideoRejected(open_error_reason(error))) from None
    with container:
        stream = main_video_stream(container)
        if stream is None:
            kinds = sorted({s.type for s in container.streams})
            raise cut_short or VideoRejected("no video stream (audio only)" if "audio" in kinds else "no video stream")
        if stream.codec_context is None:
            raise cut_short or VideoRejected("the video stream names no codec FFmpeg can decode (corrupt header)")
        width, height = square_pixel_width(stream), stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or 0
        duration = video_stream_duration(container, stream)
        declared = shown_frame_count(stream, duration)
        codec = stream.codec_context.name
    if width <= 0 or height <= 0:
        raise VideoRejected("the video stream has no frame size (corrupt header)")
    return SourceProbe(width, height, float(rate), declared, duration, codec, size, declared_bytes)


def check_source(probe: SourceProbe, max_pixels: int, max_aspect_ratio: float, min_seconds: float) -> None:
    """Raise :class:`VideoRejected` when the probed video cannot become a clip: cut short, too many pixels, too
    elongated, shorter than ``min_seconds``."""
    width, height, duration = probe.width, probe.height, probe.duration
    if probe.size_bytes < probe.declared_bytes:  # Matroska declares no frame count; an MP4 may decode up to the cut
        raise VideoRejected(truncated_reason(probe.size_bytes, probe.declared_bytes))
    if width * height > max_pixels:
        raise VideoRejected(f"resolution {width}x{height} exceeds --max-pixels {max_pixels}")
    if max(width, height) / min(width, height) > max_aspect_ratio:
        raise VideoRejected(f"aspect ratio {width}x{height} is beyond {max_aspect_ratio:g}:1")
    if 0 < duration < min_seconds:
        raise VideoRejected(f"too short: {duration:.2f} s < {min_seconds:g} s")


def truncated_reason(size_bytes: int, declared_bytes: int) -> str:
    """The reason of a file that holds fewer bytes than its container declares."""
    return (
        f"truncated: the file holds {size_bytes} of the {declared_bytes} bytes its header declares "
        "(a download cut short)"
    )


def mp4_declared_bytes(path: str | os.PathLike) -> int:
    """The bytes an MP4 / MOV file's top-level boxes declare (each box starts with its size), when that is more than
    the file holds: a download cut short ends inside a box. 0 for a complete file, a file that does not start with
    an ``ftyp`` box, and anything the walk cannot judge (a box "to the end of the file", a few trailing bytes)."""
    try:
        size = os.path.getsize(path)
        position = 0
        with open(path, "rb") as file:
            while position < size:
                file.seek(position)
                header = file.read(16)
                if len(header) < 8:
                    return 0
                box_size, kind = struct.unpack(">I4s", header[:8])
                if position == 0 and kind != b"ftyp":
                    return 0
                if box_size == 1 and len(header) == 16:  # a 64-bit size follows the type
                    box_size = struct.unpack(">Q", header[8:])[0]
                if box_size < 8:
                    return 0
                position += box_size
        return position if position > size else 0
    except OSError:
        return 0


_EBML_HEADER, _MATROSKA_SEGMENT = 0x1A45DFA3, 0x18538067


def _ebml_number(data: bytes, at: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length number at ``data[at:]``: (value, bytes it takes); the length marker bit is kept for
    element ids and dropped for sizes (a size of all ones, "unknown", is returned as -1)."""
    first = data[at]
    length = next((i + 1 for i in range(8) if first & (0x80 >> i)), 0)
    if not length or at + length > len(data):
        raise ValueError("not an EBML number")
    value = int.from_bytes(data[at : at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            return -1, length
    return value, length


def matroska_declared_bytes(path: str | os.PathLike) -> int:
    """The size a Matroska / WebM file's header declares (its EBML header plus the segment's declared size); 0 for
    other files and for a segment of unknown size. A download cut short keeps the header and so declares more bytes
    than it holds; Matroska declares no frame count, so nothing else shows the cut."""
    try:
        with open(path, "rb") as file:
            data = file.read(64)
        position = 0
        for expected in (_EBML_HEADER, _MATROSKA_SEGMENT):
            element, taken = _ebml_number(data, position, keep_marker=True)
            if element != expected:
                return 0
            size, size_taken = _ebml_number(data, position + taken, keep_marker=False)
            position += taken + size_taken
            if element == _EBML_HEADER:
                position += size
        return position + size if size >= 0 else 0
    except (OSError, ValueError, IndexError):
        return 0


def count_frames(path: str | os.PathLike) -> int:
    """Video packets in ``path`` (demux only, nothing decoded); our clips hold one frame per packet."""
    import av

    with av.open(str(path)) as container:
        stream = main_video_stream(container)
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
