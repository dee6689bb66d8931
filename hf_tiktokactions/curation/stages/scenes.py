"""Scene cuts with PySceneDetect's content detector, fed frame by frame from the shared decode pass.

PySceneDetect's ``SceneManager.detect_scenes`` wants to decode the video itself; the curation pass
decodes once for everything, so :class:`SceneCutter` drives the same ``ContentDetector`` with the
frames it is handed and builds the scene list the way ``SceneManager.get_scene_list(start_in_scene=True)``
does: a video without a cut is one scene from the first to the last frame (without
``start_in_scene=True`` PySceneDetect would report no scene at all for it).

Frames are expected small, BGR uint8 (H, W, 3): :func:`detection_size` gives the size PySceneDetect's
automatic downscaling would use (long side about 256 pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

SCENEDETECT_EFFECTIVE_WIDTH = 256  # scenedetect.scene_manager.DEFAULT_MIN_WIDTH, applied to the long side


def detection_size(width: int, height: int, long_side: int = SCENEDETECT_EFFECTIVE_WIDTH) -> tuple[int, int]:
    """(width, height) of the frames handed to the detector: long side ``long_side``, never upscaled, even."""
    factor = min(1.0, long_side / max(width, height))
    return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)


@dataclass(frozen=True)
class Scene:
    """Frames ``start`` (inclusive) to ``end`` (exclusive), in decode (display) order."""

    start: int
    end: int

    @property
    def num_frames(self) -> int:
        return self.end - self.start


class SceneCutter:
    """Feeds frames to PySceneDetect's ``ContentDetector``; :meth:`add` returns the cuts it reports.

    Args:
        fps: the video's (average) frame rate, for PySceneDetect's timecodes.
        threshold: ``ContentDetector`` threshold (PySceneDetect's default 27).
        min_scene_len: frames a scene lasts at least (PySceneDetect's default 15).
    """

    def __init__(self, fps: float, threshold: float = 27.0, min_scene_len: int = 15) -> None:
        from scenedetect import ContentDetector

        self._fps = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._detector = ContentDetector(threshold=threshold, min_scene_len=min_scene_len)
        self._cuts: list[int] = []
        self._num_frames = 0

    def _timecode(self, index: int):
        from scenedetect import FrameTimecode

        return FrameTimecode(index, self._fps)

    def add(self, frame_bgr: np.ndarray) -> list[int]:
        """Process the next frame (BGR uint8 (H, W, 3)).

        Returns the frame indices of new cuts (often earlier frames).
        """
        cuts = [int(c.frame_num) for c in self._detector.process_frame(self._timecode(self._num_frames), frame_bgr)]
        self._num_frames += 1
        self._cuts += cuts
        return cuts

    def finish(self) -> list[int]:
        """Flush the detector after the last frame; returns any last cuts."""
        if self._num_frames == 0:
            return []
        cuts = [int(c.frame_num) for c in self._detector.post_process(self._timecode(self._num_frames - 1))]
        self._cuts += cuts
        return cuts

    def scenes(self) -> list[Scene]:
        """The scene list (``start_in_scene=True`` semantics): consecutive, covering every frame."""
        bounds = [0, *sorted({c for c in self._cuts if 0 < c < self._num_frames}), self._num_frames]
        return [Scene(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
