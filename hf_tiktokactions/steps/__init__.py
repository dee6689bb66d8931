"""The Python API under ``hf-tiktokactions <step>``: one function per step, each taking an options dataclass.

    from hf_tiktokactions.steps import CurateOptions, curate
    curate(CurateOptions(videos="my_videos/", output_dir="curated", detector="none"))

The table of steps, functions and options classes is in the README ("Python API"). Imports are lazy, so
``import hf_tiktokactions.steps`` costs nothing until a step is used.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "collect": "collection",
    "CollectOptions": "collection",
    "download": "collection",
    "DownloadOptions": "collection",
    "curate": "curation",
    "CurateOptions": "curation",
    "stats": "curation",
    "StatsOptions": "curation",
    "push_index": "curation",
    "PushIndexOptions": "curation",
    "purge": "curation",
    "PurgeOptions": "curation",
    "blur_faces": "curation",
    "BlurFacesOptions": "curation",
    "convert": "hub",
    "ConvertOptions": "hub",
    "export": "hub",
    "ExportOptions": "hub",
    "push": "hub",
    "PushOptions": "hub",
    "space": "hub",
    "SpaceOptions": "hub",
}
_ELSEWHERE = {
    "pretrain": "hf_tiktokactions.training.pretraining",
    "PretrainArguments": "hf_tiktokactions.training.arguments",
    "finetune": "hf_tiktokactions.training.finetuning",
    "FinetuneArguments": "hf_tiktokactions.training.arguments",
    "compare_init": "hf_tiktokactions.training.experiments",
    "CompareArguments": "hf_tiktokactions.training.experiments",
    "scaling_study": "hf_tiktokactions.training.experiments",
    "ScalingArguments": "hf_tiktokactions.training.experiments",
    "quickstart": "hf_tiktokactions.quickstart",
    "QuickstartOptions": "hf_tiktokactions.quickstart_options",
    "recipe_options": "hf_tiktokactions.training.arguments",
}

__all__ = [*_LAZY, *_ELSEWHERE]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
