"""The preprocessing a model expects, written as transformers video/image processor configs.

``write_processor_configs(folder, spec)`` writes

* ``video_preprocessor_config.json``: read by ``AutoVideoProcessor`` (transformers'
  ``VideoMAEVideoProcessor``): short-side resize, centre crop, rescale by 1/255, ImageNet mean/std.
  Calling it on uint8 frames (T, C, H, W) gives ``pixel_values`` (1, T, C, crop, crop), our layout.
* ``preprocessor_config.json``: the same settings for ``AutoImageProcessor`` (``VideoMAEImageProcessor``).

Both also carry ``num_frames`` and ``sampling_rate`` (the stride between the sampled frames) plus the
test views; the processors keep these keys but do not sample frames (``do_sample_frames`` is false), so
a caller samples ``num_frames`` frames ``sampling_rate`` apart itself. transformers' VideoMAE defaults to
mean = std = 0.5, so writing the ImageNet statistics explicitly matters.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import ConfigError

__all__ = [
    "PreprocessingSpec",
    "VIDEO_PROCESSOR_FILE",
    "IMAGE_PROCESSOR_FILE",
    "video_processor_dict",
    "image_processor_dict",
    "write_processor_configs",
    "read_preprocessing",
]

VIDEO_PROCESSOR_FILE = "video_preprocessor_config.json"
IMAGE_PROCESSOR_FILE = "preprocessor_config.json"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
_BILINEAR = 2  # PIL.Image.Resampling.BILINEAR, as transformers stores it


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


def _common(spec: PreprocessingSpec) -> dict[str, Any]:
    return {
        "do_resize": True,
        "size": {"shortest_edge": spec.short_side},
        "resample": _BILINEAR,
        "do_center_crop": True,
        "crop_size": {"height": spec.crop_size, "width": spec.crop_size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
        # ours, kept by transformers as extra attributes: how to sample frames and test views
        "num_frames": spec.num_frames,
        "sampling_rate": spec.sampling_rate,
        "num_views": spec.num_views,
        "num_crops": spec.num_crops,
        "segment_based": spec.segment_based,
    }


def video_processor_dict(spec: PreprocessingSpec) -> dict[str, Any]:
    """The ``video_preprocessor_config.json`` content for ``VideoMAEVideoProcessor``."""
    return {
        "video_processor_type": "VideoMAEVideoProcessor",
        "do_convert_rgb": True,
        "do_sample_frames": False,
        **_common(spec),
    }


def image_processor_dict(spec: PreprocessingSpec) -> dict[str, Any]:
    """The ``preprocessor_config.json`` content for ``VideoMAEImageProcessor``."""
    return {"image_processor_type": "VideoMAEImageProcessor", **_common(spec)}


def write_processor_configs(folder: str | os.PathLike, spec: PreprocessingSpec) -> list[Path]:
    """Write both processor configs into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in (
        (VIDEO_PROCESSOR_FILE, video_processor_dict(spec)),
        (IMAGE_PROCESSOR_FILE, image_processor_dict(spec)),
    ):
        path = folder / name
        path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def read_preprocessing(folder: str | os.PathLike, model_config: Any | None = None) -> PreprocessingSpec:
    """The spec stored in ``folder``'s video (or image) processor config.

    A folder without one gets the defaults for ``model_config`` (or the ViT-B/16 defaults).
    """
    folder = Path(folder)
    defaults = PreprocessingSpec.for_model_config(model_config) if model_config is not None else PreprocessingSpec()
    for name in (VIDEO_PROCESSOR_FILE, IMAGE_PROCESSOR_FILE):
        path = folder / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                values = asdict(defaults)
                values.update(
                    num_frames=data.get("num_frames", defaults.num_frames),
                    sampling_rate=data.get("sampling_rate", defaults.sampling_rate),
                    crop_size=data.get("crop_size", {}).get("height", defaults.crop_size),
                    short_side=data.get("size", {}).get("shortest_edge", defaults.short_side),
                    num_views=data.get("num_views", defaults.num_views),
                    num_crops=data.get("num_crops", defaults.num_crops),
                    segment_based=data.get("segment_based", defaults.segment_based),
                )
                return PreprocessingSpec(**values)
            except (OSError, ValueError, AttributeError, TypeError) as error:
                raise ConfigError(f"{path}: cannot read the processor config ({error}); re-export the model") from None
    return defaults
