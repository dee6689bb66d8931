"""Write a clip: H.264, short GOP, written to a temporary name and renamed, so a kill leaves no half file.

Frames arrive already scaled (PyAV ``VideoFrame`` in yuv420p, from the shared decode pass); their
source timestamps are kept, rebased to 0, so a variable-frame-rate input stays variable. ``faststart``
puts the MP4 index first, so a reader (or an ``hf://`` stream) opens the clip without seeking to its end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

CLIP_TIME_BASE = Fraction(1, 90000)


@dataclass(frozen=True)
class ClipEncoding:
    """x264 settings of the clips. ``gop`` is the keyframe interval in frames (short: fast random access)."""

    short_side: int = 320
    preset: str = "superfast"
    crf: int = 23
    gop: int = 16
    threads: int = 1


def clip_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side ``short_side`` (never upscaled), both even for yuv420p."""
    factor = min(1.0, short_side / min(width, height))
    return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)


def write_clip(frames: Sequence[Any], times: Sequence[float], fps: float, target: Path, encoding: ClipEncoding) -> None:
    """Encode ``frames`` (yuv420p ``av.VideoFrame``, start times ``times`` in seconds) to ``target`` atomically."""
    import av

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp.mp4", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001) if fps > 0 else 30)
            stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
            stream.time_base = stream.codec_context.time_base = CLIP_TIME_BASE
            stream.codec_context.thread_count = encoding.threads
            stream.options = {
                "preset": encoding.preset,
                "crf": str(encoding.crf),
                "g": str(encoding.gop),
                "threads": str(encoding.threads),
            }
            origin, last = times[0], -1
            for frame, time in zip(frames, times):
                pts = max(last + 1, int(round((time - origin) / CLIP_TIME_BASE)))
                frame.pts, frame.time_base, last = pts, CLIP_TIME_BASE, pts
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; clips are read by other users' loaders
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
