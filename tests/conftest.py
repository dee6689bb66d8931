"""Test-wide settings: nothing reaches the network, and torch stays within the cores of CI.

`.ci/run` runs the suite in two passes. Tests marked ``distributed`` (they start ranks or Ray nodes that talk to
each other, several processes at once) run first, one at a time, alone on the machine; the rest then run in one
pytest-xdist worker per core, each worker computing with one thread (and so do the processes it starts, through
OMP_NUM_THREADS), so the workers never fight over a core. Plain ``pytest`` runs everything one at a time."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_THREADS = max(1, min(2, (os.cpu_count() or 1) // _WORKERS))
if _WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(_THREADS)
torch.set_num_threads(_THREADS)


@pytest.fixture
def generator() -> torch.Generator:
    """A seeded CPU generator, so every test draws the same masks and weights."""
    return torch.Generator().manual_seed(0)


@pytest.fixture
def hub_calls(monkeypatch) -> list[tuple]:
    """The Hub upload calls of hub.push, the one thing tests mock: record create_repo / upload_folder calls (and
    the uploaded folder's contents) instead of sending them."""
    from hub_doubles import digests

    from hf_tiktokactions.hub import push as push_module

    calls = type("HubCalls", (list,), {})()  # a list that a test can give an ``existing`` repository's privacy

    def create_repo(repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))

    def repo_info(repo_id, **kwargs):  # no repository yet, unless a test sets calls.existing (private or not)
        import httpx
        from huggingface_hub.errors import RepositoryNotFoundError

        calls.append(("repo_info", repo_id, kwargs))
        if getattr(calls, "existing", None) is None:
            raise RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", "x")))
        return type("ModelInfo", (), {"private": calls.existing})()

    def upload_folder(*, repo_id, folder_path, **kwargs):
        calls.append(("upload_folder", repo_id, kwargs, digests(Path(folder_path))))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()

    monkeypatch.setattr(push_module, "create_repo", create_repo)
    monkeypatch.setattr(push_module, "upload_folder", upload_folder)
    monkeypatch.setattr(push_module, "repo_info", repo_info)
    return calls
