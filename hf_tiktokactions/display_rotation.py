"""Phone videos: turn decoded frames upright by their display rotation.

A phone records with its sensor in landscape and, for a portrait video, stores the frames sideways plus a
display matrix (the MP4 ``tkhd`` matrix; older FFmpeg showed it as a ``rotate`` tag) that tells a player
to turn them. libavcodec does not apply it to decoded frames; PyAV reports its angle on each frame as
``frame.rotation``: degrees counter-clockwise, in [-180, 180] (``ffprobe`` prints the same number as
"displaymatrix: rotation of ... degrees"; an iPhone portrait video says -90). Turning the frame
counter-clockwise by that angle gives what a player shows, which is also what decord and torchcodec
return. Angles that are not a multiple of 90 degrees are rounded to the nearest quarter turn, as
torchcodec does; mirroring in the matrix is ignored.

Needs no torch, so curation workers use it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["quarter_turns", "upright_array", "upright_frame"]


def quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns (0..3) that display a frame of ``rotation`` degrees upright."""
    return int(round((rotation or 0) / 90)) % 4


def upright_array(array: np.ndarray, rotation: float | None) -> np.ndarray:
    """``array`` (H, W, ...) turned upright: a view (negative strides) when it turns, ``array`` itself when not."""
    turns = quarter_turns(rotation)
    return np.rot90(array, turns) if turns else array


def upright_frame(frame: Any, rotation: float | None = None) -> Any:
    """A yuv420p ``av.VideoFrame`` turned upright by ``rotation`` (default: its own ``frame.rotation``).

    Each plane (Y, U, V) is turned on its own, which is what FFmpeg's ``transpose`` filter does: no
    colour conversion, no loss. Returns ``frame`` itself when there is nothing to turn; the new frame
    carries ``frame``'s ``pts`` and ``time_base``.
    """
    import av

    turns = quarter_turns(frame.rotation if rotation is None else rotation)
    if not turns:
        return frame
    if frame.format.name != "yuv420p":
        raise ValueError(f"upright_frame takes yuv420p frames, got {frame.format.name}")
    height, width = frame.height, frame.width
    flat = frame.to_ndarray().reshape(-1)  # yuv420p: Y (H*W), then U and V (H/2 * W/2 each)
    luma, chroma = height * width, (height // 2) * (width // 2)
    planes = (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )
    turned = [np.rot90(plane, turns) for plane in planes]
    new_width = turned[0].shape[1]
    packed = np.concatenate([plane.reshape(-1) for plane in turned]).reshape(-1, new_width)
    result = av.VideoFrame.from_ndarray(packed, format="yuv420p")
    result.pts, result.time_base = frame.pts, frame.time_base
    return result
