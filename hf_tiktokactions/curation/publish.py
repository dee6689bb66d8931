"""Publish a curated index: the folder that goes to the Hub (parquet shards + dataset card), written locally
(``to_folder``) and uploaded as it is, so what is published is what the folder and its card say.

What goes in (:func:`prepare_for_hub`):

* the index rows, filtered by status; ``clip_path`` relative to the curation folder (``clips/<id>.mp4``);
* not the local paths ``source_path`` and ``metadata_path`` (they name the lab's storage and mean nothing
  elsewhere) unless ``include_local_paths``, and then relative to the curation folder;
* not the free-text ``description`` unless ``include_descriptions``, nor user names (:data:`USERNAME_COLUMNS`)
  unless ``include_usernames``;
* with ``embed_clips``, a ``clip`` column of ``datasets.Video`` whose parquet cells hold each clip's bytes and
  its file name (``<id>.mp4``), for the rows that have a clip; never the original downloads.

Pushing (:func:`push_index`) refuses a repository that exists and is public unless ``allow_public``; a new
repository is created private. The card (built by the caller from :class:`PublishedContents`) states the
columns, the row count, whether clips are included and the repository's visibility.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_tiktokactions.curation.index import curation_folder, load_index, quiet_progress_bars
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.layout import CLIPS_DIR, lies_under, resolved_path, stored_path
from hf_tiktokactions.redaction import register_secret

DATA_DIR, SPLIT = "data", "train"
CLIP_COLUMN = "clip"
LOCAL_PATH_COLUMNS = ("source_path", "metadata_path")
DESCRIPTION_COLUMNS = ("description",)
USERNAME_COLUMNS = ("username", "user_name", "author", "author_name", "creator", "uploader", "channel")
MAX_SHARD_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True)
class PublishOptions:
    """What of the index is published (the CLI flags of ``push_index.py`` carry the same names)."""

    embed_clips: bool = False
    statuses: tuple[str, ...] | None = None
    include_descriptions: bool = False
    include_usernames: bool = False
    include_local_paths: bool = False


@dataclass(frozen=True)
class PublishedContents:
    """What the published folder holds, for its card."""

    num_rows: int
    columns: list[str]
    embed_clips: bool
    statuses: tuple[str, ...] | None
    left_out: list[str] = field(default_factory=list)
    repo_id: str | None = None
    private: bool | None = None  # None: written to a folder, not (yet) to a repository


def _left_out(columns: list[str], options: PublishOptions) -> list[str]:
    drop = []
    if not options.include_local_paths:
        drop += LOCAL_PATH_COLUMNS
    if not options.include_descriptions:
        drop += DESCRIPTION_COLUMNS
    if not options.include_usernames:
        drop += USERNAME_COLUMNS
    return [c for c in columns if c in drop]


def prepare_for_hub(index: Any, options: PublishOptions = PublishOptions(), folder: str | Path = "."):
    """The dataset to publish: ``index`` (its paths relative to the curation ``folder``) filtered by status,
    without the columns ``options`` leaves out, its path columns relative, a ``clip`` column when embedding."""
    dataset = index
    if options.statuses:
        keep = set(options.statuses)
        dataset = dataset.filter(lambda status: status in keep, input_columns="status")
    if not len(index):
        raise ConfigError(
            "the index holds no video yet: nothing to publish; curate videos into its folder first (its "
            "curation_summary.json says what the last run did)"
        )
    if not len(dataset):  # a folder of no rows is one that datasets.load_dataset cannot read
        raise ConfigError(
            f"no row of the index has the status {' or '.join(options.statuses or ['any'])}: nothing to publish; "
            "choose --status from the index's statuses (`hf-tiktokactions stats` counts them)"
        )
    dataset = dataset.remove_columns(_left_out(dataset.column_names, options))
    path_columns = [c for c in ("clip_path", *LOCAL_PATH_COLUMNS) if c in dataset.column_names]
    folder = os.path.abspath(folder)
    dataset = dataset.map(  # indexes written before paths were stored relative hold absolute ones
        lambda batch: {c: [stored_path(resolved_path(p, folder), folder) for p in batch[c]] for c in path_columns},
        batched=True,
        keep_in_memory=True,
    )
    if options.embed_clips:
        from datasets import Video

        dataset = dataset.filter(lambda path: path is not None, input_columns="clip_path")
        if not len(dataset):
            raise ConfigError(
                "--embed-clips: no row of the index to publish has a clip (rejected videos have none); publish "
                "status pass or review, or without --embed-clips"
            )
        local = [resolved_path(p, folder) for p in dataset["clip_path"]]
        outside = [p for p in local if not lies_under(p, os.path.join(folder, CLIPS_DIR))]
        if outside:  # a clip_path edited by hand, or from a folder made elsewhere: any file of this machine
            raise ConfigError(
                f"--embed-clips: {len(outside)} clip path{'s' if len(outside) > 1 else ''} of the index "
                f"{'lie' if len(outside) > 1 else 'lies'} outside {os.path.join(folder, CLIPS_DIR)} (first: "
                f"{outside[0]}); nothing was published: curate the videos again into this folder"
            )
        missing = [p for p in local if not Path(p).is_file()]
        if missing:
            raise ConfigError(
                f"--embed-clips: {len(missing)} clip files are missing (first: {missing[0]}); rerun curate.py or "
                "push without --embed-clips"
            )
        # The local path is only read when the shard is written: the parquet cell keeps the bytes and the file name.
        dataset = dataset.add_column(CLIP_COLUMN, local).cast_column(CLIP_COLUMN, Video())
    return dataset


def describe(dataset: Any, options: PublishOptions, index_columns: list[str]) -> PublishedContents:
    return PublishedContents(
        num_rows=len(dataset),
        columns=list(dataset.column_names),
        embed_clips=options.embed_clips,
        statuses=options.statuses,
        left_out=_left_out(index_columns, options),
    )


def dataset_bytes(dataset: Any, embed_clips: bool) -> int:
    """The published rows' size: the table's, plus each clip file's when the clips are embedded (as
    ``Dataset.push_to_hub`` counts ``num_bytes``: the table holds only their paths until the shards are written)."""
    from datasets import Video

    size = dataset.data.nbytes
    if embed_clips:
        files = dataset.select_columns([CLIP_COLUMN]).cast_column(CLIP_COLUMN, Video(decode=False))[CLIP_COLUMN]
        size += sum(os.path.getsize(v["path"]) for v in files)
    return int(size)


def _num_shards(dataset: Any, embed_clips: bool, max_shard_bytes: int) -> int:
    return max(1, min(len(dataset), dataset_bytes(dataset, embed_clips) // max_shard_bytes + 1))


def write_shards(
    dataset: Any, folder: Path, embed_clips: bool, max_shard_bytes: int = MAX_SHARD_BYTES, num_shards: int | None = None
) -> list[Path]:
    """``folder/data/train-0000i-of-0000n.parquet`` as ``Dataset.push_to_hub`` writes them (clip files embedded
    with ``embed_table_storage``, which also cuts their paths to the file name): ``num_shards`` of them, or as
    many as keep each under ``max_shard_bytes``. Streaming ranks read whole shards when their number divides evenly."""
    from datasets.table import embed_table_storage

    (folder / DATA_DIR).mkdir(parents=True, exist_ok=True)
    if num_shards is None:
        num_shards = _num_shards(dataset, embed_clips, max_shard_bytes) if len(dataset) else 1
    num_shards = max(1, min(num_shards, len(dataset)))
    batch_size = 10 if embed_clips else 1000  # a row group of ten clips, as datasets does for videos
    paths = []
    for index in range(num_shards):
        shard = dataset.shard(num_shards=num_shards, index=index, contiguous=True)
        if embed_clips:
            shard = shard.with_format("arrow").map(
                embed_table_storage, batched=True, batch_size=batch_size, keep_in_memory=True
            )
            shard = shard.with_format(None)
        path = folder / DATA_DIR / f"{SPLIT}-{index:05d}-of-{num_shards:05d}.parquet"
        shard.to_parquet(str(path), batch_size=batch_size)
        paths.append(path)
    return paths


def card_metadata(card: str, dataset: Any, embed_clips: bool = False) -> str:
    """``card`` with the YAML ``push_to_hub`` adds: the ``configs`` (data files) and ``dataset_info`` (features,
    row count, bytes), so ``datasets.load_dataset`` reads the folder, or the repository, with the index's
    features."""
    from datasets import DatasetInfo
    from datasets.info import DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    parsed = DatasetCard(card)
    splits = SplitDict()
    splits.add(SplitInfo(name=SPLIT, num_bytes=dataset_bytes(dataset, embed_clips), num_examples=len(dataset)))
    info = DatasetInfo(features=dataset.features, splits=splits)
    DatasetInfosDict({"default": info}).to_dataset_card_data(parsed.data)
    MetadataConfigs(
        {"default": {"data_files": [{"split": SPLIT, "path": f"{DATA_DIR}/{SPLIT}-*"}]}}
    ).to_dataset_card_data(parsed.data)
    return str(parsed)


CardMaker = Callable[[PublishedContents], str]
PUBLISHED = ("README.md", DATA_DIR)  # what a published folder holds


def write_folder(
    index_path: str | Path,
    folder: str | Path,
    options: PublishOptions = PublishOptions(),
    card: CardMaker | str | None = None,
    repo: tuple[str, bool] | None = None,
    num_shards: int | None = None,
) -> PublishedContents:
    """Write what would be uploaded into ``folder`` (its old ``data/`` shards are replaced): ``data/*.parquet``
    (``num_shards`` of them, default: shards of at most 500 MB) and ``README.md`` (the card, with the data files
    and features in its YAML). ``repo`` is the ``(repo_id, private)`` the folder is meant for, stated in the card.
    A folder that holds anything else (a curation folder, say) is refused: a push uploads the folder."""
    with quiet_progress_bars():
        return _write_folder(index_path, Path(folder), options, card, repo, num_shards)


def _write_folder(index_path, folder: Path, options: PublishOptions, card, repo, num_shards) -> PublishedContents:
    stray = sorted(entry.name for entry in folder.iterdir() if entry.name not in PUBLISHED) if folder.is_dir() else []
    if stray:
        raise ConfigError(
            f"--to-folder {folder} holds {', '.join(stray[:5])}{' ...' if len(stray) > 5 else ''}: it must be new, "
            f"empty, or hold only what push-index writes ({', '.join(PUBLISHED)})"
        )
    index = load_index(index_path)
    dataset = prepare_for_hub(index, options, curation_folder(index_path))
    contents = describe(dataset, options, list(index.column_names))
    if repo is not None:
        contents = PublishedContents(**{**contents.__dict__, "repo_id": repo[0], "private": repo[1]})
    shutil.rmtree(folder / DATA_DIR, ignore_errors=True)
    write_shards(dataset, folder, options.embed_clips, num_shards=num_shards)
    text = card(contents) if callable(card) else (card or "---\n---\n")
    (folder / "README.md").write_text(card_metadata(text, dataset, options.embed_clips), encoding="utf-8")
    return contents


def check_repo_id(repo_id: str) -> None:
    """Refuse a repository id without its namespace before any work is done."""
    if "/" not in repo_id:
        raise ConfigError(f"--repo-id {repo_id!r} must be ORG/NAME or USER/NAME")


def repo_visibility(api: Any, repo_id: str) -> bool | None:
    """``True`` private, ``False`` public, ``None`` when the dataset repository does not exist (or we cannot see it)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        return bool(api.repo_info(repo_id, repo_type="dataset").private)
    except RepositoryNotFoundError:
        return None


def push_index(
    index_path: str | Path,
    repo_id: str,
    options: PublishOptions = PublishOptions(),
    card: CardMaker | str | None = None,
    token: str | None = None,
    allow_public: bool = False,
    to_folder: str | Path | None = None,
    num_shards: int | None = None,
):
    """Write the folder (``to_folder``, else a temporary one) and upload it to the dataset ``repo_id``.

    A new repository is created private; an existing public one is refused unless ``allow_public``. Without
    ``token`` the standard one is used (``HF_TOKEN``, else what ``hf auth login`` stored); it is never printed.
    Returns ``(contents, commit info)``.
    """
    from huggingface_hub import HfApi, get_token

    register_secret(token)  # a token passed in (push-index --token) is kept out of every error message too
    check_repo_id(repo_id)
    load_index(index_path)  # a missing index fails here, before the Hub is asked anything
    api = HfApi(token=token or get_token())
    private = repo_visibility(api, repo_id)
    if private is False and not allow_public:
        raise ConfigError(
            f"--repo-id {repo_id} is a PUBLIC dataset repository: pushing would publish the index to everyone. "
            "Make it private on the Hub, pick another --repo-id, or pass --allow-public if that is what you want"
        )
    staging = Path(to_folder or tempfile.mkdtemp(prefix=".push_index.", dir=curation_folder(index_path)))
    try:
        contents = write_folder(index_path, staging, options, card, (repo_id, private is not False), num_shards)
        if private is None:
            api.create_repo(repo_id, repo_type="dataset", private=True, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(staging),
            allow_patterns=["README.md", f"{DATA_DIR}/*.parquet"],  # the folder's files and nothing else
            delete_patterns=[f"{DATA_DIR}/{SPLIT}-*.parquet"],  # shards of an earlier push
            commit_message=f"Index: {contents.num_rows} rows" + (", clips embedded" if options.embed_clips else ""),
        )
    finally:
        if not to_folder:
            shutil.rmtree(staging, ignore_errors=True)
    return contents, info
