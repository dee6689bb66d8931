"""Which Trainer checkpoint (``output_dir/checkpoint-N``) a fine-tuning run resumes from (``--resume``).

Trainer writes a checkpoint in place, ``trainer_state.json`` last: a run killed while saving leaves a folder without
it (or with it cut short), which ``transformers.trainer_utils.get_last_checkpoint`` would still pick. ``latest``
here takes the newest complete one and says which it passed over.

Trainer counts a run in optimizer steps: a resume goes on ``global_step`` steps into the run (its place in the epoch,
its lr schedule), so its steps must take as many videos as the checkpoint's. :class:`BatchInCheckpoints` keeps the
checkpoint's batch in its ``trainer_state.json``; :func:`other_batch_problem` compares it with the resuming run's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from ..errors import CheckpointError
from .checkpointing import newest_complete, refuse_to_start_over

TRAINER_STATE = "trainer_state.json"
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")


def trainer_checkpoints(output_dir: str | Path) -> list[Path]:
    """``output_dir/checkpoint-N`` folders, oldest (smallest N) first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [path for path in root.iterdir() if path.is_dir() and _CHECKPOINT_NAME.match(path.name)]
    return sorted(found, key=lambda path: int(_CHECKPOINT_NAME.match(path.name).group(1)))


def trainer_checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be resumed from (None when it can): its ``trainer_state.json``, written last, is the
    sign that the save finished."""
    state = folder / TRAINER_STATE
    if not state.is_file():
        return f"{TRAINER_STATE} is missing: the save did not finish"
    try:
        step = json.loads(state.read_text()).get("global_step")
    except (OSError, ValueError, AttributeError):
        return f"{TRAINER_STATE} is unreadable: the save did not finish"
    if not isinstance(step, int):
        return f"{TRAINER_STATE} holds no global_step"
    return None


def resolve_trainer_resume(resume: str | None, output_dir: str | Path) -> str | None:
    """``None``, ``"latest"`` or a checkpoint folder -> the Trainer checkpoint to resume from.

    ``"latest"``: the newest complete ``checkpoint-N`` in ``output_dir`` (None when there is none yet: the run
    starts); an error when there are checkpoints but none is complete (starting over would throw them away).
    Without ``resume``, an error when ``output_dir`` holds checkpoints (``refuse_to_start_over``).
    """
    if not resume:
        refuse_to_start_over(trainer_checkpoints(output_dir), output_dir)
        return None
    if resume == "latest":
        latest = newest_complete(trainer_checkpoints(output_dir), trainer_checkpoint_problem, Path(output_dir))
        return None if latest is None else str(latest)
    folder = Path(resume)
    problem = trainer_checkpoint_problem(folder) if folder.is_dir() else "no such folder"
    if problem is not None:
        raise CheckpointError(f"--resume {resume}: not a finished Trainer checkpoint folder ({problem})")
    return str(folder)


class BatchInCheckpoints(TrainerCallback, ExportableState):
    """Keeps the batch of a step in each checkpoint's ``trainer_state.json`` (Trainer writes the state of such
    callbacks under ``stateful_callbacks``, in the file whose presence says the save finished)."""

    def __init__(self, per_device: int, processes: int, accumulation: int) -> None:
        self.per_device, self.processes, self.accumulation = per_device, processes, accumulation

    def state(self) -> dict:
        return {"args": vars(self).copy(), "attributes": {}}

    @property
    def total(self) -> int:
        return self.per_device * self.processes * self.accumulation

    def describe(self) -> str:
        processes = f"{self.processes} process{'es' if self.processes != 1 else ''}"
        return f"{self.total} videos ({self.per_device} a device x {processes} x {self.accumulation} accumulated)"


def other_batch_problem(checkpoint: str | Path, now: BatchInCheckpoints) -> str | None:
    """Why a run whose steps take ``now`` cannot resume from ``checkpoint``: its steps took another total number of
    videos (None when they took as many, however split, or when the checkpoint does not say: saved before it did).
    ``--auto_find_batch_size`` changes the split of a step, never its total, so ``now`` is the command line's."""
    state = json.loads((Path(checkpoint) / TRAINER_STATE).read_text())
    saved = (state.get("stateful_callbacks") or {}).get(BatchInCheckpoints.__name__)
    if not isinstance(saved, dict) or not isinstance(saved.get("args"), dict):
        return None
    then = BatchInCheckpoints(**saved["args"])
    if then.total == now.total:
        return None
    step = state["global_step"]
    return (
        f"its {step} steps took {then.describe()} each, this run's take {now.describe()}: Trainer would go on "
        f"{step * now.total} videos into the run, not {step * then.total}, on another lr schedule. Resume with a "
        f"total batch of {then.total} (e.g. make up for fewer processes with --gradient_accumulation_steps), or start "
        "a new run from its weights with --init_from and another --output_dir"
    )
