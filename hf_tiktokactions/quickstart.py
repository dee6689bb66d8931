"""``hf-tiktokactions quickstart``: the whole system on the embedded synthetic set, in minutes on a CPU.

Stages (each resumable: a finished stage leaves ``stages/<name>.json`` and is reused by a rerun):

1. ``data``: an unlabeled pool of 4-second synthetic videos (standing in for collected videos) and a labeled
   action set (standing in for a benchmark), both real H.264 files;
2. ``curate``: the real curation pipeline on the pool (scenes, 3.5-10 s clips, probe; ``--detector none``)
   and its ``datasets`` index;
3. ``pretrain``: the tiny VideoMAE V2 recipe under the real Accelerate loop on the index;
4. ``finetune_pretrained``: the tiny fine-tuning recipe with the real ``Trainer``, from the pre-trained model,
   then multi-view testing;
5. ``finetune_scratch``: the same fine-tuning from random weights, for comparison;
6. ``publish``: the model card (from the real results), the exported folder ``model/`` and ``space/``, a Gradio Space
   folder that installs as it is (``hub/space.py``).

Everything lands in ``--output-dir`` (default ``runs/quickstart``); ``summary.json`` holds the measurements.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .atomic_files import write_json_atomic
from .errors import ConfigError
from .resources import recipe
from .steps.options import option

PRETRAIN_RECIPE = recipe("pretrain_tiny_synthetic.yaml")
FINETUNE_RECIPE = recipe("finetune_tiny_synthetic.yaml")


@dataclass
class QuickstartOptions:
    """Run the whole loop on the embedded synthetic set: generate, curate, pre-train, fine-tune (pre-trained and
    from scratch), multi-view test, model card and a Space-ready folder (minutes on a CPU)."""

    output_dir: Path = option(
        "where everything goes (a rerun reuses finished stages)", Path("runs/quickstart"), old_names=("--output",)
    )
    device: str = option("where every stage runs", "cpu", choices=("cpu", "cuda"))
    seed: int = option("seed of the data, the pre-training and the fine-tuning", 0)
    labeled_clips_per_class: int = option("clips per class of the labeled action set", 16)
    pool_clips_per_class: int = option("clips per class of the unlabeled pool", 8)
    pretrain_steps: int = option("pre-training steps", 300)
    finetune_epochs: int | None = option("fine-tuning epochs (default: the recipe's)", None)
    progress: bool = option("progress bars (--no-progress for logs and CI)", True)


@dataclass
class StageRecord:
    """What one stage did: its key numbers, where its outputs are, how long it took, whether it was reused."""

    name: str
    seconds: float
    numbers: dict[str, Any]
    outputs: str
    reused: bool = False


@dataclass
class Stage:
    name: str
    run: Callable[[QuickstartOptions], tuple[dict[str, Any], Path]]
    description: str = ""


def run_stage(stage: Stage, options: QuickstartOptions) -> StageRecord:
    """Run ``stage`` unless its record exists; write the record only when the stage finished."""
    marker = options.output_dir / "stages" / f"{stage.name}.json"
    if marker.is_file():
        return StageRecord(**{**json.loads(marker.read_text()), "reused": True})
    started = time.perf_counter()
    numbers, outputs = stage.run(options)
    record = StageRecord(stage.name, round(time.perf_counter() - started, 1), numbers, str(outputs))
    write_json_atomic(marker, asdict(record))
    return record


# ----------------------------------------------------------------------------------------------- stages


def make_data(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .data.synthetic import make_synthetic_actions

    data = options.output_dir / "data"
    pool = make_synthetic_actions(
        data / "pool",
        clips_per_class=options.pool_clips_per_class,
        size=96,
        num_frames=64,
        fps=15,
        seed=options.seed + 1,
        progress=options.progress,
    )
    labeled = make_synthetic_actions(
        data / "actions",
        clips_per_class=options.labeled_clips_per_class,
        size=64,
        num_frames=32,
        fps=15,
        seed=options.seed,
        progress=options.progress,
    )
    return {"pool_videos": _count_videos(pool), "labeled_videos": _count_videos(labeled)}, data


def _count_videos(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.mp4"))


def curate_pool(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .curation.engines import curate
    from .curation.inputs import load_video_inputs
    from .curation.pipeline import CurationOptions

    output = options.output_dir / "curated"
    result = curate(
        load_video_inputs(options.output_dir / "data" / "pool"),
        output,
        CurationOptions(detector="none"),
        workers=min(2, os.cpu_count() or 1),
        progress=options.progress,
    )
    return {"videos": result.inputs, **{f"status_{k}": v for k, v in result.by_status.items()}}, output / "index"


def pretrain_on_index(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .training.arguments import PretrainArguments, recipe_options
    from .training.pretraining import pretrain

    output = options.output_dir / "pretrain"
    args = recipe_options(
        PretrainArguments,
        PRETRAIN_RECIPE,
        data=str(options.output_dir / "curated" / "index"),
        output_dir=str(output),
        max_steps=options.pretrain_steps,
        seed=options.seed,
        resume="latest",
        disable_tqdm=not options.progress,
    )
    summary = pretrain(args)
    numbers = {
        "steps": summary["steps"],
        "videos": summary["videos"],
        "loss_start": _round(summary["preview_loss_start"]),
        "loss_end": _round(summary["preview_loss_end"]),
    }
    return numbers, output / "final"


def _finetune(options: QuickstartOptions, name: str, init_from: Path | None) -> tuple[dict[str, Any], Path]:
    from transformers import TrainingArguments

    from .training.arguments import FinetuneArguments, recipe_options
    from .training.finetuning import finetune

    output = options.output_dir / name
    overrides: dict[str, Any] = {
        "data_root": str(options.output_dir / "data" / "actions"),
        "output_dir": str(output),
        "seed": options.seed,
        "disable_tqdm": not options.progress,
    }
    if init_from is not None:
        overrides["init_from"] = str(init_from)
    if options.finetune_epochs is not None:
        overrides["num_train_epochs"] = options.finetune_epochs
    args, training_args = recipe_options((FinetuneArguments, TrainingArguments), FINETUNE_RECIPE, **overrides)
    results = finetune(args, training_args)
    numbers = {
        "top1": results["top1"],
        "top5": results["top5"],
        "views": results["views"],
        "test_videos": results["num_videos"],
    }
    return numbers, output


def finetune_pretrained(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return _finetune(options, "finetune_pretrained", options.output_dir / "pretrain" / "final")


def finetune_scratch(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return _finetune(options, "finetune_scratch", None)


def publish(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .hub.export import export_model
    from .hub.space import write_space

    finetuned = options.output_dir / "finetune_pretrained"
    folder = options.output_dir / "model"
    model_dir = finetuned / "final"
    if not (model_dir / "config.json").is_file():
        marker = options.output_dir / "stages" / "finetune_pretrained.json"
        raise ConfigError(f"{model_dir} holds no fine-tuned model; delete {marker} to redo that stage")
    export_model(model_dir, folder, results=[finetuned / "results.json"], overwrite=True)
    space = write_space(folder, options.output / "space", overwrite=True)  # uploadable as it is (hub/space.py)
    return {"files": sorted(p.name for p in folder.iterdir()), "space": str(space)}, folder


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


STAGES = [
    Stage("data", make_data, "generate the unlabeled pool and the labeled action set"),
    Stage("curate", curate_pool, "curate the pool into clips and a datasets index"),
    Stage("pretrain", pretrain_on_index, "pre-train VideoMAE V2 (tiny) with Accelerate"),
    Stage("finetune_pretrained", finetune_pretrained, "fine-tune from the pre-trained model, multi-view test"),
    Stage("finetune_scratch", finetune_scratch, "the same fine-tuning from random weights"),
    Stage("publish", publish, "model card and the Space-ready folder"),
]


# ---------------------------------------------------------------------------------------------- summary


def summary_table(records: list[StageRecord]) -> str:
    """A fixed-width table: stage, time, key numbers, outputs."""
    rows = [("stage", "time", "key numbers", "outputs")]
    for r in records:
        numbers = ", ".join(f"{k} {v}" for k, v in r.numbers.items() if not isinstance(v, (list, dict)))
        rows.append((r.name, f"{r.seconds:.0f} s" + (" (reused)" if r.reused else ""), numbers, r.outputs))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def quickstart(options: QuickstartOptions) -> dict[str, Any]:
    """Run (or finish) every stage and write ``summary.json``; returns the summary."""
    _select_device(options.device)
    options.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    for number, stage in enumerate(STAGES, 1):
        print(f"[{number}/{len(STAGES)}] {stage.name}: {stage.description}", flush=True)
        records.append(run_stage(stage, options))
    by_name = {r.name: r for r in records}
    space_command = f"MODEL_ID={shlex.quote(str(options.output_dir / 'model'))} python spaces/app.py"
    summary = {
        "seconds": round(time.perf_counter() - started, 1),
        "device": options.device,
        "seed": options.seed,
        "pretrained": {k: by_name["finetune_pretrained"].numbers[k] for k in ("top1", "top5", "views")},
        "scratch": {k: by_name["finetune_scratch"].numbers[k] for k in ("top1", "top5", "views")},
        "stages": [asdict(r) for r in records],
        "model": str(options.output_dir / "model"),
        "space_command": space_command,
    }
    write_json_atomic(options.output_dir / "summary.json", summary)
    print()
    print(summary_table(records))
    print()
    print(
        f"fine-tuned from pre-training: top-1 {summary['pretrained']['top1']:.1f} %, top-5 {summary['pretrained']['top5']:.1f} %"
        f"  |  from scratch: top-1 {summary['scratch']['top1']:.1f} %, top-5 {summary['scratch']['top5']:.1f} %"
        f"  ({summary['pretrained']['views']} views)"
    )
    print(f"summary: {options.output_dir / 'summary.json'}")
    print(f"try it:  {space_command}")
    return summary


def _select_device(device: str) -> None:
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before CUDA is first touched: every stage then runs on the CPU
        return
    import torch

    if device != "cuda":
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    if not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible; use --device cpu")


__all__ = ["QuickstartOptions", "STAGES", "quickstart", "summary_table"]
