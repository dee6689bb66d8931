"""Which 3.5-10 s of a video become its clip, and which decoded frames to keep until that is known.

The rule (the paper keeps the longest scene and clips it to at most 10 s):

1. take the longest scene, counted in frames (ties: the earliest);
2. if it lasts less than ``min_seconds`` (3.5 s), the video is rejected with that reason;
3. if it lasts more than ``max_seconds`` (10 s), take the ``max_seconds`` window at its centre: the
   middle of a shot is least likely to hold a transition, fade or title card that the content
   detector missed, and the rule needs no second pass over the video.

The person filter runs on the chosen clip afterwards (it decides pass / review, not the window), so
the decode pass can pick the clip alone. :class:`CandidateFrames` keeps only the clip-size frames that
can still fall in that window while the video streams past: frames of a scene shorter than the best
one so far are dropped when the scene ends, and inside a long scene the centre window only moves
forward, so frames before its earliest possible start are dropped at once. Memory is therefore about
``max_seconds`` plus half the longest scene, capped at ``max_buffered_frames``; a window that lost
frames to the cap is decoded again (:attr:`CandidateFrames.window_frames` is then ``None``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hf_tiktokactions.curation.stages.scenes import Scene
from hf_tiktokactions.errors import VideoRejected

TIME_TOLERANCE = 1e-6
"""Seconds within which a clip counts as ``min_seconds`` / ``max_seconds`` long: frame times are floats made from
the stream's timestamps, so a scene of exactly 3.5 s can measure 3.4999999999999996 s (1e-6 s is far under a
frame, and under one tick of the usual time bases: 1/90000 s is 1.1e-5 s)."""


@dataclass(frozen=True)
class ClipRule:
    """Clip length limits, in seconds."""

    min_seconds: float = 3.5
    max_seconds: float = 10.0


@dataclass(frozen=True)
class ClipSpan:
    """The chosen clip: frames ``start_frame``..``end_frame`` (exclusive) and their times in seconds."""

    start_frame: int
    end_frame: int
    start: float
    end: float

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame


def centre_window(scene: Scene, max_frames: int) -> tuple[int, int]:
    """Frames [start, end) of the ``max_frames`` window at the centre of ``scene`` (all of it when shorter)."""
    if scene.num_frames <= max_frames:
        return scene.start, scene.end
    start = scene.start + (scene.num_frames - max_frames) // 2
    return start, start + max_frames


def frame_end_time(times: Sequence[float], index: int, fps: float) -> float:
    """When frame ``index`` starts; for one past the last frame, the last frame's start plus one frame."""
    if index < len(times):
        return times[index]
    return times[-1] + (1.0 / fps if fps > 0 else 0.0)


def choose_clip(
    scene: Scene | None, window: tuple[int, int] | None, times: Sequence[float], fps: float, rule: ClipRule
) -> ClipSpan:
    """Check the longest ``scene`` against ``rule`` and return its window in seconds; raise ``VideoRejected``.

    ``times`` are the start times (seconds) of all decoded frames; for a variable-frame-rate video the
    frame-count window may span more than ``max_seconds``, so its end is pulled in until it fits.
    """
    if scene is None or window is None or not times:
        raise VideoRejected("no decodable frames")
    scene_seconds = frame_end_time(times, scene.end, fps) - times[scene.start]
    if scene_seconds < rule.min_seconds - TIME_TOLERANCE:
        raise VideoRejected(f"too short: the longest scene lasts {scene_seconds:.2f} s < {rule.min_seconds:g} s")
    start, end = window
    while end - start > 1 and frame_end_time(times, end, fps) - times[start] > rule.max_seconds + TIME_TOLERANCE:
        end -= 1
    return ClipSpan(start, end, round(times[start], 6), round(frame_end_time(times, end, fps), 6))


class CandidateFrames:
    """The frames that may still be in the clip, fed in decode order; see the module docstring.

    Args:
        max_clip_frames: frames in a ``max_seconds`` window at the video's frame rate.
        max_buffered_frames: memory cap for the open scene's frames.
        cut_lag_frames: how many frames late the scene detector may report a cut (its flash filter).
    """

    def __init__(self, max_clip_frames: int, max_buffered_frames: int, cut_lag_frames: int) -> None:
        self.max_clip_frames = max(1, max_clip_frames)
        self.max_buffered_frames = max(self.max_clip_frames + cut_lag_frames, max_buffered_frames)
        self.cut_lag_frames = cut_lag_frames
        self._open: deque[tuple[int, Any]] = deque()
        self._open_start = 0
        self._lost_before = 0  # frames with a lower index were dropped by the memory cap
        self._next = 0
        self.best: Scene | None = None
        self.window: tuple[int, int] | None = None
        self.window_frames: list[Any] | None = None

    def add(self, frame: Any) -> None:
        """Append the next decoded frame."""
        index = self._next
        self._next += 1
        self._open.append((index, frame))
        seen = index + 1 - self.cut_lag_frames - self._open_start  # the open scene is at least this long
        earliest_start = self._open_start + max(0, (seen - self.max_clip_frames) // 2)
        while self._open and self._open[0][0] < earliest_start:
            self._open.popleft()
        while len(self._open) > self.max_buffered_frames:
            self._lost_before = self._open.popleft()[0] + 1

    def cut(self, at: int) -> None:
        """A scene boundary before frame ``at`` (cuts arrive in increasing order)."""
        if at <= self._open_start:
            return
        self._close(Scene(self._open_start, at))
        self._open_start = at
        while self._open and self._open[0][0] < at:
            self._open.popleft()

    def finish(self) -> None:
        """Close the last scene after the last frame."""
        if self._next > self._open_start:
            self._close(Scene(self._open_start, self._next))
        self._open.clear()

    def _close(self, scene: Scene) -> None:
        if self.best is not None and scene.num_frames <= self.best.num_frames:
            return
        start, end = centre_window(scene, self.max_clip_frames)
        self.best, self.window = scene, (start, end)
        kept = [frame for index, frame in self._open if start <= index < end]
        self.window_frames = kept if len(kept) == end - start and start >= self._lost_before else None
