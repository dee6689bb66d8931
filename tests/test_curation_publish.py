"""The index is portable (paths relative to the curation folder) and round-trips through the Hub layout.

Real parts throughout: curation of real MP4 files, the parquet folder ``push_index --to-folder`` writes, the
pre-training script in a subprocess. The Hub is never contacted: the only mocked calls are ``HfApi``'s
``repo_info`` / ``create_repo`` / ``upload_folder`` (the upload itself), which record what would go up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import huggingface_hub
import pytest
from curation_files import write_scene_video
from huggingface_hub import DatasetCard
from huggingface_hub.errors import RepositoryNotFoundError
from huggingface_hub.utils import filter_repo_objects

from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions
from hf_tiktokactions.curation.publish import PublishOptions, push_index, write_folder
from hf_tiktokactions.data.pretrain_dataset import PretrainVideoDataset
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.training.pretrain_data import (
    check_relative_paths,
    load_published,
    resolve_videos,
    streaming_rows,
)

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "training" / "configs" / "pretrain_tiny_synthetic.yaml"


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    videos = tmp_path_factory.mktemp("videos")
    write_scene_video(videos / "a.mp4", [130])
    write_scene_video(videos / "b.mp4", [130])
    (videos / "broken.mp4").write_bytes(b"\x00" * 100)
    output = tmp_path_factory.mktemp("curated")
    curate(load_video_inputs(videos), output, CurationOptions(detector="none"), workers=1, progress=False)
    return output


def pretrain_one_step(data, output: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "training" / "pretrain.py"), "--config", str(RECIPE), "--data", str(data)]
    command += ["--output_dir", str(output), "--max_steps", "1", "--per_device_train_batch_size", "2"]
    command += ["--save_steps", "100", "--reconstruction_steps", "0", "--report_to", "none", "--disable_tqdm", "true"]
    command += ["--decode_backend", "pyav", *extra]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )


def test_paths_are_relative_and_a_moved_folder_still_trains(curated, tmp_path):
    record = json.loads((curated / "metadata" / "a.json").read_text())
    assert record["clip_path"] == "clips/a.mp4" and not os.path.isabs(record["source_path"])
    rows = {r["video_id"]: r for r in load_index(curated)}
    assert rows["a"]["clip_path"] == "clips/a.mp4" and rows["a"]["metadata_path"] == "metadata/a.json"
    assert not os.path.isabs(rows["a"]["source_path"]) and rows["broken"]["clip_path"] is None

    moved = tmp_path / "elsewhere" / "curated"
    shutil.copytree(curated, tmp_path / "copy")
    shutil.move(tmp_path / "copy", moved)
    assert resolve_videos(str(moved)) == [str(moved / "clips" / "a.mp4"), str(moved / "clips" / "b.mp4")]
    # an index written when paths were absolute still reads (its paths as they are)
    old = tmp_path / "old"
    shutil.copytree(curated, old)
    absolute = load_index(old).map(lambda row: {"clip_path": row["clip_path"] and str(old / row["clip_path"])})
    absolute.save_to_disk(str(tmp_path / "old_index"))
    shutil.rmtree(old / "index")
    shutil.move(tmp_path / "old_index", old / "index")
    assert resolve_videos(str(old)) == [str(old / "clips" / "a.mp4"), str(old / "clips" / "b.mp4")]

    result = pretrain_one_step(moved / "index", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 1


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class FakeHub:
    """Records the Hub calls ``push_index`` makes; ``visibility`` is the existing repository's (None: no repository)."""

    def __init__(self, monkeypatch, visibility: bool | None):
        self.calls: list[tuple[str, dict]] = []
        self.uploaded: dict[str, bytes] = {}
        hub = self

        def repo_info(api, repo_id, **kwargs):
            hub.calls.append(("repo_info", kwargs))
            if visibility is None:
                raise RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", "x")))
            return huggingface_hub.hf_api.DatasetInfo(id=repo_id, private=visibility)

        def upload_folder(api, **kwargs):  # uploads what huggingface_hub's own filter lets through
            hub.calls.append(("upload_folder", kwargs))
            files = _files(Path(kwargs["folder_path"]))
            kept = filter_repo_objects(files, allow_patterns=kwargs.get("allow_patterns"))
            hub.uploaded = {name: files[name] for name in kept}
            return SimpleNamespace(commit_url="https://huggingface.co/datasets/x/y/commit/1")

        monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", repo_info)
        monkeypatch.setattr(
            huggingface_hub.HfApi, "create_repo", lambda api, *a, **kw: hub.calls.append(("create_repo", kw))
        )
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)


def _card(contents) -> str:
    from hf_tiktokactions.hub.dataset_card import published_contents_text

    return f"---\nlicense: other\n---\n# (card)\n\n{published_contents_text(contents)}\n"


def test_the_folder_is_what_is_pushed_and_holds_no_local_path(curated, tmp_path, monkeypatch):
    options = PublishOptions(embed_clips=True, statuses=("pass",))
    write_folder(curated, tmp_path / "folder", options, _card)
    hub = FakeHub(monkeypatch, visibility=None)
    contents, _ = push_index(curated, "my-lab/clips", options, _card, token="hf_x", to_folder=tmp_path / "pushed")
    assert [name for name, _ in hub.calls] == ["repo_info", "create_repo", "upload_folder"]
    assert hub.calls[1][1]["private"] is True and contents.private is True
    assert hub.uploaded == _files(tmp_path / "pushed")
    folder = _files(tmp_path / "folder")
    assert sorted(folder) == ["README.md", "data/train-00000-of-00001.parquet"]
    assert folder["data/train-00000-of-00001.parquet"] == hub.uploaded["data/train-00000-of-00001.parquet"]
    assert (
        "is **private**" in hub.uploaded["README.md"].decode()
        and "includes video clips" in folder["README.md"].decode()
    )
    for name, data in {**folder, **hub.uploaded}.items():
        for local in (str(curated), str(curated.parent), str(tmp_path), os.path.expanduser("~") + "/"):
            assert local.encode() not in data, (name, local)
    # the default index push: no clip bytes, and neither local paths nor descriptions
    hub = FakeHub(monkeypatch, visibility=None)
    contents, _ = push_index(curated, "my-lab/index", PublishOptions(), _card)
    assert "clip" not in contents.columns and contents.num_rows == 3
    assert {"source_path", "metadata_path", "description"} == set(contents.left_out)
    asked = write_folder(curated, tmp_path / "all", PublishOptions(include_descriptions=True, include_local_paths=True))
    assert {"description", "source_path", "metadata_path"} <= set(asked.columns)


def test_a_folder_holding_anything_else_is_refused_before_any_upload(curated, tmp_path, monkeypatch):
    """--to-folder pointed at the curation folder would have uploaded its clips, metadata and index."""
    hub = FakeHub(monkeypatch, visibility=None)
    with pytest.raises(ConfigError, match=r"--to-folder .* holds .*clips, curation_config.json"):
        push_index(curated, "my-lab/index", PublishOptions(), _card, token="hf_x", to_folder=curated)
    assert [name for name, _ in hub.calls] == ["repo_info"]
    push_index(curated, "my-lab/index", PublishOptions(), _card, token="hf_x", to_folder=tmp_path / "pushed")
    (tmp_path / "pushed" / "notes.txt").write_text("mine\n")  # a file the user put there later
    with pytest.raises(ConfigError, match="holds notes.txt"):
        push_index(curated, "my-lab/index", PublishOptions(), _card, token="hf_x", to_folder=tmp_path / "pushed")
    (tmp_path / "pushed" / "notes.txt").unlink()
    push_index(curated, "my-lab/index", PublishOptions(), _card, token="hf_x", to_folder=tmp_path / "pushed")
    assert sorted(hub.uploaded) == ["README.md", "data/train-00000-of-00001.parquet"]  # a second push, same files


def test_a_public_repository_is_refused_unless_allowed(curated, monkeypatch):
    hub = FakeHub(monkeypatch, visibility=False)
    with pytest.raises(ConfigError, match="PUBLIC.*--allow-public"):
        push_index(curated, "someone/open", PublishOptions(), _card, token="hf_x")
    assert [name for name, _ in hub.calls] == ["repo_info"]  # nothing uploaded
    contents, _ = push_index(curated, "someone/open", PublishOptions(), _card, token="hf_x", allow_public=True)
    card = hub.uploaded["README.md"].decode()
    assert contents.private is False and "is **public**" in card and "private" not in card.split("is **public**")[0]
    assert [name for name, _ in hub.calls] == ["repo_info", "repo_info", "upload_folder"]  # no create_repo


def test_training_from_the_published_folder_reads_the_embedded_clips(curated, tmp_path):
    copy = tmp_path / "curated"
    shutil.copytree(curated, copy)
    write_folder(copy, tmp_path / "published", PublishOptions(embed_clips=True))
    clip_bytes = sum(path.stat().st_size for path in (copy / "clips").glob("*.mp4"))
    card = DatasetCard.load(tmp_path / "published" / "README.md")
    [split] = card.data.dataset_info["splits"]
    assert split["num_examples"] == 2 and split["num_bytes"] > clip_bytes  # the clips counted, as push_to_hub does
    shutil.rmtree(copy / "clips")  # only the bytes in the parquet shards are left
    videos = resolve_videos(str(tmp_path / "published"))
    assert len(videos) == 2 and all(isinstance(v, bytes) for v in videos)
    item = PretrainVideoDataset(videos, num_frames=4, input_size=32, num_sample=1, backend="pyav")[0]
    assert item["pixel_values"].shape == (1, 4, 3, 32, 32) and not item["skipped"]
    result = pretrain_one_step(tmp_path / "published", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["skipped_videos_on_main_process"] == 0

    # without clips, the relative paths of a Hub copy name nothing: one clear error (the folder itself resolves them)
    rows_only = tmp_path / "rows_only"
    write_folder(curated, rows_only, PublishOptions())
    as_from_the_hub = load_published(str(rows_only))  # the same loader as for a Hub id
    with pytest.raises(ConfigError, match="push it with --embed-clips"):
        check_relative_paths(as_from_the_hub, "clip_path", base=None)
    # the folder without the clips beside its shards: one error, not a warning a video until 20 in a row end the run
    for streaming in (False, True):
        with pytest.raises(ConfigError, match=r"rows_only: none of the first 2 'clip_path' .* without its clips"):
            streaming_rows(str(rows_only), 0, 1) if streaming else resolve_videos(str(rows_only))
    shutil.copytree(curated / "clips", rows_only / "clips")
    assert resolve_videos(str(rows_only))[0] == str(rows_only / "clips" / "a.mp4")
    assert streaming_rows(str(rows_only), 0, 1)[1] == 2
    # a curation folder whose clips are gone says so (publishing advice would not help)
    shutil.rmtree(copy / "clips", ignore_errors=True)
    with pytest.raises(ConfigError, match=r"curated: none of the first 2 .* its clips are gone \(deleted by retention"):
        resolve_videos(str(copy))


@pytest.mark.distributed
def test_streaming_ranks_read_their_own_shards(curated, tmp_path):
    write_folder(curated, tmp_path / "published", PublishOptions(embed_clips=True), num_shards=2)
    with pytest.raises(ConfigError, match="--streaming reads a published index"):
        streaming_rows(str(curated), 0, 1)
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    command += ["--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "training" / "pretrain.py")]
    command += ["--config", str(RECIPE), "--data", str(tmp_path / "published"), "--streaming", "true"]
    command += ["--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--per_device_train_batch_size", "1"]
    command += ["--save_steps", "100", "--reconstruction_steps", "0", "--report_to", "none", "--disable_tqdm", "true"]
    command += ["--decode_backend", "pyav"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=400, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["steps"] == 2
    # the rows trained on, per rank: an epoch is one row a rank (2 rows, 2 ranks), so the 2 steps are 2 epochs. Within
    # an epoch the ranks read disjoint shards that together are the index (which shard a rank gets is reshuffled
    # with the epoch's order)
    first, second = summary["streamed_video_ids"]
    assert len(first) == len(second) == 2
    assert all({first[epoch], second[epoch]} == {"a", "b"} for epoch in range(2)), (first, second)


def test_a_hub_error_that_echoes_the_token_does_not_print_it(curated, tmp_path):
    """The Hub's errors may quote the request (a proxy, a misconfigured HF_ENDPOINT): push-index printed
    'bad token Bearer hf_...'. A real HTTP server on 127.0.0.1 answers every call 401 with the Authorization header
    in its body and headers; the one error line names the failure, not the token."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    token = "hf_SECRETtoken1234567890abcdef"

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _echo(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            auth = self.headers.get("Authorization", "")
            body = json.dumps({"error": f"Invalid credentials in Authorization header: {auth}"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Error-Message", f"bad token {auth}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = _echo

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environ = {**os.environ, "HF_TOKEN": token, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}"}
    environ["HF_HOME"] = str(tmp_path / "hf_home")  # no stored token or cache of this machine
    for offline in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # the only server reached is the one above
        environ.pop(offline, None)
    try:
        command = [sys.executable, "-m", "hf_tiktokactions", "push-index", "--index", str(curated)]
        run = subprocess.run(
            command + ["--repo_id", "me/idx"], capture_output=True, text=True, timeout=120, env=environ
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 2 and run.stderr.startswith("error: pushing to me/idx failed"), run.stderr
    assert "401" in run.stderr and token not in run.stdout + run.stderr and "***" in run.stderr


def test_a_streamed_epoch_counts_the_videos_the_filters_keep(curated, tmp_path):
    """The card counts every row of an index published with every status (push-index's default): 3 here, of which
    2 pass. Streaming made an epoch of 3 (the schedule 1.5x too long, each video read again within the epoch);
    now 2, as the map-style run counts them."""
    write_folder(curated, tmp_path / "published", PublishOptions(), num_shards=1)
    shutil.copytree(curated / "clips", tmp_path / "published" / "clips")  # the clip paths name files beside it
    rows, num_rows, column, _ = streaming_rows(str(tmp_path / "published"), 0, 1)
    assert num_rows == 2 == sum(1 for _ in rows) == len(resolve_videos(str(tmp_path / "published")))


def test_a_filter_that_keeps_nothing_is_one_clear_error(curated, tmp_path):
    """--status review on an index without review rows wrote a folder of no rows that load_dataset cannot read;
    --embed-clips with --status rejected (no clips) ended in an ArrowInvalid traceback."""
    with pytest.raises(ConfigError, match="no row of the index has the status review: nothing to publish"):
        write_folder(curated, tmp_path / "review", PublishOptions(statuses=("review",)))
    with pytest.raises(ConfigError, match="--embed-clips: no row of the index to publish has a clip"):
        write_folder(curated, tmp_path / "rejected", PublishOptions(statuses=("rejected",), embed_clips=True))
    assert not (tmp_path / "review" / "data").exists() and not (tmp_path / "rejected" / "data").exists()


def test_an_index_of_no_video_yet_is_read_and_named_by_every_step(tmp_path):
    """A run whose workers were all lost saves an index of no rows; datasets cannot load such a folder (IndexError
    deep inside), so pretrain, stats and push-index ended in that traceback instead of saying what is missing."""
    from hf_tiktokactions.curation.governance.stats import statistics_of_index
    from hf_tiktokactions.curation.index import INDEX_COLUMNS, save_index

    save_index(tmp_path)
    index = load_index(tmp_path)
    assert len(index) == 0 and list(index.column_names) == list(INDEX_COLUMNS)
    assert statistics_of_index(tmp_path)["totals"]["videos"] == 0
    with pytest.raises(ConfigError, match="the curation index holds no video yet"):
        resolve_videos(str(tmp_path))
    with pytest.raises(ConfigError, match="the index holds no video yet: nothing to publish"):
        write_folder(tmp_path, tmp_path / "published", PublishOptions())


def test_embed_clips_uploads_no_file_outside_the_folders_clips(tmp_path):
    """push-index --embed-clips embeds the files its index's clip_path values name: a record whose clip_path was
    absolute or climbed out of clips/ (edited by hand, or a curation folder made elsewhere) put that file, any file
    of this machine, into the shards bound for the Hub."""
    from index_files import build_output

    from hf_tiktokactions.curation.index import save_index
    from hf_tiktokactions.curation.pipeline import metadata_path

    output, secret = tmp_path / "curated", tmp_path / "id_ed25519"
    (record,) = build_output(output, [("salsa", "pass", 1, "7s")])
    secret.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY----- not for the Hub")
    meta = metadata_path(output, record["video_id"])
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "clip_path": "../id_ed25519"}))
    save_index(output)
    with pytest.raises(ConfigError, match=r"^--embed-clips: 1 clip path of the index lies outside .*curated/clips \("):
        write_folder(output, tmp_path / "published", PublishOptions(embed_clips=True))
    written = [path for path in (tmp_path / "published").rglob("*") if path.is_file()]
    assert not [path for path in written if b"PRIVATE KEY" in path.read_bytes()]
