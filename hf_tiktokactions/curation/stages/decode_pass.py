"""The one decode pass a video gets: every frame is decoded once, scaled once to clip size, turned upright,
and handed to the scene cutter (as a small BGR frame) and to the clip's candidate buffer.

Phone videos: a portrait video is usually stored sideways with a display matrix that turns it upright
(PyAV shows its angle on each decoded frame, ``frame.rotation``; the container probe cannot see it without
decoding). The clip size asked for is the size as stored; each frame is scaled to it, then turned plane
by plane, so the clip frames are upright (``DecodePass.rotation`` says by how much) and the clip needs no
display matrix.

Decoding is FFmpeg through PyAV with ``threads`` decoder threads (1 when the worker is pinned to a core:
the process pool is the parallelism). A decode error part-way is returned as ``error`` with the frames
decoded until then, so the caller decides what a damaged file means.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hf_tiktokactions.curation.stages.clip_selection import CandidateFrames
from hf_tiktokactions.curation.stages.probe import quiet_ffmpeg
from hf_tiktokactions.curation.stages.scenes import Scene, SceneCutter, detection_size
from hf_tiktokactions.display_rotation import quarter_turns, upright_frame
from hf_tiktokactions.video_streams import main_video_stream


@dataclass
class DecodePass:
    """What the pass learned. ``times``: start time (s) of every decoded frame, the first at 0."""

    times: list[float] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    candidates: CandidateFrames | None = None
    error: str | None = None
    rotation: int = 0  # the display rotation applied to the frames: 0, 90, 180 or 270 degrees counter-clockwise

    def upright_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of a frame stored as ``width`` x ``height``, once turned upright."""
        return (height, width) if self.rotation in (90, 270) else (width, height)

    @property
    def num_frames(self) -> int:
        return len(self.times)


def _decoded_frames(path: str | os.PathLike, threads: int) -> Iterator[Any]:
    """``av.VideoFrame`` of the main video stream (never a cover picture), in display order."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        stream = main_video_stream(container)
        context = stream.codec_context
        context.thread_count = threads
        if threads == 1:
            context.thread_type = "NONE"  # no frame-thread delay and no helper threads on a pinned core
        yield from container.decode(stream)


def _upright_clip_frame(frame: Any, clip_width: int, clip_height: int) -> Any:
    """``frame`` scaled to ``clip_width`` x ``clip_height`` (the stored orientation; square pixels: the clip size
    follows the shown aspect ratio), yuv420p, turned upright."""
    return upright_frame(frame.reformat(width=clip_width, height=clip_height, format="yuv420p"), frame.rotation)


class _Clock:
    """Frame start times in seconds from the first frame; falls back to 1/fps steps where pts are missing or go back."""

    def __init__(self, fps: float) -> None:
        self.step = 1.0 / fps if fps > 0 else 1.0 / 30
        self.origin: float | None = None
        self.last = -self.step

    def time_of(self, frame: Any) -> float:
        raw = frame.time
        if raw is not None and self.origin is None:
            self.origin = raw
        if raw is None or self.origin is None or raw - self.origin <= self.last:
            value = self.last + self.step
        else:
            value = raw - self.origin
        self.last = value
        return value


def decode_pass(
    path: str | os.PathLike,
    fps: float,
    clip_width: int,
    clip_height: int,
    cutter: SceneCutter,
    candidates: CandidateFrames,
    threads: int = 1,
) -> DecodePass:
    """Decode ``path`` once, feeding ``cutter`` and ``candidates``; see the module docstring."""
    quiet_ffmpeg()
    result = DecodePass(candidates=candidates)
    clock = _Clock(fps)
    try:
        for frame in _decoded_frames(path, threads):
            if not result.times:
                result.rotation = 90 * quarter_turns(frame.rotation)
                detect_width, detect_height = detection_size(*result.upright_size(clip_width, clip_height))
            clip_frame = _upright_clip_frame(frame, clip_width, clip_height)
            small = clip_frame.reformat(width=detect_width, height=detect_height, format="bgr24").to_ndarray()
            result.times.append(clock.time_of(frame))
            candidates.add(clip_frame)
            for cut in sorted(cutter.add(small)):
                candidates.cut(cut)
    except Exception as error:
        result.error = f"decode error after {len(result.times)} frames: {type(error).__name__}: {error}"
    for cut in sorted(cutter.finish()):
        candidates.cut(cut)
    candidates.finish()
    result.scenes = cutter.scenes()
    return result


def read_frame_range(
    path: str | os.PathLike, start: int, end: int, clip_width: int, clip_height: int, threads: int = 1
) -> list[Any]:
    """Frames [start, end) at clip size (as stored), turned upright, decoding from the beginning (used only when
    the buffer cap dropped them)."""
    frames = []
    for index, frame in enumerate(_decoded_frames(path, threads)):
        if index >= end:
            break
        if index >= start:
            frames.append(_upright_clip_frame(frame, clip_width, clip_height))
    return frames
