"""The quickstart's pre-training from nothing (``--pretrain full``) and the reference encoder it produces.

``--pretrain full`` is the embedded set's winning setting (training/README.md, rows 11-12) through the real
pipeline: an unlabeled pool of 700 synthetic videos (seed ``seed + 1``, 100 an action, 64x64, 32 frames at 8 fps
so that every video is a 4-second clip the curation keeps), curated into an index, then
``pretrain_embedded_synthetic.yaml`` (``vit-mini``, raw-pixel target, tube 0.75, 20k steps of 32 clips).

Its encoder, saved in half precision, is what the package ships as the reference encoder
(``hf_tiktokactions/reference/``, see its README.md); ``--pretrain reference`` starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layout import FINAL_MODEL_DIR, METRICS_FILE, RECONSTRUCTIONS_DIR
from .resources import recipe

FULL_PRETRAIN_RECIPE = recipe("pretrain_embedded_synthetic.yaml")


@dataclass(frozen=True)
class PoolSpec:
    """How an unlabeled synthetic pool is generated (``make_synthetic_actions`` options)."""

    clips_per_class: int
    size: int = 64
    num_frames: int = 32
    fps: int = 8  # 32 frames at 8 fps: 4-second videos, inside the curation's 3.5-10 s clip window

    def make(self, folder: Path, seed: int, progress: bool) -> Path:
        from .data.synthetic import make_synthetic_actions

        return make_synthetic_actions(
            folder,
            clips_per_class=self.clips_per_class,
            size=self.size,
            num_frames=self.num_frames,
            fps=self.fps,
            seed=seed,
            progress=progress,
        )


FULL_POOL = PoolSpec(clips_per_class=100)


def pretrain_with_recipe(index: Path, output_dir: Path, seed: int, progress: bool, **overrides: Any) -> dict[str, Any]:
    """Pre-train with ``pretrain_embedded_synthetic.yaml`` on ``index``; ``overrides`` replace recipe values
    (``max_steps``, ``init_from``, ...). Resumes from the latest checkpoint in ``output_dir``.

    Returns the summary of ``training.pretraining.pretrain``.
    """
    from .training.arguments import PretrainArguments, recipe_options
    from .training.pretraining import pretrain

    args = recipe_options(
        PretrainArguments,
        FULL_PRETRAIN_RECIPE,
        data=str(index),
        output_dir=str(output_dir),
        seed=seed,
        resume="latest",
        disable_tqdm=not progress,
        **overrides,
    )
    return pretrain(args)


# ------------------------------------------------------------------------------------------ the shipped file

REFERENCE_DIR = Path(__file__).parent / "reference"
"""The shipped reference: ``config.json`` and ``model.safetensors`` (fp16) of a ``VideoMAEv2ForPreTraining``,
``README.md`` (recipe, data seed, steps, wall time), ``pretrain_loss.png``, ``metrics.jsonl``, ``record.json``."""
WEIGHTS_FILE = "model.safetensors"
RECORD_FILE = "record.json"


def has_reference(folder: Path = REFERENCE_DIR) -> bool:
    return (folder / WEIGHTS_FILE).is_file() and (folder / "config.json").is_file()


def reference_record(folder: Path = REFERENCE_DIR) -> dict[str, Any]:
    """How the shipped reference was made (``record.json``): command, recipe, data seed, steps, seconds."""
    import json

    path = folder / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def materialize_reference(destination: Path, folder: Path = REFERENCE_DIR) -> Path:
    """Write the shipped fp16 reference as a float32 model folder at ``destination`` (for ``--init_from``)."""
    import shutil

    from safetensors.torch import load_file, save_file

    from .errors import ConfigError

    if not has_reference(folder):
        raise ConfigError(
            f"no reference encoder in {folder}; make one with `hf-tiktokactions quickstart --pretrain full` "
            "or run `hf-tiktokactions quickstart --pretrain quick`"
        )
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "config.json", destination / "config.json")
    weights = {name: tensor.float() for name, tensor in load_file(folder / WEIGHTS_FILE).items()}
    save_file(weights, destination / WEIGHTS_FILE, metadata={"format": "pt"})
    return destination


def export_reference(pretrain_dir: Path, destination: Path, record: dict[str, Any]) -> Path:
    """Write ``pretrain_dir/final`` as a shippable reference folder: fp16 weights, config, the loss curve
    (``metrics.jsonl`` and ``pretrain_loss.png``), the last reconstruction image and ``record.json``."""
    import shutil

    from safetensors.torch import load_file, save_file

    from .atomic_files import write_json_atomic

    final = pretrain_dir / FINAL_MODEL_DIR
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(final / "config.json", destination / "config.json")
    weights = {name: tensor.half().contiguous() for name, tensor in load_file(final / WEIGHTS_FILE).items()}
    save_file(weights, destination / WEIGHTS_FILE, metadata={"format": "pt"})
    shutil.copyfile(pretrain_dir / METRICS_FILE, destination / METRICS_FILE)
    plot_loss_curve(read_losses(pretrain_dir / METRICS_FILE), destination / "pretrain_loss.png", "reference")
    reconstructions = sorted(
        (pretrain_dir / RECONSTRUCTIONS_DIR).glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1])
    )
    if reconstructions:
        shutil.copyfile(reconstructions[-1], destination / "reconstruction.png")
    write_json_atomic(destination / RECORD_FILE, record)
    (destination / "README.md").write_text(reference_readme(record))
    for path in destination.iterdir():
        path.chmod(0o644)  # package data: readable by every user of an installed copy
    return destination


def reference_readme(record: dict[str, Any]) -> str:
    """``README.md`` of a reference folder, from its ``record.json``."""
    import json

    return f"""# The reference encoder of `hf-tiktokactions quickstart`

`VideoMAEv2ForPreTraining` (`vit-mini`: 4 blocks of 128, 8x64x64 clips, patch 8, tubelet 2; encoder and decoder)
pre-trained by this package's own pipeline on unlabeled synthetic videos, weights in half precision
(`model.safetensors`). `hf-tiktokactions quickstart` (`--pretrain reference`) continues it on the index it
curates and fine-tunes it; `hf-tiktokactions quickstart --pretrain full` makes it again from random weights.

* command: `{record.get("command")}`
* recipe: `training/configs/{record.get("recipe")}`
* data: {record.get("data")}
* seed: {record.get("seed")} (the pool's: {record.get("data_seed")})
* steps: {record.get("steps")} ({record.get("epochs")} epochs over {record.get("videos")} videos, 2 crops each)
* reconstruction loss of the fixed preview batch: {record.get("loss_start")} -> {record.get("loss_end")}
  (`metrics.jsonl`, `pretrain_loss.png`; the last reconstruction: `reconstruction.png`)
* pre-training wall time: {_duration(record.get("seconds"))} on {record.get("device")}
  ({record.get("machine", "machine not recorded")}); {_stage_times(record.get("stage_seconds") or {})}

```json
{json.dumps(record, indent=2)}
```
"""


def _duration(seconds: float | None) -> str:
    return "not recorded" if seconds is None else f"{seconds:.0f} s ({seconds / 60:.0f} min)"


def _stage_times(stage_seconds: dict[str, float]) -> str:
    named = {"data": "data", "curate": "curation"}
    return ", ".join(f"{named.get(stage, stage)} {seconds} s" for stage, seconds in stage_seconds.items())


def read_losses(metrics_file: Path) -> list[tuple[int, float]]:
    """(step, loss) of each line of a pre-training ``metrics.jsonl``; empty when there is none."""
    import json

    if not metrics_file.is_file():
        return []
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return [(row["step"], row["loss"]) for row in rows if "loss" in row]


def plot_loss_curve(losses: list[tuple[int, float]], path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    if losses:
        axes.plot(*zip(*losses), label=label)
    axes.set(xlabel="pre-training step", ylabel="reconstruction loss", yscale="log", title="pre-training loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
