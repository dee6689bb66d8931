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

``--pretrain`` picks the setting: ``quick`` runs the stages above with the tiny recipes (a plumbing check);
``reference`` (the default once the package ships ``reference/``) and ``full`` run the evidence stages of
``quickstart_evidence.py`` (``vit-mini``, both arms fine-tuned per seed, ``comparison`` in ``summary.json``).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import quickstart_evidence as evidence
from .atomic_files import write_json_atomic
from .errors import ConfigError, OutputStateError
from .layout import FINAL_MODEL_DIR, INDEX_DIR, QUICKSTART_MODE_FILE, QUICKSTART_STAGES_DIR, RUN_SUMMARY_FILE
from .output_guard import output_folder
from .quickstart_options import QuickstartOptions, finetune_arguments, finetune_scores, round_number
from .reference_encoder import REFERENCE_DIR, WEIGHTS_FILE, has_reference
from .resources import recipe
from .training.results_file import RESULTS_FILE

PRETRAIN_RECIPE = recipe("pretrain_tiny_synthetic.yaml")
FINETUNE_RECIPE = recipe("finetune_tiny_synthetic.yaml")


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
    marker = options.output_dir / QUICKSTART_STAGES_DIR / f"{stage.name}.json"
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
        progress=not options.quiet,
    )
    labeled = make_synthetic_actions(
        data / "actions",
        clips_per_class=options.labeled_clips_per_class,
        size=64,
        num_frames=32,
        fps=15,
        seed=options.seed,
        progress=not options.quiet,
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
        progress=not options.quiet,
    )
    return {"videos": result.inputs, **{f"status_{k}": v for k, v in result.by_status.items()}}, output / INDEX_DIR


def pretrain_on_index(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .training.arguments import PretrainArguments, recipe_options
    from .training.pretraining import pretrain

    output = options.output_dir / "pretrain"
    args = recipe_options(
        PretrainArguments,
        PRETRAIN_RECIPE,
        data=str(options.output_dir / "curated" / INDEX_DIR),
        output_dir=str(output),
        max_steps=options.pretrain_steps,
        seed=options.seed,
        resume="latest",
        disable_tqdm=options.quiet,
    )
    summary = pretrain(args)
    videos_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps  # one process
    numbers = {
        "steps": summary["steps"],
        "videos": summary["videos"],
        "epochs": round(summary["steps"] * videos_per_step / max(1, summary["videos"]), 1),  # as reference/full
        "loss_start": round_number(summary["preview_loss_start"]),
        "loss_end": round_number(summary["preview_loss_end"]),
    }
    return numbers, output / FINAL_MODEL_DIR


def _finetune(options: QuickstartOptions, name: str, init_from: Path | None) -> tuple[dict[str, Any], Path]:
    from .training.finetuning import finetune

    output = options.output_dir / name
    epochs = {} if options.finetune_epochs is None else {"num_train_epochs": options.finetune_epochs}
    results = finetune(*finetune_arguments(options, FINETUNE_RECIPE, output, options.seed, init_from, **epochs))
    return finetune_scores(results), output


def finetune_pretrained(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return _finetune(options, "finetune_pretrained", options.output_dir / "pretrain" / FINAL_MODEL_DIR)


def finetune_scratch(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return _finetune(options, "finetune_scratch", None)


def publish(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .hub.export import export_model
    from .hub.space import write_space

    finetuned = options.output_dir / "finetune_pretrained"
    folder = options.output_dir / "model"
    model_dir = finetuned / FINAL_MODEL_DIR
    if not (model_dir / "config.json").is_file():
        marker = options.output_dir / QUICKSTART_STAGES_DIR / "finetune_pretrained.json"
        raise ConfigError(f"{model_dir} holds no fine-tuned model; delete {marker} to redo that stage")
    export_model(model_dir, folder, results=[finetuned / RESULTS_FILE], overwrite=True, synthetic_pretraining=True)
    space = write_space(folder, options.output_dir / "space", overwrite=True)  # uploadable as it is (hub/space.py)
    return {"files": sorted(p.name for p in folder.iterdir()), "space": str(space)}, folder


STAGES = [
    Stage("data", make_data, "generate the unlabeled pool and the labeled action set"),
    Stage("curate", curate_pool, "curate the pool into clips and a datasets index"),
    Stage("pretrain", pretrain_on_index, "pre-train VideoMAE V2 (tiny) with Accelerate"),
    Stage("finetune_pretrained", finetune_pretrained, "fine-tune from the pre-trained model, multi-view test"),
    Stage("finetune_scratch", finetune_scratch, "the same fine-tuning from random weights"),
    Stage("publish", publish, "model card and the Space-ready folder"),
]


QUICK_DEFAULTS = {"labeled_clips_per_class": 16, "pool_clips_per_class": 8, "pretrain_steps": 300}
PRETRAIN_MODES = ("reference", "full", "quick")


def resolve_mode(options: QuickstartOptions) -> QuickstartOptions:
    """Pick the pre-training mode (``--pretrain``) and fill the quick mode's defaults."""
    import dataclasses

    asked_for = options.pretrain == "reference" or (options.pretrain is None and options.reference != REFERENCE_DIR)
    if asked_for and not has_reference(options.reference):
        # a --reference typo would otherwise fall back to the quick mode without a word
        raise ConfigError(
            f"--reference {options.reference}: no reference encoder there (it needs config.json and {WEIGHTS_FILE}); "
            "give the folder `hf-tiktokactions quickstart --pretrain full` made, or --pretrain quick"
        )
    mode = options.pretrain or ("reference" if has_reference(options.reference) else "quick")
    if mode not in PRETRAIN_MODES:
        raise ConfigError(f"--pretrain must be one of {', '.join(PRETRAIN_MODES)}, got {mode!r}")
    options = dataclasses.replace(options, pretrain=mode)
    if mode == "quick":
        unset = {k: v for k, v in QUICK_DEFAULTS.items() if getattr(options, k) is None}
        options = dataclasses.replace(options, **unset)
    return options


def claim_mode(options: QuickstartOptions) -> None:
    """Stages of one mode are never reused by another: the output folder remembers its ``--pretrain`` mode."""
    marker = options.output_dir / QUICKSTART_STAGES_DIR / QUICKSTART_MODE_FILE
    if marker.is_file():
        earlier = json.loads(marker.read_text())["pretrain"]
        if earlier != options.pretrain:
            raise OutputStateError(
                f"{options.output_dir} holds a --pretrain {earlier} run; pass --pretrain {earlier} to finish it, "
                f"or another --output-dir for --pretrain {options.pretrain}"
            )
    elif (options.output_dir / QUICKSTART_STAGES_DIR).is_dir() and options.pretrain != "quick":
        raise OutputStateError(
            f"{options.output_dir} holds a run made before --pretrain existed (a quick run); pass --pretrain quick "
            f"to finish it, or another --output-dir for --pretrain {options.pretrain}"
        )
    write_json_atomic(marker, {"pretrain": options.pretrain})


def refuse_a_folder_of_other_files(output_dir: Path) -> None:
    """The quickstart replaces model/ and space/ in its folder and rewrites summary.json, comparison.png, data/, ...:
    an existing folder must be empty or its own earlier output (``stages/`` records its stages), never one of the
    user's folders, whose files of those names would be deleted."""
    if not output_dir.is_dir() or (output_dir / QUICKSTART_STAGES_DIR).is_dir():
        return
    found = sorted(path.name for path in output_dir.iterdir())
    if found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise OutputStateError(
            f"--output-dir {output_dir} holds files no quickstart wrote ({shown}); the quickstart replaces folders in "
            "it (model/, space/): pass a new or empty folder, or leave --output-dir out (runs/quickstart)"
        )


def stages_for(options: QuickstartOptions) -> list[Stage]:
    """``STAGES`` for the quick mode; the evidence stages (``quickstart_evidence.py``) for reference and full."""
    if options.pretrain == "quick":
        return STAGES

    how = "continue the shipped reference encoder" if options.pretrain == "reference" else "vit-mini from nothing"
    return [
        Stage("data", evidence.make_evidence_data, "generate the unlabeled pool and the labeled action set"),
        STAGES[1],
        Stage("pretrain", evidence.pretrain_evidence, f"pre-train on the curated index: {how}"),
        Stage("finetune_pretrained", evidence.finetune_pretrained_arm, "fine-tune the pre-trained model, each seed"),
        Stage("finetune_scratch", evidence.finetune_scratch_arm, "the same fine-tuning from random weights"),
        Stage("publish", evidence.publish_first_seed, "model card and the Space-ready folder"),
    ]


def space_command(model: Path) -> str:
    """The command that starts the Space on ``model`` with this interpreter (the README's ``.venv``)."""
    interpreter = Path(sys.executable)
    if interpreter.name.startswith("python") and (interpreter.parent / "python").exists():
        interpreter = interpreter.parent / "python"  # the console script runs python3: the README names python
    try:
        interpreter = interpreter.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"MODEL_ID={shlex.quote(str(model))} {shlex.quote(str(interpreter))} spaces/app.py"


def evidence_lines(summary: dict[str, Any]) -> list[str]:
    """The final lines: how the encoder was pre-trained, then both arms' mean, spread and per-seed top-1."""
    pretrain = summary["pretraining"]
    comparison = summary["comparison"]
    lines = []
    if summary["pretrain_mode"] == "reference":
        reference = pretrain.get("reference", {})
        seconds, machine = reference.get("seconds"), reference.get("machine", reference.get("device"))
        took = "" if seconds is None else f", {seconds / 60:.0f} min on {machine}"
        lines.append(
            f"pre-training: the shipped reference encoder (made by `{reference.get('command', '?')}`: "
            f"{reference.get('steps', '?')} steps, {reference.get('epochs', '?')} epochs over "
            f"{reference.get('videos', '?')} unlabeled videos, {reference.get('recipe', '?')}{took}), "
            f"then {pretrain['steps']} more steps ({pretrain['epochs']} epochs) on this run's {pretrain['videos']} "
            "curated videos"
        )
    else:
        lines.append(
            f"pre-training: {pretrain.get('steps')} steps, {pretrain.get('epochs', '?')} epochs over "
            f"{pretrain.get('videos')} curated unlabeled videos, from {pretrain.get('start', 'random weights')}, "
            f"{pretrain.get('recipe', PRETRAIN_RECIPE.name)}"
        )
    for arm, label in (("pretrained", "fine-tuned from pre-training"), ("scratch", "from scratch")):
        numbers = comparison[arm]
        per_seed = " / ".join(f"{value:.1f}" for value in numbers["top1_per_seed"])
        lines.append(
            f"{label:<29} top-1 {numbers['top1']:5.1f} % +- {numbers.get('top1_std', 0.0):.1f} "
            f"(seeds: {per_seed}), top-5 {numbers['top5']:.1f} %"
        )
    lines.append(
        f"margin {comparison['margin_top1']:+.1f} points top-1 on {comparison['test_videos']} test videos "
        f"({comparison['views']} views, chance {comparison['chance_top1']} %)"
    )
    if summary["pretrain_mode"] == "full":
        folder = Path(summary["model"]).parent / "reference"
        lines.append(f"reference encoder: {folder} (to ship it: cp {folder}/* hf_tiktokactions/reference/)")
    if summary["pretrain_mode"] == "quick":
        lines.append("(--pretrain quick checks the plumbing with the tiny model: these numbers are not evidence)")
    return lines


def _arm(numbers: dict[str, Any], seed: int) -> dict[str, Any]:
    """A fine-tuning stage's numbers in the evidence shape (the quick mode fine-tunes one seed)."""
    if "top1_per_seed" in numbers:
        return numbers
    one_seed = {
        "top1_std": 0.0,
        "top1_per_seed": [numbers["top1"]],
        "top5_per_seed": [numbers["top5"]],
        "seeds": [seed],
    }
    return {**numbers, **one_seed}


# ---------------------------------------------------------------------------------------------- summary


def summary_table(records: list[StageRecord], numbers_width: int = 72) -> str:
    """A fixed-width table: stage, time, key numbers (sorted by name, as a reused stage's record keeps them;
    wrapped at ``numbers_width`` between items), outputs."""
    rows = [("stage", "time", ["key numbers"], "outputs")]
    for r in records:
        items = [f"{k} {v}" for k, v in sorted(r.numbers.items()) if not isinstance(v, (list, dict))]
        wrapped = _wrap_items(items, numbers_width)
        rows.append((r.name, f"{r.seconds:.0f} s" + (" (reused)" if r.reused else ""), wrapped, r.outputs))
    widths = [max(len(row[0]) for row in rows), max(len(row[1]) for row in rows)]
    widths.append(max(len(line) for row in rows for line in row[2]))
    lines = []
    for stage, seconds, numbers, outputs in rows:
        lines.append(f"{stage:<{widths[0]}}  {seconds:<{widths[1]}}  {numbers[0]:<{widths[2]}}  {outputs}")
        lines.extend(f"{'':<{widths[0]}}  {'':<{widths[1]}}  {more}" for more in numbers[1:])
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def _wrap_items(items: list[str], width: int) -> list[str]:
    """``items`` joined by ", " into lines of at most ``width`` characters, never splitting an item."""
    lines = [""]
    for item in items:
        candidate = f"{lines[-1]}, {item}" if lines[-1] else item
        if len(candidate) <= width or not lines[-1]:
            lines[-1] = candidate
        else:
            lines[-1] += ","
            lines.append(item)
    return lines


def quickstart(options: QuickstartOptions) -> dict[str, Any]:
    """Run (or finish) every stage and write ``summary.json``; returns the summary."""
    _select_device(options.device)
    options = resolve_mode(options)
    refuse_a_folder_of_other_files(options.output_dir)
    output_folder(options.output_dir)
    claim_mode(options)
    started = time.perf_counter()
    stages = stages_for(options)
    records = []
    for number, stage in enumerate(stages, 1):
        print(f"[{number}/{len(stages)}] {stage.name}: {stage.description}", flush=True)
        records.append(run_stage(stage, options))
    by_name = {r.name: r for r in records}

    command = space_command(options.output_dir / "model")
    pretrained = _arm(by_name["finetune_pretrained"].numbers, options.seed)
    scratch = _arm(by_name["finetune_scratch"].numbers, options.seed)
    summary = {
        "seconds": round(time.perf_counter() - started, 1),
        "device": options.device,
        "seed": options.seed,
        "pretrain_mode": options.pretrain,
        "pretraining": by_name["pretrain"].numbers,
        "comparison": evidence.comparison(pretrained, scratch),
        "pretrained": {k: by_name["finetune_pretrained"].numbers[k] for k in ("top1", "top5", "views")},
        "scratch": {k: by_name["finetune_scratch"].numbers[k] for k in ("top1", "top5", "views")},
        "stages": [asdict(r) for r in records],
        "model": str(options.output_dir / "model"),
        "space_command": command,
    }
    summary["figures"] = evidence.write_evidence_figures(options, summary)
    write_json_atomic(options.output_dir / RUN_SUMMARY_FILE, summary)
    print()
    print(summary_table(records))
    print()
    for line in evidence_lines(summary):
        print(line)
    print(f"summary: {options.output_dir / RUN_SUMMARY_FILE}, plot: {summary['figures']['plot']}")
    print(f"try it:  {command}")
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
