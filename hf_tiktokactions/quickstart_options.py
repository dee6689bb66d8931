"""The quickstart's options and the training options every quickstart stage builds from them.

Shared by ``quickstart.py`` (the stages and the run) and ``quickstart_evidence.py`` (the evidence stages), so that
neither imports the other's helpers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .reference_encoder import REFERENCE_DIR
from .steps.options import option


@dataclass
class QuickstartOptions:
    """Run the whole loop on the embedded synthetic set: generate, curate, pre-train, fine-tune (pre-trained and
    from scratch), multi-view test, model card and a Space-ready folder (minutes on a CPU with ``--pretrain quick``)."""

    output_dir: Path = option(
        "where everything goes (a rerun reuses finished stages)", Path("runs/quickstart"), old_names=("--output",)
    )
    device: str = option("where every stage runs", "cpu", choices=("cpu", "cuda"))
    seed: int = option("seed of the data, the pre-training and the fine-tuning", 0)
    labeled_clips_per_class: int | None = option(
        "clips per class of the labeled action set (default: the mode's, quick 16, reference/full 20 train + 15 test)",
        None,
    )
    pool_clips_per_class: int | None = option(
        "clips per class of the unlabeled pool (default: the mode's, quick 8, reference 10, full 100)", None
    )
    pretrain_steps: int | None = option(
        "pre-training steps (default: the mode's, quick 300, reference 100 more, full 20000)", None
    )
    finetune_epochs: int | None = option("fine-tuning epochs of --pretrain quick (default: the recipe's)", None)
    quiet: bool = option("no progress bars (logs and CI)", False, old_names=("--no-progress",))
    pretrain: str | None = option(
        "reference: continue the encoder the package ships (hf_tiktokactions/reference/); full: make that encoder "
        "from nothing (20k steps, hours on 2 CPU cores); quick: the tiny plumbing check "
        "(default: reference when shipped, else quick)",
        None,
        choices=("reference", "full", "quick"),
    )
    finetune_steps: int | None = option("reference/full: fine-tuning steps of each arm and seed (default: 120)", None)
    finetune_seeds: str = option("reference/full: one fine-tuning per seed and arm, a comma list", "0,1")
    reference: Path = option("the reference encoder's folder", REFERENCE_DIR)


def loader_workers(options: QuickstartOptions) -> dict[str, int]:
    """Data-loader workers beyond the recipes' one: a GPU steps far faster than one process decodes clips."""
    return {"dataloader_num_workers": min(8, os.cpu_count() or 1)} if options.device == "cuda" else {}


def finetune_arguments(
    options: QuickstartOptions, recipe_file: Path, output: Path, seed: int, init_from: Path | None, **overrides: Any
) -> tuple[Any, Any]:
    """``(FinetuneArguments, TrainingArguments)`` of one quickstart fine-tuning: ``recipe_file`` on this run's
    labeled set, written to ``output``, from ``init_from`` (a model folder; ``None``: random weights)."""
    from transformers import TrainingArguments

    from .training.arguments import FinetuneArguments, recipe_options

    values: dict[str, Any] = {
        "data_root": str(options.output_dir / "data" / "actions"),
        "output_dir": str(output),
        "seed": seed,
        "disable_tqdm": options.quiet,
        **loader_workers(options),
        **overrides,
    }
    if init_from is not None:
        values["init_from"] = str(init_from)
    return recipe_options((FinetuneArguments, TrainingArguments), recipe_file, **values)


def round_number(value: float | None) -> float | None:
    """``value`` to 4 decimals for the summary (``None`` stays ``None``)."""
    return None if value is None else round(value, 4)


def finetune_scores(results: dict[str, Any]) -> dict[str, Any]:
    """One fine-tuning's multi-view test (its ``results.json``) as every quickstart mode records and prints it:
    top-1 / top-5 in % to 2 decimals."""
    return {
        "top1": round(results["top1"], 2),
        "top5": round(results["top5"], 2),
        "views": results["views"],
        "test_videos": results["num_videos"],
    }
