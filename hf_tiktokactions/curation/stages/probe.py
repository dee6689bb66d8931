"""What a container says about a video, read without decoding a frame (the ``ffprobe`` equivalent).

:func:`probe_source` checks an input before the decode pass and turns every way it can be unusable
(missing, empty, not a media file, audio only, too large, too short) into :class:`VideoRejected` with
the reason the index records. :func:`count_frames` counts the packets of a written clip's video
stream (``ffprobe -count_packets``), which for our all-frames H.264 clips is its frame count.

``hf_tiktokactions.data.decoding.probe_video`` answers the same question for the data layer, but it
imports torch; curation workers that run with the detector off never need torch, so this module
talks to PyAV directly.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import VideoRejected


@dataclass(frozen=True)
class SourceProbe:
    """Container facts about the first video stream. ``duration`` is in seconds (0 when unknown); ``num_frames``
    the frames the container declares (0 when unknown), less those an edit list cuts."""

    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    codec: str
    size_bytes: int

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


def probe_source(path: str | os.PathLike, max_pixels: int, max_aspect_ratio: float, min_seconds: float) -> SourceProbe:
    """Read the container header of ``path``; raise :class:`VideoRejected` when it cannot become a clip."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoRejected("file not found")
    size = path.stat().st_size
    if size == 0:
        raise VideoRejected("empty file (0 bytes)")
    quiet_ffmpeg()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as error:
        raise VideoRejected(open_error_reason(error)) from None
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            raise VideoRejected("no video stream (audio only)" if "audio" in kinds else "no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or 0
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        declared = int(stream.frames or 0)
        if declared and duration > 0 and rate:  # an edit list (a trim by stream copy) shows fewer frames than stored
            declared = min(declared, round(duration * float(rate)))
        probe = SourceProbe(width, height, float(rate), declared, duration, stream.codec_context.name, size)
    if width <= 0 or height <= 0:
        raise VideoRejected("the video stream has no frame size (corrupt header)")
    if width * height > max_pixels:
        raise VideoRejected(f"resolution {width}x{height} exceeds --max-pixels {max_pixels}")
    if max(width, height) / min(width, height) > max_aspect_ratio:
        raise VideoRejected(f"aspect ratio {width}x{height} is beyond {max_aspect_ratio:g}:1")
    if 0 < duration < min_seconds:
        raise VideoRejected(f"too short: {duration:.2f} s < {min_seconds:g} s")
    return probe


def count_frames(path: str | os.PathLike) -> int:
    """Video packets in ``path`` (demux only, nothing decoded); our clips hold one frame per packet."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
