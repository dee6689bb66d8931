"""One inference path for a fine-tuned classifier: single-view and multi-view, for the Space and for testing.

A video is classified by

1. planning its views (``data/views.py``): the model's single clip (the official validation clip:
   ``num_frames`` frames spread over the centred ``num_frames x sampling_rate`` span; centre crop) or
   ``temporal x spatial`` test views;
2. decoding the distinct frames of all views once and resizing each to the short side once
   (``data/video_budget.py``: probed and decoded within a ``VideoBudget``, phone videos upright);
3. cropping every view from those frames, batching the views through the model, and averaging the softmax
   over the views (``average_view_probabilities``).

``VideoClassifier`` does this for one file (the Space); multi-view testing runs steps 1-2 in
``MultiViewVideoDataset`` workers and step 3 in ``training/evaluation.py``'s ``predict_multiview``. The video
processor that ``hub export`` ships (``modeling/video_processing_videomaev2.py``) takes the same single clip
for transformers' ``pipeline("video-classification")``, where this package is not installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from hf_tiktokactions.data.transforms import normalize_video
from hf_tiktokactions.data.video_budget import VideoBudget, check_deadline, decode_within, probe_within
from hf_tiktokactions.data.views import frames_needed, plan_views, view_clips
from hf_tiktokactions.errors import ConfigError, SingleImageError

__all__ = [
    "PreprocessingSpec",
    "Classification",
    "VideoClassifier",
    "average_view_probabilities",
    "classify_clips",
    "top_labels",
]


@dataclass(frozen=True)
class PreprocessingSpec:
    """How a clip is made from a video for this model.

    ``num_frames`` frames taken ``sampling_rate`` frames apart; short side resized to ``short_side``,
    centre (or one of ``num_crops``) ``crop_size`` square crop; ImageNet normalisation. Multi-view testing
    uses ``num_views`` temporal x ``num_crops`` spatial views; ``segment_based`` picks TSN segments (SSv2)
    instead of dense clips.
    """

    num_frames: int = 16
    sampling_rate: int = 4
    crop_size: int = 224
    short_side: int = 224
    num_views: int = 5
    num_crops: int = 3
    segment_based: bool = False

    @classmethod
    def for_model_config(cls, config: Any, **overrides: Any) -> PreprocessingSpec:
        """Defaults matching a ``VideoMAEv2Config`` (frames and crop size), with ``overrides`` applied."""
        values = {"num_frames": config.num_frames, "crop_size": config.image_size, "short_side": config.image_size}
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        for name in ("num_frames", "sampling_rate", "crop_size", "short_side", "num_views", "num_crops"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"preprocessing {name} must be a positive integer, got {getattr(self, name)!r}")
        if self.short_side < self.crop_size:
            raise ConfigError(
                f"short_side {self.short_side} is smaller than crop_size {self.crop_size}; the crop would not fit"
            )


def average_view_probabilities(logits: torch.Tensor, num_views: int) -> torch.Tensor:
    """(B * V, K) logits, views of a video adjacent -> (B, K) mean over the V views of the softmax probabilities."""
    probabilities = logits.float().softmax(dim=-1)
    return probabilities.view(-1, num_views, probabilities.shape[-1]).mean(dim=1)


def classify_clips(
    model: torch.nn.Module,
    clips: torch.Tensor,
    *,
    dtype: torch.dtype | None = None,
    clips_per_forward: int = 4,
    before_forward: Callable[[], None] | None = None,
) -> torch.Tensor:
    """The view-averaged probabilities of one video: uint8 or normalised float (V, T, C, S, S) -> float32 (K,).

    The views go through the model ``clips_per_forward`` at a time (bounded memory); ``before_forward`` is
    called before each forward (e.g. a deadline check). uint8 clips are normalised here.
    """
    parameter = next(model.parameters())
    dtype = dtype or parameter.dtype
    if clips.dtype == torch.uint8:
        clips = normalize_video(clips.to(parameter.device))
    pixel_values = clips.to(parameter.device, dtype)
    chunks = []
    with torch.inference_mode():
        for chunk in pixel_values.split(clips_per_forward):
            if before_forward is not None:
                before_forward()
            chunks.append(model(pixel_values=chunk).logits)
    return average_view_probabilities(torch.cat(chunks), len(pixel_values))[0]


@dataclass
class Classification:
    """What classifying one video produced."""

    probabilities: torch.Tensor  # float32 (K,), averaged over the views
    first_view: torch.Tensor  # uint8 (T, C, S, S): the first view's frames as the model saw them
    num_views: int
    num_video_frames: int
    fps: float
    seconds: dict[str, float] = field(default_factory=dict)  # decode, preprocess, model


class VideoClassifier:
    """A classifier and its preprocessing; ``classify(path, views)`` decodes only the frames it needs.

    Args:
        model: a ``VideoMAEv2ForVideoClassification`` (any module whose output has ``logits``), in eval mode.
        spec: the model's preprocessing (see ``hub/processor_config.py`` to read it from a model folder).
        dtype: the dtype the model runs in (the model is cast to it).
    """

    def __init__(self, model: torch.nn.Module, spec: PreprocessingSpec, dtype: torch.dtype = torch.float32):
        self.model = model.to(dtype).eval()
        self.spec = spec
        self.dtype = dtype

    def warm_up(self) -> None:
        """One forward pass, so the first request does not pay for lazy initialisation."""
        spec = self.spec
        with torch.inference_mode():
            self.model(torch.zeros(1, spec.num_frames, 3, spec.crop_size, spec.crop_size, dtype=self.dtype))

    def classify(
        self, path: str, views: tuple[int, int] | None = None, budget: VideoBudget | None = None
    ) -> Classification:
        """Classify the local video file ``path``: its single clip (``views=None``) or ``(temporal, spatial)`` views.

        The file is probed before anything is decoded. Raises ``BudgetExceeded`` (naming the limit) for a video
        that would cost more than ``budget`` (default ``VideoBudget()``), ``VideoDecodeError`` for an unreadable
        file and ``SingleImageError`` (a ``VideoDecodeError``) for a one-frame file (an image).
        """
        spec, budget = self.spec, budget or VideoBudget()
        started = time.perf_counter()
        deadline = time.monotonic() + budget.request_seconds
        probed = probe_within(path, budget)
        if probed.num_frames < 2:  # FFmpeg opens still images as one-frame videos
            raise SingleImageError(f"{path} holds a single image, not a video")
        planned, num_crops = plan_views(
            probed.num_frames, spec.num_frames, spec.sampling_rate, spec.segment_based, views
        )
        wanted = frames_needed(planned)
        threads = max(1, torch.get_num_threads())
        resized = decode_within(probed, wanted, budget, spec.short_side, deadline, num_threads=threads)
        decoded = time.perf_counter()
        clips = view_clips(
            resized, wanted, planned, num_crops, spec.short_side, spec.crop_size
        )  # uint8 (V, T, C, S, S)
        prepared = time.perf_counter()
        probabilities = classify_clips(
            self.model, clips, dtype=self.dtype, before_forward=lambda: check_deadline(deadline, budget)
        )
        inferred = time.perf_counter()
        seconds = {"decode": decoded - started, "preprocess": prepared - decoded, "model": inferred - prepared}
        return Classification(probabilities, clips[0], len(planned), probed.num_frames, probed.fps, seconds)


def top_labels(probabilities: torch.Tensor, id2label: dict[int, str], k: int = 5) -> dict[str, float]:
    """The ``k`` most probable labels of (K,) ``probabilities``, most probable first."""
    top = probabilities.topk(min(k, probabilities.numel()))
    return {id2label[i]: float(p) for p, i in zip(top.values.tolist(), top.indices.tolist())}
