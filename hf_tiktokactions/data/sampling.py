"""Which frames of a video make a clip: dense clips, TSN segments, and the multi-view test sampler.

Every sampler takes the video's frame count and returns frame indices (int64 numpy arrays) to pass to
``VideoReader.read``. Random draws come from a ``numpy.random.Generator``; with ``rng=None`` a sampler is
deterministic (the centred/validation choice).

Short videos follow the official VideoMAE V2 code:

* fine-tuning clips (``VideoClsDataset`` train and validation modes, :func:`finetune_clip_indices`):
  ``num_frames`` indices spread evenly (``np.linspace``) over a span of ``num_frames * stride`` frames, so the
  steps are not all ``stride`` (4, 4, 4, 5, ... for 16 x 4); a shorter video is spread over its length and
  padded with its last frame;
* dense clips (pre-training, ``HybridVideoMAE``): start at frame 0 and step by ``stride`` while the next
  index is at most ``num_video_frames - 2`` (upstream's bound), then repeat the last index reached
  (``short_video="clamp"``); ``"loop"`` wraps around to the start instead, keeping motion in every slot;
* TSN segments (SSv2, ``RawFrameClsDataset``): with fewer frames than segments, pad with frame 0 in front;
* the multi-view test sampler (``VideoClsDataset`` test mode): every ``stride``-th frame, padded with the
  last one up to ``num_frames``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "dense_clip_indices",
    "finetune_clip_indices",
    "segment_indices",
    "multiview_indices",
    "MultiView",
    "multiview_clips",
]


def _check(num_video_frames: int) -> None:
    if num_video_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_video_frames}")


def dense_clip_indices(
    num_video_frames: int,
    num_frames: int = 16,
    stride: int = 4,
    rng: np.random.Generator | None = None,
    short_video: str = "clamp",
) -> np.ndarray:
    """``num_frames`` frames ``stride`` apart; a random start when ``rng`` is given, else the centred clip.

    A video shorter than the clip span (``num_frames * stride``) starts at 0 and is clamped (the last frame
    repeats) or looped (indices wrap around), see the module docstring.

    Returns:
        int64 (num_frames,).
    """
    _check(num_video_frames)
    span = num_frames * stride
    steps = np.arange(num_frames, dtype=np.int64) * stride
    if num_video_frames >= span:
        latest_start = num_video_frames - span
        start = int(rng.integers(0, latest_start + 1)) if rng is not None else latest_start // 2
        return start + steps
    if short_video == "clamp":
        # upstream advances only while the next index stays <= num_video_frames - 2, then repeats it
        last_reached = max(num_video_frames - 2, 0) // stride * stride
        return np.minimum(steps, last_reached)
    if short_video == "loop":
        return steps % num_video_frames
    raise ValueError(f"short_video must be 'clamp' or 'loop', got {short_video!r}")


def finetune_clip_indices(
    num_video_frames: int, num_frames: int = 16, stride: int = 4, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The official fine-tuning clip (``VideoClsDataset.load_video``, train and validation modes).

    A video longer than the span ``num_frames * stride`` gets ``np.linspace(start, end, num_frames)`` truncated
    to integers and kept below ``end``, with ``end`` drawn from ``[span, num_video_frames)`` (``rng``, training)
    or centred (``rng=None``, validation) and ``start = end - span``; a shorter one ``num_video_frames // stride``
    indices spread over it, padded with its last frame.

    Returns:
        int64 (num_frames,).
    """
    _check(num_video_frames)
    span = num_frames * stride
    if num_video_frames <= span:
        spread = np.linspace(0, num_video_frames, num=num_video_frames // stride)
        index = np.concatenate([spread, np.full(num_frames - len(spread), float(num_video_frames))])
        return np.clip(index, 0, num_video_frames - 1).astype(np.int64)
    end = (span + num_video_frames) // 2 if rng is None else int(rng.integers(span, num_video_frames))
    start = end - span
    return np.clip(np.linspace(start, end, num=num_frames), start, end - 1).astype(np.int64)


def segment_indices(
    num_video_frames: int,
    num_segments: int = 16,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """TSN sampling: split the video into ``num_segments`` equal segments, one frame from each.

    Training (``rng`` given) picks a random frame per segment, evaluation (``rng=None``) the middle one.
    Fewer frames than segments: sorted random frames (training) / the first ``num_segments`` frames, and
    with even fewer frames than that, every frame once padded in front with frame 0.

    Returns:
        int64 (num_segments,).
    """
    _check(num_video_frames)
    length = num_video_frames // num_segments
    starts = np.arange(num_segments, dtype=np.int64) * length
    if length > 0:
        offsets = rng.integers(0, length, size=num_segments) if rng is not None else np.full(num_segments, length // 2)
        return starts + offsets
    if num_video_frames > num_segments:  # only reachable with length == 0, kept for parity with upstream
        if rng is None:
            return np.arange(num_segments)
        return np.sort(rng.integers(0, num_video_frames, size=num_segments))
    return np.concatenate([np.zeros(num_segments - num_video_frames, dtype=np.int64), np.arange(num_video_frames)])


def multiview_indices(
    num_video_frames: int,
    view: int,
    num_views: int,
    num_frames: int = 16,
    stride: int = 4,
    segment_based: bool = False,
) -> np.ndarray:
    """Frame indices of temporal view ``view`` of ``num_views`` (deterministic).

    Dense (``segment_based=False``, Kinetics-style): take every ``stride``-th frame (padded with the last up
    to ``num_frames``) and slide a ``num_frames`` window to ``num_views`` evenly spaced starts. Segment-based
    (SSv2): ``num_frames`` segments, view ``v`` takes frame ``int(tick * (x + v / num_views))`` of segment
    ``x``, ``tick = num_video_frames / num_frames`` (upstream test mode, so one view takes the first frame of
    each segment; the validation clip's middle frames are ``segment_indices`` without ``rng``).

    Returns:
        int64 (num_frames,).
    """
    _check(num_video_frames)
    if not 0 <= view < num_views:
        raise ValueError(f"view must be in [0, {num_views}), got {view}")
    if segment_based:
        tick = num_video_frames / num_frames
        return np.array([int(tick * x + tick * view / num_views) for x in range(num_frames)], dtype=np.int64)
    every = np.arange(0, num_video_frames, stride, dtype=np.int64)
    if every.size < num_frames:
        every = np.concatenate([every, np.full(num_frames - every.size, every[-1])])
    # upstream divides by (num_views - 1); one view takes the centred window instead of dividing by zero
    step = (every.size - num_frames) / (num_views - 1) if num_views > 1 else 0.0
    start = int(view * step) if num_views > 1 else (every.size - num_frames) // 2
    return every[start : start + num_frames]


@dataclass(frozen=True)
class MultiView:
    """One of the ``num_views x num_crops`` views of multi-view testing."""

    temporal: int  # which temporal clip, 0..num_views-1
    spatial: int  # which spatial crop, 0..num_crops-1
    indices: np.ndarray  # int64 (num_frames,)


def multiview_clips(
    num_video_frames: int,
    num_views: int = 5,
    num_crops: int = 3,
    num_frames: int = 16,
    stride: int = 4,
    segment_based: bool = False,
) -> list[MultiView]:
    """All views, temporal-major (the order in which scores are averaged does not matter)."""
    return [
        MultiView(t, s, multiview_indices(num_video_frames, t, num_views, num_frames, stride, segment_based))
        for t in range(num_views)
        for s in range(num_crops)
    ]


# Earlier names, kept for outside callers. ``__test__ = False`` keeps pytest from collecting them as
# tests when a test module imports them.
test_view_indices = multiview_indices
test_views = multiview_clips
multiview_indices.__test__ = False  # type: ignore[attr-defined]
multiview_clips.__test__ = False  # type: ignore[attr-defined]
