"""What a resumed training run checks against the run so far, and what it keeps of it.

* :func:`earlier_segments` -- the records of the runs a resumed run continues (``run_config.json`` is rewritten
  by every run; the earlier ones are kept in it), with a warning that names each option the resumed run changed
  that changes the training itself;
* :func:`checkpoint_fits` -- why a checkpoint's weights cannot load into the model this run built (another
  ``--model_preset`` or number of classes: the weights' shapes; the frame count and input size change no weight,
  the position table being computed, and are named by the warning above), read from the safetensors header before
  anything trains, so that the error names the weights and not a ``load_state_dict`` traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import torch

from ..layout import RUN_RECORD_FILE

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"


def earlier_segments(
    output_dir: Path,
    record: Mapping[str, Any],
    options_of: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    bookkeeping: Collection[str],
    announce: bool,
    length: Collection[str] = (),
    kept_once: Collection[str] = (),
) -> list[dict]:
    """The records of the runs this one resumes: those kept in ``output_dir/run_config.json`` and the record itself
    (less its ``kept_once`` keys, e.g. a history the resumed run carries on).

    ``options_of(record)`` gives a record's options. When ``announce``, a warning names each option the resumed run
    changed other than the ``bookkeeping`` ones (how often it saves, logs, tests); a changed ``length`` option (how
    long the run is) gets its own: the lr schedule is stretched or shortened from the resumed step on.
    """
    try:
        earlier = json.loads((output_dir / RUN_RECORD_FILE).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(earlier, dict):
        return []
    segments = [*earlier.pop("earlier_segments", []), {k: v for k, v in earlier.items() if k not in kept_once}]
    before, now = options_of(earlier), options_of(record)
    changed = sorted(key for key in now if key in before and before[key] != now[key] and key not in bookkeeping)
    if not announce:
        return segments
    longer = [key for key in changed if key in length]
    other = [key for key in changed if key not in length]
    if other:
        shown = ", ".join(f"{key} {before[key]!r} -> {now[key]!r}" for key in other[:6])
        logger.warning(
            "resuming with other options than the run so far (%s%s): the steps before and after differ; "
            "run_config.json keeps both under earlier_segments",
            shown,
            ", ..." if len(other) > 6 else "",
        )
    if longer:
        shown = ", ".join(f"{key} {before[key]!r} -> {now[key]!r}" for key in longer)
        logger.warning(
            "resuming a run of another length (%s): the lr schedule is recomputed for the new length from the "
            "resumed step on",
            shown,
        )
    return segments


def checkpoint_fits(checkpoint: Path, model: torch.nn.Module) -> str | None:
    """Why ``checkpoint/model.safetensors`` does not load into ``model`` (None when it does, or when the checkpoint
    keeps its weights in another form, e.g. FSDP's sharded state): the first weights whose shapes differ, or the
    names one side lacks."""
    path = Path(checkpoint) / WEIGHTS_FILE
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as stored:
        saved = {name: tuple(stored.get_slice(name).get_shape()) for name in stored.keys()}
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    differing = [
        f"{name} {saved[name]} vs {expected[name]}"
        for name in expected
        if name in saved and saved[name] != expected[name]
    ]
    if differing:
        return f"{len(differing)} weights differ in shape (saved vs this run's model): {'; '.join(differing[:2])}"
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unexpected:
        named = [f"this run's model has {missing[0]}"] if missing else []
        named += [f"the checkpoint has {unexpected[0]}"] if unexpected else []
        return f"{len(missing)} weights missing, {len(unexpected)} unexpected ({'; '.join(named)})"
    return None
