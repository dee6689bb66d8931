"""The preprocessing a model expects, written as transformers video/image processor configs.

``write_processor_configs(folder, spec)`` writes

* ``video_preprocessor_config.json``: read by ``AutoVideoProcessor`` (transformers'
  ``VideoMAEVideoProcessor``): short-side resize, centre crop, rescale by 1/255, ImageNet mean/std.
  Calling it on uint8 frames (T, C, H, W) gives ``pixel_values`` (1, T, C, crop, crop), our layout.
  An export adds the ``auto_map`` of the shipped video processor, which also samples the clip from a file
  (``trust_remote_code=True``, what ``pipeline("video-classification")`` uses).
* ``preprocessor_config.json``: the same settings for ``AutoImageProcessor`` (``VideoMAEImageProcessor``).

Both also carry ``num_frames`` and ``sampling_rate`` (the stride between the sampled frames) plus the
test views; the processors keep these keys but do not sample frames (``do_sample_frames`` is false), so
a caller samples ``num_frames`` frames ``sampling_rate`` apart itself. transformers' VideoMAE defaults to
mean = std = 0.5, so writing the ImageNet statistics explicitly matters.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.inference import PreprocessingSpec
from hf_tiktokactions.modeling.conversion import CONVERSION_REPORT

__all__ = [
    "PreprocessingSpec",
    "VIDEO_PROCESSOR_FILE",
    "IMAGE_PROCESSOR_FILE",
    "video_processor_dict",
    "image_processor_dict",
    "write_processor_configs",
    "read_preprocessing",
    "recorded_at_conversion",
]

VIDEO_PROCESSOR_FILE = "video_preprocessor_config.json"
# The first transformers release whose pipeline("video-classification") hands the file to the model's video processor
# (with do_sample_frames=True) instead of sampling frames itself; the model card states it.
MIN_TRANSFORMERS_VERSION = "5.11.0"
# The first PyAV whose frames carry their display rotation (VideoFrame.rotation): with an older one the processor reads
# phone videos sideways. The cards install it; pyproject.toml's floor for av (tests/test_hub_cards.py checks both).
MIN_AV_VERSION = "14.0"
REMOTE_VIDEO_PROCESSOR = "video_processing_videomaev2.VideoMAEv2VideoProcessor"  # module.class of the shipped code
IMAGE_PROCESSOR_FILE = "preprocessor_config.json"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
_BILINEAR = 2  # PIL.Image.Resampling.BILINEAR, as transformers stores it


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


def video_processor_dict(spec: PreprocessingSpec, remote_code: bool = False) -> dict[str, Any]:
    """The ``video_preprocessor_config.json`` content for ``VideoMAEVideoProcessor``.

    ``remote_code`` adds the ``auto_map`` to the shipped ``VideoMAEv2VideoProcessor``
    (``modeling/video_processing_videomaev2.py``), which ``AutoVideoProcessor`` and ``pipeline()`` load with
    ``trust_remote_code=True`` and which takes the model's clip from a file; without it they get transformers'
    ``VideoMAEVideoProcessor`` with the same pixel settings.
    """
    content = {
        "video_processor_type": "VideoMAEVideoProcessor",
        "do_convert_rgb": True,
        "do_sample_frames": False,
        **_common(spec),
    }
    if remote_code:
        content["auto_map"] = {"AutoVideoProcessor": REMOTE_VIDEO_PROCESSOR}
    return content


def image_processor_dict(spec: PreprocessingSpec) -> dict[str, Any]:
    """The ``preprocessor_config.json`` content for ``VideoMAEImageProcessor``."""
    return {"image_processor_type": "VideoMAEImageProcessor", **_common(spec)}


def write_processor_configs(
    folder: str | os.PathLike, spec: PreprocessingSpec, remote_code: bool = False
) -> list[Path]:
    """Write both processor configs into ``folder`` (``remote_code``: see ``video_processor_dict``); returns their
    paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in (
        (VIDEO_PROCESSOR_FILE, video_processor_dict(spec, remote_code)),
        (IMAGE_PROCESSOR_FILE, image_processor_dict(spec)),
    ):
        path = folder / name
        path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def recorded_at_conversion(folder: Path) -> dict[str, Any]:
    """The preprocessing ``conversion.json`` records (the converted checkpoint's own args), {} when none."""
    try:
        recorded = json.loads((folder / CONVERSION_REPORT).read_text(encoding="utf-8")).get("preprocessing") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    known = {spec_field.name for spec_field in fields(PreprocessingSpec)}
    return {key: value for key, value in recorded.items() if key in known}


def read_preprocessing(folder: str | os.PathLike, model_config: Any | None = None) -> PreprocessingSpec:
    """The spec stored in ``folder``'s video (or image) processor config.

    A folder without one gets the defaults for ``model_config`` (or the ViT-B/16 defaults), with what a converted
    checkpoint's official args recorded (``conversion.json``'s ``preprocessing``: an SSv2 model samples segments).
    """
    folder = Path(folder)
    defaults = PreprocessingSpec.for_model_config(model_config) if model_config is not None else PreprocessingSpec()
    defaults = replace(defaults, **recorded_at_conversion(folder))
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
