"""Atomic, pickle-free pre-training checkpoints: ``OUTPUT_DIR/checkpoints/step-{N}``.

A checkpoint is written under a temporary name and renamed when every rank has finished, so a kill during a save
leaves the previous checkpoint usable. Inside it:

* Accelerate's model and optimizer states (``model.safetensors``, ``optimizer.bin``; Accelerate reads the
  optimizer with ``torch.load(weights_only=True)``, and FSDP's sharded folders the same way);
* ``rng_state_{rank}.json``: each rank's Python, NumPy and torch random streams, as JSON (Accelerate's own
  ``random_states_{rank}.pkl`` is removed: it is a pickle);
* ``training_state.json``, written last: the progress (optimizer step, epoch, batches of the epoch consumed),
  the number of processes, and the size of every file of the checkpoint.

Under FSDP with sharded state dicts, Accelerate writes ``torch.distributed.checkpoint`` folders whose ``.metadata``
is a pickle read with plain ``pickle.load``: before a resume, each is read with an unpickler that knows only the
classes such metadata holds, so a replaced one is refused without running it.

Nothing is registered with ``accelerator.register_for_checkpointing``: Accelerate reads such custom states with
``torch.load(weights_only=False)``, which runs whatever a replaced file contains. A checkpoint whose files do not
match ``training_state.json`` (truncated, missing, or foreign pickles added) is not resumed; ``--resume latest``
then falls back to the previous one with a warning.
"""

from __future__ import annotations

import json
import pickle
import random
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from ..atomic_files import write_json_atomic
from ..errors import CheckpointError
from ..layout import CHECKPOINTS_DIR

_NAME = re.compile(r"^step-(\d+)$")
_PARTIAL_SUFFIX = ".partial"
STATE_FILE = "training_state.json"
STATE_FORMAT = 1
# Pickles Accelerate writes that this package never reads: its RNG states and custom states.
_FOREIGN_PICKLES = re.compile(r"^(random_states_\d+|custom_checkpoint_\d+)\.pkl$")


@dataclass
class TrainingProgress:
    """What a resume needs beyond model and optimizer: the optimizer step, the epoch, how many batches of that
    epoch (per process, micro-batches when accumulating) were consumed, the seconds of training so far (summed
    over the calls that made the checkpoint, not the pauses between them), the undecodable training videos of
    the steps so far (every rank's, as ``SkippedVideos.gathered`` gives them; None in older checkpoints), and how
    many videos of the epoch's order those batches of every process held (``videos_in_epoch``: a resume with
    another number of processes or batch size continues from there; None in older checkpoints), and with
    ``--streaming`` each process's place in the streamed epoch (``stream_places``, ``streaming_dataset.new_place``
    values by rank, a value None where it is not known: a resume passes over the rows it names without decoding
    them)."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    seconds: float = 0.0
    skipped_videos: dict | None = None
    videos_in_epoch: int | None = None
    stream_places: list | None = None


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / CHECKPOINTS_DIR


def completed_checkpoints(output_dir: str | Path) -> list[Path]:
    """Finished checkpoints, oldest first (partial ones are ignored)."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def _rng_file(rank: int) -> str:
    return f"rng_state_{rank}.json"


def rng_state_json() -> dict:
    """This process's random streams as JSON-able values (torch states as hex strings)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state().numpy().tobytes().hex(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.numpy().tobytes().hex() for s in torch.cuda.get_rng_state_all()]
    return state


def _byte_tensor(hex_string: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(bytes.fromhex(hex_string)), dtype=torch.uint8)


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state_json`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_byte_tensor(state["torch"]))
    if torch.cuda.is_available() and "cuda" in state:
        torch.cuda.set_rng_state_all([_byte_tensor(s) for s in state["cuda"]])


# Every global a torch.distributed.checkpoint ``.metadata`` pickle refers to (besides torch dtypes).
_DCP_METADATA_GLOBALS = {
    *(
        ("torch.distributed.checkpoint.metadata", name)
        for name in (
            "Metadata",
            "MetadataIndex",
            "StorageMeta",
            "TensorProperties",
            "TensorStorageMetadata",
            "BytesStorageMetadata",
            "ChunkStorageMetadata",
            "_MEM_FORMAT_ENCODING",
        )
    ),
    ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
    ("torch.serialization", "_get_layout"),
    ("torch", "Size"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("collections", "OrderedDict"),
}


class _DcpMetadataUnpickler(pickle.Unpickler):
    """Unpickles only what ``torch.distributed.checkpoint`` metadata holds; anything else is refused unrun."""

    def find_class(self, module: str, name: str):
        if (module, name) in _DCP_METADATA_GLOBALS or (
            module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}")


def _dcp_metadata_problem(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            _DcpMetadataUnpickler(handle).load()
    except Exception as error:  # any failure of a restricted unpickle means: do not let pickle.load read it
        return f"{path.name} in {path.parent.name} is not plain distributed-checkpoint metadata ({error})"
    return None


def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be resumed (missing or unreadable ``training_state.json``, a file missing or of another
    size than recorded, an unreadable RNG state, a pickle this package never writes), or None when it is complete."""
    state_path = folder / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
        files, processes = dict(state["files"]), int(state["num_processes"])
        TrainingProgress(**state["progress"])
    except FileNotFoundError:
        return f"no {STATE_FILE} (not a checkpoint of this package, or an unfinished one)"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"{STATE_FILE} is unreadable ({error})"
    if state.get("format") != STATE_FORMAT:
        return f"{STATE_FILE} has format {state.get('format')!r}, expected {STATE_FORMAT}"
    actual = _file_sizes(folder)
    for name, size in files.items():
        if name not in actual:
            return f"{name} is missing"
        if actual[name] != size:
            return f"{name} has {actual[name]} bytes, {size} when saved (truncated or replaced)"
    foreign = sorted(name for name in actual if _FOREIGN_PICKLES.match(Path(name).name))
    if foreign:
        return f"it holds {', '.join(foreign)}, pickles this package never writes nor reads"
    for name in actual:
        if name.endswith(".metadata") and (problem := _dcp_metadata_problem(folder / name)):
            return problem
    for rank in range(processes):
        if _rng_file(rank) not in files:
            return f"{_rng_file(rank)} is missing"
        try:
            rng = json.loads((folder / _rng_file(rank)).read_text())
            if not {"python", "numpy", "torch"} <= rng.keys():
                raise KeyError("python, numpy or torch")
        except (OSError, ValueError, KeyError, AttributeError) as error:
            return f"{_rng_file(rank)} is unreadable ({error})"
    return None


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def newest_complete(
    found: list[Path], problem_of: Callable[[Path], str | None], where: Path, announce: bool = True
) -> Path | None:
    """``--resume latest`` over ``found`` (oldest first): the newest checkpoint ``problem_of`` finds nothing wrong
    with, a newer incomplete one skipped with a warning (when ``announce``). None when there is none yet; an error
    when there are checkpoints but none is complete (starting over would silently throw them away)."""
    skipped = []
    for folder in reversed(found):
        problem = problem_of(folder)
        if problem is None:
            if announce:
                for name, reason in skipped:
                    _warn(f"checkpoint {name} is incomplete ({reason}); resuming from {folder.name} instead")
            return folder
        skipped.append((folder.name, problem))
    if found:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped)
        raise CheckpointError(
            f"--resume latest: no complete checkpoint in {where} ({reasons}); "
            "remove them (or pick another --output_dir) to start over"
        )
    return None


def refuse_to_start_over(found: list[Path], output_dir: str | Path) -> None:
    """A run without ``--resume`` into ``output_dir`` that holds checkpoints ``found`` (oldest first) would train
    from step 0 and overwrite them: refused, naming the way on (``--resume latest``) and the way to start over."""
    if found:
        raise CheckpointError(
            f"{output_dir} holds checkpoints of an earlier run (newest: {found[-1].name}): pass --resume latest to "
            "continue it, or delete them (or pick another --output_dir) to start over"
        )


def resolve_resume(resume: str | None, output_dir: str | Path, announce: bool = True) -> Path | None:
    """``None``, ``"latest"`` or an explicit checkpoint folder -> the folder to resume from.

    ``"latest"``: the newest complete checkpoint in ``output_dir``; an incomplete newer one is skipped with a
    warning (when ``announce``). None when there is no checkpoint yet; an error when there are checkpoints but none
    is complete (starting over would silently throw them away). An explicit folder must be complete. Without
    ``resume``, an error when ``output_dir`` holds complete checkpoints (see :func:`refuse_to_start_over`).
    """
    if not resume:
        refuse_to_start_over(completed_checkpoints(output_dir), output_dir)
        return None
    if resume == "latest":
        return newest_complete(
            completed_checkpoints(output_dir), checkpoint_problem, checkpoint_root(output_dir), announce
        )
    path = Path(resume)
    if not path.is_dir() or path.name.endswith(_PARTIAL_SUFFIX):
        raise CheckpointError(
            f"--resume {resume}: not a finished checkpoint folder "
            f"(expected {checkpoint_root(output_dir)}/step-N or 'latest')"
        )
    problem = checkpoint_problem(path)
    if problem is not None:
        raise CheckpointError(f"--resume {resume}: the checkpoint is incomplete: {problem}")
    return path


def save_checkpoint(accelerator: Accelerator, output_dir: str | Path, progress: TrainingProgress, keep: int) -> Path:
    """Save model, optimizer, RNG states and ``progress``; keep the newest ``keep`` checkpoints."""
    root = checkpoint_root(output_dir)
    final = root / f"step-{progress.step}"
    partial = root / f"step-{progress.step}{_PARTIAL_SUFFIX}"
    if final.is_dir() and checkpoint_problem(final) is None:  # already saved (e.g. the end of a run that just saved)
        return final
    accelerator.wait_for_everyone()  # every rank has looked at ``final`` before it is replaced
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)  # an incomplete one, skipped by the resume that led here
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    rank = accelerator.process_index
    (partial / f"random_states_{rank}.pkl").unlink(missing_ok=True)
    write_json_atomic(partial / _rng_file(rank), rng_state_json())
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        record = {
            "format": STATE_FORMAT,
            "progress": asdict(progress),
            "num_processes": accelerator.num_processes,
            "files": _file_sizes(partial),
        }
        write_json_atomic(partial / STATE_FILE, record)
        partial.rename(final)
        for old in completed_checkpoints(output_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(f"*{_PARTIAL_SUFFIX}"):
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Accelerator, folder: Path) -> TrainingProgress:
    """Restore model and optimizer (Accelerate, tensors only), this rank's random streams and the progress from a
    complete checkpoint (see :func:`checkpoint_problem`)."""
    try:
        accelerator.load_state(str(folder))
    except pickle.UnpicklingError:  # torch.load(weights_only=True) met something other than tensors
        raise CheckpointError(
            f"--resume {folder}: the optimizer or model state holds objects other than tensors and was not loaded; "
            "it was not written by this package: resume from another checkpoint"
        ) from None
    except (RuntimeError, OSError, ValueError, KeyError) as error:
        first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise CheckpointError(
            f"--resume {folder}: the model or optimizer state could not be loaded ({first_line}); "
            "resume from another checkpoint"
        ) from None
    state = json.loads((folder / STATE_FILE).read_text())
    rng_path = folder / _rng_file(accelerator.process_index)
    if rng_path.exists():
        restore_rng_state(json.loads(rng_path.read_text()))
    else:
        _warn(
            f"{folder} was saved by {state['num_processes']} process(es); rank {accelerator.process_index} has no "
            "saved random streams and starts them from the seed"
        )
    return TrainingProgress(**state["progress"])
