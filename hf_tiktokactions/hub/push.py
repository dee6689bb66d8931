"""Upload an exported model folder to the Hub: exactly what ``export_model`` writes, nothing else.

The token is found the standard way (``huggingface_hub.get_token``): the ``HF_TOKEN`` environment variable,
else the one ``hf auth login`` stored. It must be a write token; it is passed to huggingface_hub and never
printed or written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from huggingface_hub import create_repo, get_token, repo_info, upload_folder
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled, RepositoryNotFoundError
from huggingface_hub.utils import validate_repo_id

from hf_tiktokactions.errors import ConfigError, CredentialsError, TikTokActionsError
from hf_tiktokactions.hub.export import export_model
from hf_tiktokactions.hub_unreachable import hub_unreachable_errors
from hf_tiktokactions.training.results_file import RunResults

__all__ = ["push_model", "PushError"]


class PushError(TikTokActionsError):
    """The Hub refused or could not be reached."""


def _token() -> str:
    token = get_token()
    if not token:
        raise CredentialsError(
            "no Hugging Face token: run `hf auth login` or set HF_TOKEN to a write token "
            "(https://huggingface.co/settings/tokens)"
        )
    return token


def push_model(
    model_dir: str | os.PathLike,
    repo_id: str,
    results: Iterable[RunResults | str | os.PathLike] = (),
    *,
    private: bool | None = None,
    commit_message: str = "Upload VideoMAE V2 model (hf-tiktokactions export)",
    preprocessing: dict[str, Any] | None = None,
    **card_options: Any,
) -> str:
    """Export ``model_dir`` to a temporary folder and upload it to ``repo_id``; returns the commit URL.

    Creates the repository when it does not exist yet: private with ``private=True``, public with ``False``, as the
    namespace's default with ``None``. An existing public repository is refused with ``private=True`` (the Hub
    would upload into it as it is).
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ConfigError(f"--repo-id {repo_id!r} is not a valid Hub id ({error}); use ORG/NAME") from None
    if "/" not in repo_id:
        raise ConfigError(f"--repo-id {repo_id!r} needs an owner: use ORG/NAME")
    token = _token()
    with tempfile.TemporaryDirectory(prefix="hf-tiktokactions-push-") as tmp:
        folder = export_model(
            model_dir, Path(tmp) / "export", results, preprocessing=preprocessing, repo_id=repo_id, **card_options
        )
        try:
            if private:
                _refuse_public(repo_id, token)
            create_repo(repo_id, repo_type="model", private=private, exist_ok=True, token=token)
            commit = upload_folder(
                repo_id=repo_id, folder_path=folder, repo_type="model", commit_message=commit_message, token=token
            )
        except OfflineModeIsEnabled:
            raise PushError("HF_HUB_OFFLINE is set; unset it to upload (export works offline)") from None
        except HfHubHTTPError as error:
            status = getattr(error.response, "status_code", "?")
            hint = " (check that the token is a write token for this namespace)" if status in (401, 403) else ""
            raise PushError(f"the Hub refused the upload to {repo_id}: HTTP {status}{hint}") from None
        except hub_unreachable_errors() as error:  # connection errors
            raise PushError(
                f"cannot reach the Hub to upload {repo_id} ({type(error).__name__}); check the network"
            ) from None
    return str(getattr(commit, "commit_url", commit))


def _refuse_public(repo_id: str, token: str) -> None:
    """Raise when the model repository ``repo_id`` exists and is public."""
    try:
        existing = repo_info(repo_id, repo_type="model", token=token)
    except RepositoryNotFoundError:
        return
    if not existing.private:
        raise PushError(
            f"--private, but {repo_id} already exists and is PUBLIC: the upload would be public. Make it private on "
            "the Hub first, or push without --private"
        )
