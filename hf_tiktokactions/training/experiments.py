"""The paper's experiments as drivers over the pre-training loop and fine-tuning, the same code at every scale.

* ``scaling_study``: pre-train on N videos of the index for each N and seed, fine-tune each model with the same
  budget, report top-1 / top-5 mean +- std per N (the paper's figure 3);
* ``compare_init``: fine-tune from a model pre-trained on our index, one pre-trained on the target set's own
  training videos, and from scratch, at equal fine-tuning budget (the paper's figure 4).

Each (arm, seed) run lives in its own folder under ``output_dir`` and is skipped when its ``results.json`` exists,
and an interrupted pre-training resumes from its newest checkpoint, so an interrupted study continues.
``embedded=True`` generates the embedded synthetic action set (the target) and a second synthetic set with another
seed (standing in for the unlabeled index) and runs everything on CPU.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

from ..errors import ConfigError
from ..layout import FINAL_MODEL_DIR
from ..output_guard import output_folder
from ..resources import recipe
from .arguments import FinetuneArguments, PretrainArguments, parse_with_config
from .results_file import RESULTS_FILE, RunResults, parse_results, read_results

TINY_PRETRAIN = str(recipe("pretrain_tiny_synthetic.yaml"))
TINY_FINETUNE = str(recipe("finetune_tiny_synthetic.yaml"))


@dataclass
class ExperimentArguments:
    """Options shared by the drivers; pre-training and fine-tuning options come from their own recipes."""

    output_dir: str = field(
        default="runs/experiment", metadata={"help": "one folder per arm and seed under it, and the report"}
    )
    pretrain_config: str = field(default=TINY_PRETRAIN, metadata={"help": "pre-training recipe (YAML)"})
    finetune_config: str = field(default=TINY_FINETUNE, metadata={"help": "fine-tuning recipe (YAML)"})
    pretrain_args: str = field(default="", metadata={"help": "extra pre-training options, e.g. '--max_steps 300'"})
    finetune_args: str = field(
        default="", metadata={"help": "extra fine-tuning options, e.g. '--dataset ucf101 --data_root UCF101'"}
    )
    pretrain_data: str | None = field(
        default=None, metadata={"help": "our unlabeled index (curation index folder, video folder or list)"}
    )
    seeds: str = field(default="0,1,2", metadata={"help": "comma list of seeds (pre-training, subset and fine-tuning)"})
    embedded: bool = field(
        default=False, metadata={"help": "generate the embedded synthetic sets under output_dir/data and use them"}
    )
    embedded_clips_per_class: int = field(default=12, metadata={"help": "size of each generated synthetic set"})
    # fine-tuning data set by --embedded (dataset, data_root); not an option
    finetune_data: dict[str, str] = field(default_factory=dict, init=False)


@dataclass
class ScalingArguments(ExperimentArguments):
    """The paper's scaling study (figure 3): pre-train on N videos of the index for each N and seed, fine-tune each
    model with the same budget, report top-1 / top-5 mean +- std per N. Finished runs are skipped when restarted."""

    sizes: str = field(
        default="1000,2000,3000,4000,5000,6000", metadata={"help": "comma list of pre-training set sizes N"}
    )


@dataclass
class CompareArguments(ExperimentArguments):
    """The paper's comparison of initialisations (figure 4): fine-tune from a model pre-trained on our index, one
    pre-trained on the target set's own training videos, and from scratch, at equal fine-tuning budget. Finished runs
    are skipped when restarted."""

    arms: str = field(
        default="index,target,scratch", metadata={"help": "which initialisations: index, target, scratch"}
    )


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--{option} must be a comma list of integers, got {text!r}") from None


def _prepare_embedded(args: ExperimentArguments) -> None:
    """Generate the synthetic target and index sets and point the options at them."""
    from ..data.synthetic import make_synthetic_actions

    data = Path(args.output_dir) / "data"
    target = make_synthetic_actions(
        data / "target", clips_per_class=args.embedded_clips_per_class, size=64, num_frames=32, seed=0, progress=False
    )
    index = make_synthetic_actions(
        data / "index", clips_per_class=args.embedded_clips_per_class, size=64, num_frames=32, seed=1, progress=False
    )
    args.pretrain_data = str(index)
    args.finetune_data = {"dataset": "videofolder", "data_root": str(target)}


def _pretrain_options(args: ExperimentArguments, **values: Any) -> PretrainArguments:
    """The pre-training recipe, then ``--pretrain_args``, then the driver's ``values``."""
    return parse_with_config(
        PretrainArguments,
        shlex.split(args.pretrain_args),
        prog="--pretrain_args",
        config=args.pretrain_config,
        overrides=values,
    )


def _finetune_options(
    args: ExperimentArguments, output_dir: Path, seed: int, init_from: str | None
) -> tuple[FinetuneArguments, TrainingArguments]:
    """The fine-tuning recipe, then ``--finetune_args``, then the driver's data, folder, seed and initialisation."""
    overrides = {**args.finetune_data, "output_dir": str(output_dir), "seed": seed, "init_from": init_from}
    return parse_with_config(
        (FinetuneArguments, TrainingArguments),
        shlex.split(args.finetune_args),
        prog="--finetune_args",
        config=args.finetune_config,
        overrides=overrides,
    )


def pretrain_once(options: PretrainArguments) -> str:
    """Pre-train (unless ``output_dir/final`` exists) and return the final model folder; an interrupted
    pre-training continues from its newest checkpoint unless ``--resume`` names another."""
    from .pretraining import pretrain

    final = Path(options.output_dir) / FINAL_MODEL_DIR
    if not (final / "config.json").exists():
        pretrain(options if options.resume else dataclasses.replace(options, resume="latest"))
    return str(final)


def finetune_once(args: ExperimentArguments, output_dir: Path, seed: int, init_from: str | None) -> RunResults:
    """Fine-tune and test (unless ``output_dir/results.json`` exists: read as the cards read it, a malformed one is
    a ``ConfigError`` naming it); returns the results. An interrupted fine-tuning continues from its newest
    checkpoint unless ``--finetune_args`` names one."""
    from .finetuning import finetune

    done = output_dir / RESULTS_FILE
    if done.exists():
        return read_results(done)
    finetune_args, training_args = _finetune_options(args, output_dir, seed, init_from)
    if not finetune_args.resume and not training_args.resume_from_checkpoint:
        finetune_args = dataclasses.replace(finetune_args, resume="latest")
    return parse_results(finetune(finetune_args, training_args), done)


def summarise(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def _target_train_list(args: ExperimentArguments, path: Path) -> str:
    """The fine-tuning set's training videos as a list file: the data of the 'pre-trained on the target' arm."""
    from .finetune_inputs import resolve_data

    options, training = _finetune_options(args, path.parent, 0, None)
    data = resolve_data(options, training.seed)
    if data.train.embedded is not None:
        raise ConfigError(
            f"--dataset {options.dataset} holds its clips inside the dataset: the target arm (pre-training on the "
            "target set) reads its training videos as files; use a copy of the dataset with video files, or --arms "
            "without target"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(video + "\n" for video in data.train.videos))
    return str(path)


def _refuse_a_launch(step: str) -> None:
    """The drivers run their stages one after another in this process: under ``accelerate launch`` / ``torchrun``
    every rank would make the embedded sets and write the reports into the same folder."""
    world = os.environ.get("WORLD_SIZE", "1")
    if world.isdigit() and int(world) > 1:
        raise ConfigError(
            f"{step} runs under a launcher of {world} processes (WORLD_SIZE): run it with plain python or "
            f"`hf-tiktokactions {step}` (one process); launch pretrain and finetune themselves for several GPUs"
        )


def _write_report(output_dir: Path, name: str, report: dict, table: str) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / f"{name}.md").write_text(table)


def compare_init(args: CompareArguments) -> dict:
    """Figure 4: index vs target pre-training vs scratch, same fine-tuning budget, mean +- std over seeds."""
    _refuse_a_launch("compare-init")
    output_dir = output_folder(args.output_dir, "--output_dir", make=False)  # each run makes its own folder in it
    if args.embedded:
        _prepare_embedded(args)
    arms = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = set(arms) - {"index", "target", "scratch"}
    if unknown:
        raise ConfigError(f"--arms: unknown {sorted(unknown)}; use index, target, scratch")
    if "index" in arms and not args.pretrain_data:
        raise ConfigError("the 'index' arm needs --pretrain_data (our index), or --embedded true")
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for seed in _ints(args.seeds, "seeds"):
        for arm in arms:
            init = None
            if arm != "scratch":
                data = (
                    args.pretrain_data if arm == "index" else _target_train_list(args, output_dir / "target_videos.txt")
                )
                init = pretrain_once(
                    _pretrain_options(
                        args,
                        data=data,
                        seed=seed,
                        output_dir=str(output_dir / f"{arm}-seed{seed}" / "pretrain"),
                        report_to="none",
                    )
                )
            results = finetune_once(args, output_dir / f"{arm}-seed{seed}" / "finetune", seed, init)
            runs[arm].append(
                {
                    "seed": seed,
                    "top1": results.top1,
                    "top5": results.top5,
                    "mean_class_accuracy": results.mean_class_accuracy,
                }
            )
    report = {"arms": {arm: _group_summary(r) for arm, r in runs.items()}, **_options_record(args)}
    table = _summary_table("initialisation", report["arms"])
    _write_report(output_dir, "compare_init", report, table)
    _plot_bars(report["arms"], output_dir / "compare_init.png")
    print(table, end="", flush=True)
    return report


def scaling_study(args: ScalingArguments) -> dict:
    """Figure 3: pre-train on N videos (a seeded subset of the index) for each N and seed, fine-tune, test."""
    _refuse_a_launch("scaling-study")
    output_dir = output_folder(args.output_dir, "--output_dir", make=False)  # each run makes its own folder in it
    if args.embedded:
        _prepare_embedded(args)
    if not args.pretrain_data:
        raise ConfigError("--pretrain_data (our index) is needed, or --embedded true")
    sizes = _ints(args.sizes, "sizes")
    points: dict[int, list[dict]] = {n: [] for n in sizes}
    for size in sizes:
        for seed in _ints(args.seeds, "seeds"):
            run = output_dir / f"n{size}-seed{seed}"
            init = pretrain_once(
                _pretrain_options(
                    args,
                    data=args.pretrain_data,
                    max_videos=size,
                    subset_seed=seed,
                    seed=seed,
                    output_dir=str(run / "pretrain"),
                    report_to="none",
                )
            )
            results = finetune_once(args, run / "finetune", seed, init)
            points[size].append({"seed": seed, "top1": results.top1, "top5": results.top5})
    report = {"sizes": {str(n): _group_summary(r) for n, r in points.items()}, **_options_record(args)}
    table = _summary_table("pre-training videos", report["sizes"])
    _write_report(output_dir, "scaling_study", report, table)
    _plot_scaling(report["sizes"], output_dir / "scaling_study.png")
    print(table, end="", flush=True)
    return report


def _group_summary(runs: list[dict]) -> dict:
    """The runs of one arm or size, with mean +- std of their top-1 and top-5."""
    return {"runs": runs, "top1": summarise([r["top1"] for r in runs]), "top5": summarise([r["top5"] for r in runs])}


def _options_record(args: ExperimentArguments) -> dict:
    return {
        "pretrain_config": args.pretrain_config,
        "finetune_config": args.finetune_config,
        "pretrain_args": args.pretrain_args,
        "finetune_args": args.finetune_args,
        "finetune_data": args.finetune_data,
        "pretrain_data": args.pretrain_data,
    }


def _summary_table(first_column: str, groups: dict[str, dict]) -> str:
    """A markdown table: one row per group with its seed count and top-1 / top-5 mean +- std."""
    rows = [f"| {first_column} | seeds | top-1 (mean +- std) | top-5 (mean +- std) |", "|---|---|---|---|"]
    for name, summary in groups.items():
        top1, top5 = summary["top1"], summary["top5"]
        rows.append(
            f"| {name} | {len(summary['runs'])} "
            f"| {top1['mean']:.2f} +- {top1['std']:.2f} | {top5['mean']:.2f} +- {top5['std']:.2f} |"
        )
    return "\n".join(rows) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_scaling(sizes: dict[str, dict], path: Path) -> None:
    """Top-1 and top-5 (mean +- std over seeds) against the number of pre-training videos."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    xs = [int(n) for n in sizes]
    for metric, marker in (("top1", "o"), ("top5", "s")):
        axes.errorbar(
            xs,
            [sizes[str(n)][metric]["mean"] for n in xs],
            yerr=[sizes[str(n)][metric]["std"] for n in xs],
            marker=marker,
            capsize=4,
            label=metric.replace("top", "top-"),
        )
    axes.set_xlabel("pre-training videos")
    axes.set_ylabel("accuracy (%)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_bars(arms: dict[str, dict], path: Path) -> None:
    """Top-1 per initialisation, mean +- std over seeds."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 4))
    names = list(arms)
    axes.bar(
        names,
        [arms[a]["top1"]["mean"] for a in names],
        yerr=[arms[a]["top1"]["std"] for a in names],
        capsize=6,
        color="#4c72b0",
    )
    axes.set_ylabel("top-1 (%)")
    axes.set_title("fine-tuning from each initialisation")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
