"""Atomic Accelerate checkpoints: ``OUTPUT_DIR/checkpoints/step-{N}``, written under a temporary name and
renamed when every rank has finished, so a kill during a save leaves the previous checkpoint usable."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from accelerate import Accelerator

from ..errors import CheckpointError

_NAME = re.compile(r"^step-(\d+)$")
_PARTIAL_SUFFIX = ".partial"


class TrainingProgress:
    """What a resume needs beyond model, optimizer and RNG states: the optimizer step, the epoch and how
    many batches of that epoch were consumed. Registered with ``accelerator.register_for_checkpointing``."""

    def __init__(self) -> None:
        self.step = 0
        self.epoch = 0
        self.batches_in_epoch = 0

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "epoch": self.epoch, "batches_in_epoch": self.batches_in_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step, self.epoch, self.batches_in_epoch = state["step"], state["epoch"], state["batches_in_epoch"]


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def completed_checkpoints(output_dir: str | Path) -> list[Path]:
    """Finished checkpoints, oldest first (partial ones are ignored)."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def resolve_resume(resume: str | None, output_dir: str | Path) -> Path | None:
    """``None``, ``"latest"`` (newest finished checkpoint in ``output_dir``, or None when there is none yet)
    or an explicit checkpoint folder."""
    if not resume:
        return None
    if resume == "latest":
        found = completed_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not path.is_dir() or path.name.endswith(_PARTIAL_SUFFIX):
        raise CheckpointError(
            f"--resume {resume}: not a finished checkpoint folder (expected {checkpoint_root(output_dir)}/step-N or 'latest')"
        )
    return path


def save_checkpoint(accelerator: Accelerator, output_dir: str | Path, step: int, keep: int) -> Path:
    """Save model, optimizer, RNG and registered states for ``step``; keep the newest ``keep`` checkpoints."""
    root = checkpoint_root(output_dir)
    final = root / f"step-{step}"
    partial = root / f"step-{step}{_PARTIAL_SUFFIX}"
    if final.is_dir():  # already saved at this step (e.g. the end of a run that just saved)
        return final
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        partial.rename(final)
        for old in completed_checkpoints(output_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(f"*{_PARTIAL_SUFFIX}"):
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final
