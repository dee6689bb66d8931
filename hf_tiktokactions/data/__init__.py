"""The data layer: decoding, frame sampling, video transforms, datasets and collators, benchmark readers,
and the embedded synthetic action set.

Names are imported lazily on first use, so ``python -m hf_tiktokactions.data.synthetic`` or a reader does
not pay for torch, timm and transformers until it needs them.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "readers": ["load_hmdb51", "load_kinetics", "load_ssv2", "load_ucf101", "load_videofolder"],
    "synthetic": ["make_synthetic_actions"],
    "decoding": ["BACKENDS", "VideoInfo", "VideoReader", "open_video", "probe_video", "read_frames"],
    "sampling": ["MultiView", "dense_clip_indices", "segment_indices", "multiview_indices", "multiview_clips"],
    "transforms": [
        "IMAGENET_MEAN",
        "IMAGENET_STD",
        "ClipRandAugment",
        "EvalTransform",
        "FinetuneTrainTransform",
        "MultiScaleCrop",
        "VideoMixup",
        "normalize_video",
        "short_side_resize",
        "spatial_crop",
    ],
    "pretrain_dataset": ["PretrainVideoDataset", "find_videos", "video_paths"],
    "epoch_keys": ["EpochKeySampler", "seeded_global_generators"],
    "streaming_dataset": ["StreamingPretrainDataset"],
    "collate": ["PretrainCollator"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
