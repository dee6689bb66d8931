"""Frame indices spread evenly over a clip (the paper samples 10 frames per clip for the person filter)."""

from __future__ import annotations

import numpy as np


def evenly_spaced_indices(num_frames: int, count: int) -> list[int]:
    """``count`` indices in [0, num_frames), first and last included, no repeats (fewer when the clip is shorter)."""
    if num_frames <= 0 or count <= 0:
        return []
    if count == 1:
        return [num_frames // 2]
    return sorted({int(i) for i in np.linspace(0, num_frames - 1, min(count, num_frames)).round()})
