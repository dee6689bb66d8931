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
    import dataclasses

    from .training.arguments import PretrainArguments, parse_with_config
    from .training.pretraining import pretrain

    args = parse_with_config(
        PretrainArguments,
        ["--config", str(FULL_PRETRAIN_RECIPE), "--data", str(index), "--output_dir", str(output_dir)],
        prog="quickstart",
    )
    args = dataclasses.replace(args, seed=seed, resume="latest", disable_tqdm=not progress, **overrides)
    return pretrain(args)
