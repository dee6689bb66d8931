"""The views a classifier sees of one video, and the clips cut from frames decoded once.

* ``plan_views``: the model's single clip (``views=None``: the official validation clip, ``num_frames`` frames
  spread over the centred ``num_frames x sampling_rate`` span, or the middle frame of each TSN segment; centre
  crop) or the ``temporal x spatial`` views of multi-view testing;
* ``frames_needed``: the distinct frames all views use, sorted: decode these once;
* ``view_clips``: (short-side resized) distinct frames -> one uint8 clip per view, cropped and brought to the
  model's input size. Frames shared by views are resized once, before this, and only cropped here.

``hf_tiktokactions.inference`` (the Space, multi-view testing through ``MultiViewVideoDataset``) builds on these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hf_tiktokactions.data.sampling import MultiView, finetune_clip_indices, multiview_clips, segment_indices
from hf_tiktokactions.data.transforms import crop_at_input_size

__all__ = ["plan_views", "frames_needed", "view_clips"]


def plan_views(
    num_video_frames: int,
    num_frames: int,
    sampling_rate: int,
    segment_based: bool = False,
    views: tuple[int, int] | None = None,
) -> tuple[list[MultiView], int]:
    """(the views, the number of spatial crops) of a video of ``num_video_frames`` frames.

    ``views=None`` is the single clip a model is validated on during fine-tuning and served (upstream's
    validation mode: ``finetune_clip_indices`` centred, or TSN middle frames; the centre crop);
    ``(temporal, spatial)`` are the views of multi-view testing (upstream's test mode), temporal-major.
    """
    if views is None:
        if segment_based:
            indices = segment_indices(num_video_frames, num_frames)
        else:
            indices = finetune_clip_indices(num_video_frames, num_frames, sampling_rate)
        return [MultiView(0, 0, indices)], 1
    temporal, spatial = views
    return multiview_clips(num_video_frames, temporal, spatial, num_frames, sampling_rate, segment_based), spatial


def frames_needed(views: Sequence[MultiView]) -> np.ndarray:
    """int64 (F,): the distinct frame indices of all ``views``, ascending."""
    return np.unique(np.concatenate([view.indices for view in views]))


def view_clips(
    frames: torch.Tensor,
    wanted: np.ndarray,
    views: Sequence[MultiView],
    num_crops: int,
    short_side: int,
    crop_size: int,
) -> torch.Tensor:
    """uint8 (F, C, H, W) frames ``wanted`` (already short-side resized to ``short_side``) -> uint8
    (V, T, C, crop_size, crop_size): for each view its frames, the ``crop_size`` square ``view.spatial`` of
    ``num_crops`` along the long side, centred across the short side (one crop: the centre crop, upstream's
    validation ``Resize(short_side)`` + ``CenterCrop(crop_size)``; upstream tests with ``short_side`` =
    ``crop_size``). A short side below ``crop_size`` is scaled up to it."""
    slot = {int(index): position for position, index in enumerate(wanted)}
    clips = []
    for view in views:
        clip = frames[[slot[int(i)] for i in view.indices]]
        clips.append(crop_at_input_size(clip, short_side, crop_size, view.spatial, num_crops))
    return torch.stack(clips)
