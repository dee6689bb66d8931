"""What keeps outside data and a second run from writing where they should not.

* :func:`research_video_id` -- a Research API video id is digits only (the API issues 64-bit numbers);
  anything else (``../../x``, ``/tmp/x``, ``12a``, ``-5``) is refused before it names a file;
* :func:`path_under` -- a path built from outside data (an id, a user name in a template, a file
  name from an input), resolved and checked to stay inside its folder before anything is written,
  read or deleted there;
* :func:`output_folder` -- the output folder made, or an error naming the option when a file is in the way;
* :func:`refuse_another_jobs_folder` -- a step never writes into a folder another step wrote;
* :func:`lock_output` -- one writer per output folder: an exclusive ``flock`` on a lock file, held
  until the returned handle is closed (the kernel drops it when the process dies, even on SIGKILL).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import IO, Any

from hf_tiktokactions.errors import ConfigError, OutputStateError
from hf_tiktokactions.layout import CURATION_CONFIG_FILE, RUN_RECORD_FILE

EXIT_INVALID_IDS = 4
"""Exit status of collection and download runs that finished but refused ids that are not digits only."""
MAX_VIDEO_ID_DIGITS = 32
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_VIDEO_ID_DIGITS}}}")  # ASCII only: str.isdigit() also takes other scripts


class InvalidVideoId(ValueError):
    """An id that the Research API would not issue; ``str(exc)`` is the reason a manifest records."""


class OutsideFolder(ValueError):
    """A path built from outside data resolves outside the folder it must stay in."""


def research_video_id(value: Any) -> str:
    """``value`` (a JSON number or string) as the id string, or :class:`InvalidVideoId` saying why not."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text is None or not _DIGITS.fullmatch(text):
        raise InvalidVideoId(
            f"video id {value!r} is not a Research API id (digits only, at most {MAX_VIDEO_ID_DIGITS}); "
            "nothing was fetched or written for it"
        )
    return text


def path_under(folder: str | Path, *parts: str, follow_links: bool = True) -> Path:
    """``folder / parts...`` resolved (links and ``..`` followed); :class:`OutsideFolder` if it leaves ``folder``.

    ``follow_links=False`` only folds ``..`` (for reading from a mirror that may be a folder of links).
    """
    if follow_links:
        root = Path(folder).resolve()
        target = root.joinpath(*parts).resolve()
    else:
        root = Path(os.path.abspath(folder))
        target = Path(os.path.abspath(root.joinpath(*parts)))
    if target == root or not target.is_relative_to(root):
        raise OutsideFolder(f"{'/'.join(parts)!r} resolves to {target}, outside {root}; refused")
    return target


def output_folder(output: str | Path, option: str = "--output-dir", make: bool = True) -> Path:
    """``output`` made (with its parents) if missing; an error naming ``option`` when it, or a parent, is a file.

    ``make=False`` only checks: a step that still has its inputs to read makes the folder after them, so a bad
    input leaves no empty folder behind."""
    output = Path(output)
    in_the_way = next((folder for folder in (output, *output.parents) if folder.exists()), None)
    if in_the_way is not None and not in_the_way.is_dir():
        raise OutputStateError(f"{option} {output}: a file is in the way of this folder; pick another")
    if not make:
        return output
    try:
        output.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputStateError(f"{option} {output}: a file is in the way of this folder; pick another") from None
    return output


EVAL_ONLY_JOB = "finetune --eval_only"
"""An evaluation's folder is not a training run's: its run_config.json and results.json would replace the run's."""


def folder_job(folder: Path) -> str | None:
    """Which step wrote ``folder``: ``"curate"``, ``"pretrain"``, ``"finetune"``, :data:`EVAL_ONLY_JOB`, or None
    (none of them, or empty)."""
    if (folder / CURATION_CONFIG_FILE).is_file():
        return "curate"
    try:
        record = json.loads((folder / RUN_RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    job = record.get("job") or ("finetune" if "training_args" in record else "pretrain")  # records before "job"
    eval_only = job == "finetune" and isinstance(record.get("args"), dict) and record["args"].get("eval_only")
    return EVAL_ONLY_JOB if eval_only else job


def refuse_another_jobs_folder(folder: str | Path, job: str, option: str = "--output_dir") -> None:
    """Refuse to write ``job``'s outputs into a folder another step wrote: pre-training into a fine-tuning run
    replaced its ``final/`` while its ``results.json`` kept describing the classifier, and the like."""
    found = folder_job(Path(folder))
    if found is not None and found != job:
        raise OutputStateError(
            f"{option} {folder} holds the outputs of a {found} run; a {job} run writes into its own folder: pick "
            "another"
        )


def lock_output(output: Path, lock_name: str, command: str) -> IO[str]:
    """Hold ``output/lock_name`` exclusively, or raise naming the folder; close the handle to release it."""
    output_folder(output)
    handle = open(output / lock_name, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputStateError(
            f"{output} is in use by another {command} run (lock {output / lock_name}); "
            "wait for it to finish or pick another --output-dir"
        ) from None
    return handle


def refuse_a_folder_holding(folder: Path, model_dir: str | os.PathLike, option: str) -> None:
    """Refuse ``folder`` (to be emptied) when it is or holds ``model_dir``: --overwrite would delete the model."""
    model = Path(model_dir).resolve()
    if model == folder.resolve() or model.is_relative_to(folder.resolve()):
        raise ConfigError(
            f"{option} {folder} holds the model {model_dir}: writing there would delete it; choose another folder"
        )
