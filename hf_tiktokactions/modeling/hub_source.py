"""Where a checkpoint to convert comes from: a local path, or a Hub repository fetched into the Hub cache.

``OWNER/NAME`` names a repository that is a model folder (``config.json`` + safetensors, e.g.
``OpenGVLab/VideoMAEv2-Base``); ``OWNER/NAME:path/in/repo.pth`` (or ``filename``) names one file of a repository
that holds several (e.g. ``DrQY/VideoMAEv2_TikTok``). Downloads go through ``huggingface_hub`` into its cache
(``HF_HUB_CACHE``), so a cached copy is used offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CheckpointError

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_FOLDER_FILES = ["*.json", "*.safetensors"]
_PICKLED_WEIGHTS = ["*.json", "pytorch_model.bin"]  # a repository from before safetensors (read with weights_only)


def is_repo_id(text: str) -> bool:
    """Whether ``text`` is written as a Hub repository id ``OWNER/NAME`` (whether it exists is the Hub's to say)."""
    return _REPO_ID.fullmatch(text) is not None


def only_local(text: str | os.PathLike) -> bool:
    """Whether ``text`` can never be a Hub id ``OWNER/NAME``: it starts with ``.``, ``/`` or ``~`` (a Hub id starts
    with a letter or digit), is absolute, or holds a backslash or more than one slash."""
    text = str(text)
    return text.startswith((".", "/", "~")) or "\\" in text or os.path.isabs(text) or text.count("/") > 1


def looks_local(text: str | os.PathLike) -> bool:
    """Whether ``text`` reads as a local path: :func:`only_local`, or it names something in a folder that exists
    (``runs/typo`` where ``runs/`` exists). Such an ``OWNER/NAME`` may still be a Hub id (an ``OWNER/`` folder in the
    working directory): callers ask the Hub for it and, when the Hub has none, name the missing local path."""
    if only_local(text):
        return True
    parent = os.path.dirname(str(text))
    return bool(parent) and os.path.isdir(parent)


def missing_here_and_on_the_hub(label: str, kind: str, hub_error: BaseException) -> str:
    """The one line for a name that is no local path and that the Hub did not give either (a typo like
    ``runs/typo`` where ``runs/`` exists): ``--data runs/typo: no such file or folder, and as a Hub id it did not
    load (OSError: ...)``; ``label`` names the input, ``kind`` what a local one would be."""
    reason = next((line.strip() for line in str(hub_error).splitlines() if line.strip()), "")
    return f"{label}: no such {kind}, and as a Hub id it did not load ({type(hub_error).__name__}: {reason[:200]})"


def resolve_source(source: str | Path, filename: str | None = None) -> Path:
    """A local file or folder for ``source``: the path itself when it exists, else the Hub file or folder."""
    path = Path(source)
    if path.exists():
        return path / filename if filename and path.is_dir() else path
    repo_id, _, inner = str(source).partition(":")
    filename = filename or inner or None
    if only_local(repo_id):
        raise CheckpointError(f"checkpoint {source} does not exist (no such local file or folder)")
    if "@" in repo_id and is_repo_id(repo_id.partition("@")[0]):
        name, _, revision = repo_id.partition("@")
        raise CheckpointError(
            f"checkpoint {source}: a revision (@{revision}) is not read here; fetch it with `hf download {name} "
            f"--revision {revision} --local-dir DIR` and pass DIR"
        )
    if not is_repo_id(repo_id):
        raise CheckpointError(f"checkpoint {source} does not exist (neither a local path nor a Hub repo id OWNER/NAME)")
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    wanted = f"{repo_id}:{filename}" if filename else repo_id
    try:
        if filename:
            return Path(hf_hub_download(repo_id, filename))
        folder = Path(snapshot_download(repo_id, allow_patterns=_FOLDER_FILES))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(repo_id, allow_patterns=_PICKLED_WEIGHTS))
    except (EntryNotFoundError, HfHubHTTPError, OSError, ValueError) as error:
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        if looks_local(repo_id):
            missing = missing_here_and_on_the_hub(f"checkpoint {source}", "file or folder", error)
            raise CheckpointError(missing) from None
        raise CheckpointError(
            f"cannot get {wanted} from the Hub ({reason[:200]}); on a machine with network run "
            f"`hf download {repo_id}{' ' + filename if filename else ''}` (it fills the Hub cache that HF_HUB_CACHE "
            "points to) or pass the downloaded file's local path"
        ) from None
    if not (folder / "config.json").exists():
        raise CheckpointError(
            f"{repo_id} is not a model folder (no config.json); name the checkpoint file inside it: "
            f"{repo_id}:path/in/repo.pth or --filename path/in/repo.pth"
        )
    return folder
