"""Push a curated index to the Hub as a private dataset.

By default only the index rows go up (paths, times, statuses, reasons): the videos stay where they
are, since TikTok's terms bind who may hold them. ``embed_clips=True`` adds a ``clip`` column of
``datasets.Video`` built from ``clip_path``, whose bytes ``push_to_hub`` embeds: only for the
clips (never the original downloads), and only the rows that have one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.errors import ConfigError


def prepare_for_hub(index: Any, embed_clips: bool = False, statuses: tuple[str, ...] | None = None):
    """The dataset to push: rows filtered by ``statuses``, with a ``clip`` video column when embedding."""
    dataset = index
    if statuses:
        keep = set(statuses)
        dataset = dataset.filter(lambda status: status in keep, input_columns="status")
    if embed_clips:
        from datasets import Video

        missing = [p for p in dataset["clip_path"] if p and not Path(p).is_file()]
        if missing:
            raise ConfigError(
                f"--embed-clips: {len(missing)} clip files are missing (first: {missing[0]}); rerun curate.py or push without --embed-clips"
            )
        dataset = dataset.filter(lambda path: path is not None, input_columns="clip_path")
        dataset = dataset.add_column("clip", list(dataset["clip_path"]))
        dataset = dataset.cast_column("clip", Video(decode=False))
    return dataset


def check_repo_id(repo_id: str) -> None:
    """Refuse a repository id without its namespace before any work is done."""
    if "/" not in repo_id:
        raise ConfigError(f"--repo-id {repo_id!r} must be ORG/NAME or USER/NAME")


def upload_card(repo_id: str, card: str, token: str | None = None) -> None:
    """Create the private dataset repository if needed and put ``card`` (README.md text) in it.

    Done before ``push_to_hub``, which then keeps the card's text and adds its ``dataset_info`` and
    ``configs`` to the card's YAML.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=True, exist_ok=True)
    api.upload_file(
        path_or_fileobj=card.encode("utf-8"),
        path_in_repo="README.md",
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Dataset card",
    )


def push_index(
    index_path: str | Path,
    repo_id: str,
    embed_clips: bool = False,
    statuses: tuple[str, ...] | None = None,
    token: str | None = None,
    card: str | None = None,
):
    """Load ``index_path`` and push it to ``repo_id`` as a **private** dataset; returns the commit info.

    ``card`` (the text of a dataset card README.md) is uploaded first when given. Without ``token`` the standard
    one is used (``huggingface_hub.get_token``: ``HF_TOKEN``, else what ``hf auth login`` stored); it is never printed.
    """
    from huggingface_hub import get_token

    check_repo_id(repo_id)
    token = token or get_token()
    dataset = prepare_for_hub(load_index(index_path), embed_clips, statuses)
    if card is not None:
        upload_card(repo_id, card, token)
    return dataset.push_to_hub(repo_id, private=True, token=token, embed_external_files=embed_clips)
