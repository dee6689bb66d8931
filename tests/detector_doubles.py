"""Scripted person detectors for tests of the decision logic (no model runs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hf_tiktokactions.curation.stages.person_detection import Detection


class ScriptedDetector:
    """Answers from ``persons_by_frame``: frame position in the batch -> number of person boxes (tests)."""

    def __init__(self, persons_by_frame: dict[int, int] | Sequence[int], name: str = "scripted") -> None:
        self.name = name
        self.persons_by_frame = (
            dict(enumerate(persons_by_frame)) if isinstance(persons_by_frame, (list, tuple)) else dict(persons_by_frame)
        )

    def detect(self, frames_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        out = []
        for position, frame in enumerate(frames_bgr):
            height, width = frame.shape[:2]
            box = {"box": [0.0, 0.0, float(width), float(height)], "confidence": 1.0, "label": "person"}
            out.append([dict(box) for _ in range(self.persons_by_frame.get(position, 0))])
        return out
