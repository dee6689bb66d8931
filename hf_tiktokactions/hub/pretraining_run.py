"""What a pre-training run folder tells a model card: data, recipe, steps, the loss curve, reconstructions.

``training/pretrain.py --output_dir RUN`` writes ``RUN/run_config.json`` (options, versions, processes),
``RUN/metrics.jsonl`` (one line per logging step: ``step``, ``loss``, ...), ``RUN/reconstructions/step-N.png``
and, when it finishes, ``RUN/summary.json`` and the model in ``RUN/final/``. ``read_pretraining_run(RUN)``
reads them; ``PretrainingRun.write_figures(folder)`` draws ``loss_curve.png`` and copies the latest
reconstructions as ``reconstructions.png``. Nothing here puts a local path into what is published: the data
source is shown by its folder name (or Hub id) only.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.layout import METRICS_FILE, RECONSTRUCTIONS_DIR, RUN_RECORD_FILE, RUN_SUMMARY_FILE
from hf_tiktokactions.modeling.hub_source import looks_local

__all__ = ["PretrainingRun", "read_pretraining_run", "LOSS_CURVE_FILE", "RECONSTRUCTIONS_FILE", "RECIPE_KEYS"]

LOSS_CURVE_FILE = "loss_curve.png"
RECONSTRUCTIONS_FILE = "reconstructions.png"
# The options a card reports as the recipe, in this order (paths, trackers and loader settings are left out).
RECIPE_KEYS = (
    "model_preset",
    "num_frames",
    "sampling_rate",
    "input_size",
    "tubelet_size",
    "mask_ratio",
    "decoder_mask_ratio",
    "decoder_depth",
    "norm_pix_loss",
    "num_sample",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "base_learning_rate",
    "min_learning_rate",
    "warmup_learning_rate",
    "warmup_epochs",
    "warmup_steps",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "max_grad_norm",
    "drop_path_rate",
    "mixed_precision",
    "seed",
)
_STEP_IMAGE = re.compile(r"step-(\d+)\.png")


@dataclass
class PretrainingRun:
    """The records of one pre-training run (all empty when the model came without its run folder)."""

    args: dict[str, Any] = field(default_factory=dict)  # run_config.json "args"
    record: dict[str, Any] = field(default_factory=dict)  # summary.json, else run_config.json
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss) from metrics.jsonl
    reconstruction: Path | None = None  # the latest reconstructions/step-N.png
    reconstruction_step: int | None = None

    @property
    def found(self) -> bool:
        return bool(self.args)

    @property
    def steps(self) -> int | None:
        """Optimiser steps done: summary.json's count, else the last logged step."""
        steps = self.record.get("steps")
        return steps if isinstance(steps, int) else (self.losses[-1][0] if self.losses else None)

    def data_source(self) -> str | None:
        """The ``--data`` option as it may be published: a Hub id as it is, a local path by its last part."""
        data = self.args.get("data")
        if not data:
            return None
        text = str(data)
        local = looks_local(text) or os.path.exists(text) or "/" not in text
        return Path(text.rstrip("/\\")).name if local else text

    def recipe(self) -> dict[str, Any]:
        """The recipe options that were recorded, in ``RECIPE_KEYS`` order, plus what the run derived."""
        recipe = {key: self.args[key] for key in RECIPE_KEYS if key in self.args}
        for key in ("num_processes", "total_steps", "steps_per_epoch", "learning_rate"):
            if key in self.record:
                recipe[key] = self.record[key]
        return recipe

    def write_figures(self, folder: str | os.PathLike, reconstructions: bool = True) -> list[str]:
        """Draw the loss curve and copy the latest reconstructions (unless ``reconstructions`` is false: they show
        frames of a training clip) into ``folder``; returns the file names."""
        folder = Path(folder)
        written = []
        if self.losses:
            _plot_losses(self.losses, folder / LOSS_CURVE_FILE)
            written.append(LOSS_CURVE_FILE)
        if reconstructions and self.reconstruction is not None:
            shutil.copyfile(self.reconstruction, folder / RECONSTRUCTIONS_FILE)
            written.append(RECONSTRUCTIONS_FILE)
        return written


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"{path}: cannot read the run record ({error}); is it a training/pretrain.py output?"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: a run record must be a JSON object")
    return value


def _read_losses(path: Path) -> list[tuple[int, float]]:
    """(step, loss) of every finite loss in ``metrics.jsonl``; unreadable lines (a run killed mid-write) are skipped."""
    losses = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                step, loss = int(record["step"]), float(record["loss"])
            except (ValueError, KeyError, TypeError):
                continue
            if math.isfinite(loss):
                losses.append((step, loss))
    return sorted(losses)


def _latest_reconstruction(folder: Path) -> tuple[Path | None, int | None]:
    images = [(int(m.group(1)), p) for p in folder.glob("step-*.png") if (m := _STEP_IMAGE.fullmatch(p.name))]
    if not images:
        return None, None
    step, path = max(images)
    return path, step


def read_pretraining_run(folder: str | os.PathLike, required: bool = False) -> PretrainingRun:
    """The records of the run in ``folder`` (``training/pretrain.py``'s ``--output_dir``).

    A folder without ``run_config.json`` gives an empty record, or a ``ConfigError`` when ``required``.
    """
    folder = Path(folder)
    config_path = folder / RUN_RECORD_FILE
    if not config_path.is_file():
        if required:
            raise ConfigError(
                f"--run {folder}: no run_config.json there; pass the --output_dir of training/pretrain.py"
            )
        return PretrainingRun()
    run_config = _read_json(config_path)
    summary_path = folder / RUN_SUMMARY_FILE
    record = {**run_config, **(_read_json(summary_path) if summary_path.is_file() else {})}
    reconstruction, step = _latest_reconstruction(folder / RECONSTRUCTIONS_DIR)
    return PretrainingRun(
        args=dict(run_config.get("args") or {}),
        record=record,
        losses=_read_losses(folder / METRICS_FILE),
        reconstruction=reconstruction,
        reconstruction_step=step,
    )


def _plot_losses(losses: list[tuple[int, float]], path: Path) -> None:
    """A PNG of the training loss against the optimiser step."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    figure = Figure(figsize=(6, 3.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    steps, values = zip(*losses)
    axes.plot(steps, values, marker="." if len(losses) < 50 else None, linewidth=1.2)
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("reconstruction loss (MSE)")
    axes.set_title("Pre-training loss")
    axes.grid(alpha=0.3)
    figure.savefig(path)
