"""Which Trainer checkpoint (``output_dir/checkpoint-N``) a fine-tuning run resumes from (``--resume``).

Trainer writes a checkpoint in place, ``trainer_state.json`` last: a run killed while saving leaves a folder without
it (or with it cut short), which ``transformers.trainer_utils.get_last_checkpoint`` would still pick. ``latest``
here takes the newest complete one and says which it passed over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

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
