"""The quickstart's evidence stages: does pre-training on the curated index beat the same fine-tuning from scratch?

Used by ``hf-tiktokactions quickstart --pretrain reference|full`` (``quickstart.py`` picks these stages; the
``curate`` stage is the quickstart's own). The setting is the embedded set's comparison (training/README.md,
rows 11-12): ``vit-mini`` on 8x64x64 clips, ``finetune_embedded_synthetic.yaml`` for both arms.

* ``data``: the labelled action set (seed ``seed``: 20 training and 15 test videos an action, 105 test videos,
  chance 14.3 %) and an unlabeled pool (``reference``: 70 fresh videos of seed ``seed + 2``; ``full``: the 700
  videos of seed ``seed + 1`` the reference was made from, ``reference_encoder.FULL_POOL``);
* ``pretrain``: ``reference``: the shipped reference encoder (``hf_tiktokactions/reference/``), pre-trained
  further on the freshly curated index for ``pretrain_steps`` steps at a tenth of the recipe's peak lr;
  ``full``: ``pretrain_embedded_synthetic.yaml`` from random weights (20k steps), whose result is written as a
  shippable reference folder (``OUTPUT/reference/``);
* ``finetune_pretrained`` / ``finetune_scratch``: the same fine-tuning (steps, lr, batch, data order) for every
  seed of ``finetune_seeds``, single-view top-1 on the test split every ``steps / 5`` steps (for the plot only:
  the model tested at the end is always the last step's, nothing is selected on the test split), then 2x3-view
  testing;
* ``publish``: as the quickstart's, from the first seed's pre-trained model.

Steps are fixed numbers, never "as many as fit in N minutes", so that a rerun gives the same table.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .layout import (
    FINAL_MODEL_DIR,
    INDEX_DIR,
    METRICS_FILE,
    QUICKSTART_STAGES_DIR,
    RECONSTRUCTIONS_DIR,
    RUN_RECORD_FILE,
)
from .machine import machine_description
from .quickstart_options import QuickstartOptions, finetune_arguments, finetune_scores, loader_workers, round_number
from .reference_encoder import (
    FULL_POOL,
    PoolSpec,
    export_reference,
    materialize_reference,
    plot_loss_curve,
    pretrain_with_recipe,
    read_losses,
    reference_record,
)
from .resources import recipe
from .training.results_file import RESULTS_FILE

EVIDENCE_FINETUNE_RECIPE = recipe("finetune_embedded_synthetic.yaml")
TRAIN_VIDEOS_PER_ACTION = 20
TEST_VIDEOS_PER_ACTION = 15
CONTINUE_POOL = PoolSpec(clips_per_class=10)
CONTINUE_LR_FRACTION = 0.1  # of the recipe's peak lr: the reference ended its cosine at 1e-3 of it
FULL_PRETRAIN_STEPS = 20000
DEFAULTS = {  # mode -> (pretrain_steps, finetune_steps): what fits 10 minutes on 2 CPU cores (training/README.md)
    "reference": (100, 120),
    "full": (FULL_PRETRAIN_STEPS, 120),
}


def pretrain_steps(options: QuickstartOptions) -> int:
    return options.pretrain_steps if options.pretrain_steps is not None else DEFAULTS[options.pretrain][0]


def finetune_steps(options: QuickstartOptions) -> int:
    return options.finetune_steps if options.finetune_steps is not None else DEFAULTS[options.pretrain][1]


def seeds(options: QuickstartOptions) -> list[int]:
    try:
        values = [int(part) for part in options.finetune_seeds.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values:
        raise ConfigError(f"--finetune-seeds must be a comma list of integers, got {options.finetune_seeds!r}")
    return values


# ----------------------------------------------------------------------------------------------- stages


def make_evidence_data(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .data.synthetic import make_synthetic_actions

    data = options.output_dir / "data"
    per_action = options.labeled_clips_per_class or TRAIN_VIDEOS_PER_ACTION + TEST_VIDEOS_PER_ACTION
    labeled = make_synthetic_actions(
        data / "actions",
        clips_per_class=per_action,
        size=64,
        num_frames=32,
        fps=15,
        seed=options.seed,
        val_fraction=0.0,
        test_fraction=min(TEST_VIDEOS_PER_ACTION, per_action // 2) / per_action,
        progress=not options.quiet,
    )
    spec, pool_seed = pool_spec(options)
    pool = spec.make(data / "pool", seed=pool_seed, progress=not options.quiet)
    numbers = {
        "pool_videos": _count(pool),
        "pool_seed": pool_seed,
        "labeled_videos": _count(labeled),
        "test_videos": _count(labeled / "test"),
    }
    return numbers, data


def pool_spec(options: QuickstartOptions) -> tuple[PoolSpec, int]:
    """The unlabeled pool of this mode and its seed (reference: videos the reference never saw)."""
    full = options.pretrain == "full"
    spec = FULL_POOL if full else CONTINUE_POOL
    if options.pool_clips_per_class:
        spec = PoolSpec(clips_per_class=options.pool_clips_per_class)
    return spec, options.seed + 1 if full else options.seed + 2


def _count(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.mp4"))


def pretrain_evidence(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    """``reference``: continue the shipped reference; ``full``: the reference's recipe from random weights."""
    steps = pretrain_steps(options)
    output = options.output_dir / "pretrain"
    index = options.output_dir / "curated" / INDEX_DIR
    workers = loader_workers(options)
    started = time.perf_counter()
    if options.pretrain == "full":
        summary = pretrain_with_recipe(
            index,
            output,
            options.seed,
            not options.quiet,
            max_steps=steps,
            reconstruction_steps=min(5000, steps),
            **workers,
        )
        numbers = _pretrain_numbers(summary, steps, "random weights", "pretrain_embedded_synthetic.yaml")
        numbers["seconds_this_call"] = round(time.perf_counter() - started, 1)
        export_reference(output, options.output_dir / "reference", full_record(options, numbers))
        return numbers, output / FINAL_MODEL_DIR
    reference = reference_record(options.reference)
    init = materialize_reference(options.output_dir / "reference_init", options.reference)
    base_lr = _recipe_value("base_learning_rate") * CONTINUE_LR_FRACTION
    summary = pretrain_with_recipe(
        index,
        output,
        options.seed,
        not options.quiet,
        init_from=str(init),
        max_steps=steps,
        warmup_steps=max(1, steps // 10),
        base_learning_rate=base_lr,
        min_learning_rate=base_lr / 100,
        warmup_learning_rate=base_lr / 100,
        reconstruction_steps=steps,
        logging_steps=max(1, steps // 20),
        **workers,
    )
    made = f"{reference.get('steps', '?')} steps on {reference.get('videos', '?')} videos"
    start = f"the shipped reference encoder ({made})"
    numbers = _pretrain_numbers(summary, steps, start, f"pretrain_embedded_synthetic.yaml, lr x {CONTINUE_LR_FRACTION}")
    numbers["reference"] = reference
    return numbers, output / FINAL_MODEL_DIR


def full_record(options: QuickstartOptions, numbers: dict[str, Any]) -> dict[str, Any]:
    """What ``record.json`` of a reference says: the exact command, the recipe, the data and its seed, the times."""
    import json

    spec, pool_seed = pool_spec(options)
    command = f"hf-tiktokactions quickstart --pretrain full --seed {options.seed}"
    if options.pretrain_steps is not None:
        command += f" --pretrain-steps {options.pretrain_steps}"
    if options.pool_clips_per_class:
        command += f" --pool-clips-per-class {options.pool_clips_per_class}"
    stage_seconds = {}
    for stage in ("data", "curate"):
        marker = options.output_dir / QUICKSTART_STAGES_DIR / f"{stage}.json"
        if marker.is_file():
            stage_seconds[stage] = json.loads(marker.read_text())["seconds"]
    return {
        "command": command,
        "recipe": "pretrain_embedded_synthetic.yaml",
        "data": f"{numbers['videos']} curated videos of the synthetic pool of seed {pool_seed} ({spec.clips_per_class} "
        f"an action, {spec.size}x{spec.size} pixels, {spec.num_frames} frames at {spec.fps} fps)",
        "data_seed": pool_seed,
        "seed": options.seed,
        "device": options.device,
        "machine": machine_description(),
        "stage_seconds": stage_seconds,
        **numbers,
    }


def _recipe_value(name: str) -> Any:
    import yaml

    return yaml.safe_load(Path(recipe("pretrain_embedded_synthetic.yaml")).read_text())[name]


def _pretrain_numbers(summary: dict[str, Any], steps: int, start: str, recipe_name: str) -> dict[str, Any]:
    videos_per_step = _recipe_value("per_device_train_batch_size")  # one process; 2 crops of each video
    videos = summary["videos"]
    return {
        "steps": summary["steps"],
        "videos": videos,
        "epochs": round(steps * videos_per_step / max(1, videos), 1),
        "start": start,
        "recipe": recipe_name,
        "loss_start": round_number(summary.get("preview_loss_start")),
        "loss_end": round_number(summary.get("preview_loss_end")),
        "seconds": summary.get("seconds"),
    }


def finetune_arm(options: QuickstartOptions, arm: str, init_from: Path | None) -> tuple[dict[str, Any], Path]:
    """Fine-tune once per seed with the same recipe; mean, spread and per-seed numbers of the 2x3-view test."""
    from .training.finetuning import finetune

    steps = finetune_steps(options)
    folder = options.output_dir / f"finetune_{arm}"
    runs = []
    for seed in seeds(options):
        schedule = {
            "max_steps": steps,
            "warmup_steps": min(40, steps // 4),
            "eval_steps": max(1, steps // 5),
            "eval_split": "test",
        }
        arguments = finetune_arguments(
            options, EVIDENCE_FINETUNE_RECIPE, folder / f"seed{seed}", seed, init_from, **schedule
        )
        runs.append(finetune(*arguments))
    return arm_numbers(runs, steps), folder


def arm_numbers(runs: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    scores = [finetune_scores(run) for run in runs]
    top1, top5 = [score["top1"] for score in scores], [score["top5"] for score in scores]
    return {
        "top1": round(statistics.fmean(top1), 2),
        "top1_std": round(statistics.pstdev(top1), 2),
        "top1_per_seed": top1,
        "top5": round(statistics.fmean(top5), 2),
        "top5_per_seed": top5,
        "seeds": [run["seed"] for run in runs],
        "views": scores[0]["views"],
        "test_videos": scores[0]["test_videos"],
        "finetune_steps": steps,
    }


def finetune_pretrained_arm(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return finetune_arm(options, "pretrained", options.output_dir / "pretrain" / FINAL_MODEL_DIR)


def finetune_scratch_arm(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    return finetune_arm(options, "scratch", None)


def publish_first_seed(options: QuickstartOptions) -> tuple[dict[str, Any], Path]:
    from .hub.export import export_model
    from .hub.space import write_space

    finetuned = options.output_dir / "finetune_pretrained" / f"seed{seeds(options)[0]}"
    folder = options.output_dir / "model"
    if not (finetuned / FINAL_MODEL_DIR / "config.json").is_file():
        raise ConfigError(
            f"{finetuned / FINAL_MODEL_DIR} holds no fine-tuned model; delete "
            f"{options.output_dir / QUICKSTART_STAGES_DIR / 'finetune_pretrained.json'} to redo that stage"
        )
    export_model(
        finetuned / FINAL_MODEL_DIR,
        folder,
        results=[finetuned / RESULTS_FILE],
        overwrite=True,
        synthetic_pretraining=True,
    )
    space = write_space(folder, options.output_dir / "space", overwrite=True)
    return {"files": sorted(p.name for p in folder.iterdir()), "space": str(space)}, folder


# --------------------------------------------------------------------------------------- the comparison


def comparison(pretrained: dict[str, Any], scratch: dict[str, Any]) -> dict[str, Any]:
    """The summary's ``comparison``: both arms' mean, spread and per-seed numbers, the margin, the test set."""
    keys = ("top1", "top1_std", "top1_per_seed", "top5", "top5_per_seed", "seeds")
    return {
        "pretrained": {k: pretrained[k] for k in keys if k in pretrained},
        "scratch": {k: scratch[k] for k in keys if k in scratch},
        "margin_top1": round(pretrained["top1"] - scratch["top1"], 2),
        "test_videos": pretrained["test_videos"],
        "chance_top1": round(100 / 7, 1),
        "views": pretrained["views"],
        "finetune_steps": pretrained.get("finetune_steps"),
    }


def eval_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(step, single-view test top-1) logged during one fine-tuning run (``run_config.json``'s log history)."""
    import json

    config = run_dir / RUN_RECORD_FILE
    if not config.is_file():
        return []
    history = json.loads(config.read_text()).get("log_history", [])
    return [(row["step"], row["eval_top1"]) for row in history if "eval_top1" in row]


def write_evidence_figures(options: QuickstartOptions, summary: dict[str, Any]) -> dict[str, str]:
    """``comparison.png`` (test top-1 over fine-tuning steps per arm and seed, the pre-training loss) and
    ``reconstructions.png`` (the pre-training stage's last reconstruction) beside ``summary.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, losses) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, color in (("pretrained", "tab:blue"), ("scratch", "tab:orange")):
        arm_dir = options.output_dir / f"finetune_{arm}"
        for number, run_dir in enumerate(sorted(arm_dir.glob("seed*")) or [arm_dir]):
            points = eval_curve(run_dir)
            if points:
                label = f"{arm} ({run_dir.name})"
                curves.plot(*zip(*points), color=color, marker="o", alpha=1.0 if number == 0 else 0.5, label=label)
        final = summary["comparison"][arm]
        curves.axhline(final["top1"], color=color, linestyle="--", label=f"{arm}: {final['top1']:.1f} % (2x3 views)")
    curves.axhline(100 / 7, color="gray", linestyle=":", label="chance")
    curves.set(xlabel="fine-tuning step", ylabel="test top-1 (%)", title="fine-tuning, single view")
    curves.legend(fontsize=7)
    pretrain_dir = options.output_dir / "pretrain"
    continued = read_losses(pretrain_dir / METRICS_FILE)
    reference = read_losses(options.reference / METRICS_FILE) if options.pretrain == "reference" else []
    if reference:
        losses.plot(*zip(*reference), label="reference encoder")
        offset = reference[-1][0]
        continued = [(offset + step, loss) for step, loss in continued]
    if continued:
        losses.plot(*zip(*continued), marker=".", label="this run")
    losses.set(xlabel="pre-training step", ylabel="reconstruction loss", yscale="log", title="pre-training")
    losses.legend(fontsize=7)
    figure.tight_layout()
    plot = options.output_dir / "comparison.png"
    figure.savefig(plot, dpi=100)
    plt.close(figure)
    written = {"plot": str(plot)}
    images = sorted((pretrain_dir / RECONSTRUCTIONS_DIR).glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    if images:
        shutil.copyfile(images[-1], options.output_dir / "reconstructions.png")
        written["reconstructions"] = str(options.output_dir / "reconstructions.png")
    return written


__all__ = [
    "comparison",
    "finetune_pretrained_arm",
    "finetune_scratch_arm",
    "make_evidence_data",
    "plot_loss_curve",
    "pretrain_evidence",
    "publish_first_seed",
    "write_evidence_figures",
]
