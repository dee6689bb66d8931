"""hf-tiktokactions: video foundation models for human action recognition from unlabeled public videos.

The model classes are imported lazily, so ``import hf_tiktokactions.curation`` does not pay for torch
and transformers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "VideoMAEv2Config": "hf_tiktokactions.modeling",
    "VideoMAEv2Model": "hf_tiktokactions.modeling",
    "VideoMAEv2ForPreTraining": "hf_tiktokactions.modeling",
    "VideoMAEv2ForVideoClassification": "hf_tiktokactions.modeling",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hf_tiktokactions' has no attribute {name!r}")
