"""Where to seek in a video stream so that decoding from there passes a wanted frame.

Demuxers seek by their own index: AVI's idx1 by decode order, MP4's sample table by decode time shifted by the
edit list, Matroska's cues by presentation time. With B-frames a keyframe is decoded before the frames shown just
ahead of it: in an XviD AVI (UCF101, HMDB51) the keyframe shown 13th is decoded 10th, so a backward seek to the
wanted frame's own timestamp (frame 10, a P-frame decoded 7th) lands on that keyframe, after frame 10 went by,
and frame 10 never comes out. A backward seek to the presentation timestamp of the last keyframe *shown* at or
before the wanted frame lands on that keyframe in all three (each index files a keyframe at or before its own
pts, and the next keyframe after that pts), so decoding passes every frame shown from there on.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

__all__ = ["seek_point"]


def seek_point(keyframe_pts: Sequence[int], target_pts: int) -> int:
    """Timestamp to seek backward to so that decoding passes the frame shown at ``target_pts``.

    ``keyframe_pts``: the presentation timestamps of the stream's keyframes, ascending. Without any (a
    container that flags none) it is ``target_pts`` itself; before the first keyframe, the first keyframe.
    """
    if not len(keyframe_pts):
        return int(target_pts)
    slot = bisect.bisect_right(keyframe_pts, target_pts) - 1
    return int(keyframe_pts[max(slot, 0)])
