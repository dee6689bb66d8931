"""Retention: purge.py deletes what it should and logs it; --refresh asks the (local) Research API which
videos are still there and removes the rest from disk and from the index.

Everything is real: the collection runs the real client against the spec server on 127.0.0.1, the
download step copies real H.264 files from a local mirror, curation runs the real pipeline, and purge.py
runs as its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curation_files import write_scene_video

from hf_tiktokactions.collection.collect import CollectionRequest, collect
from hf_tiktokactions.collection.download import LocalCopyDownloader, download_videos
from hf_tiktokactions.collection.refresh import creation_times, id_batches
from hf_tiktokactions.collection.tiktok_api import Credentials, ResearchApiClient, RetryPolicy
from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.governance.retention import latest_purge_log
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions
from hf_tiktokactions.testing.research_api_server import FakeResearchApi, make_videos

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "purge-key-3c1d", "purge-secret-9f2e-never-print"
TAGS, START, END = ["salsa", "tango"], "20240101", "20240330"  # 90 days: several 30-day id batches


@pytest.fixture()
def pipeline(tmp_path):
    """Collected metadata, downloaded videos and a curated output for 6 videos; the server keeps running."""
    videos = make_videos(TAGS, START, END, per_hashtag=3, seed=3)
    server = FakeResearchApi(videos, client_key=KEY, client_secret=SECRET).__enter__()
    client = ResearchApiClient(
        Credentials(KEY, SECRET),
        api_base=server.url,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.01),
    )
    collect(
        client,
        CollectionRequest(
            tuple(TAGS), START, END, 100, ("id", "create_time", "username", "video_description", "hashtag_names")
        ),
        tmp_path / "collection",
        progress=False,
    )
    for video in videos:
        write_scene_video(tmp_path / "mirror" / f"{video['id']}.mp4", [120], height=64, width=96)
    download_videos(
        tmp_path / "collection" / "videos.jsonl",
        tmp_path / "downloads",
        LocalCopyDownloader(f"file://{tmp_path}/mirror/{{id}}.mp4"),
        workers=2,
        progress=False,
    )
    curate(
        load_video_inputs(tmp_path / "downloads"),
        tmp_path / "curated",
        CurationOptions(detector="none"),
        workers=1,
        progress=False,
    )
    try:
        yield server, tmp_path, [str(v["id"]) for v in videos]
    finally:
        server.__exit__(None, None, None)


def _purge(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "purge.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _credentials_env() -> dict:
    return {**os.environ, "TIKTOK_CLIENT_KEY": KEY, "TIKTOK_CLIENT_SECRET": SECRET}


def test_refresh_removes_the_videos_the_api_no_longer_returns(pipeline):
    server, root, ids = pipeline
    curated = root / "curated"
    assert sorted(load_index(curated)["video_id"]) == sorted(ids) and set(load_index(curated)["status"]) == {"pass"}
    gone = {ids[1], ids[4]}
    server.unavailable_ids.update(gone)
    result = _purge("--index", str(curated), "--refresh", "--api-base", server.url, env=_credentials_env())
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr and SECRET not in result.stdout + result.stderr
    assert "6 checked, 2 no longer available, 0 unchecked" in result.stdout

    for video_id in gone:
        assert not (root / "downloads" / "videos" / f"{video_id}.mp4").exists()
        assert not (curated / "clips" / f"{video_id}.mp4").exists()
        assert not (curated / "metadata" / f"{video_id}.json").exists()
    kept = sorted(set(ids) - gone)
    assert sorted(load_index(curated)["video_id"]) == kept  # the index was rebuilt
    assert all(
        (curated / "clips" / f"{i}.mp4").is_file() and (root / "downloads" / "videos" / f"{i}.mp4").is_file()
        for i in kept
    )

    (log_path,) = (curated / "purge_logs").glob("*-refresh.json")
    log = json.loads(log_path.read_text())
    assert log["mode"] == "refresh" and log["counts"]["videos_removed"] == 2
    assert (log["counts"]["raw_videos"], log["counts"]["clips"], log["counts"]["metadata"]) == (2, 2, 2)
    assert log["refresh"]["unavailable_ids"] == sorted(gone) and log["counts"]["bytes_freed"] > 0
    assert sorted(Path(p).stem for p in log["paths"]["clips"]) == sorted(gone)
    assert latest_purge_log(curated / "index") == log  # what the dataset card reports

    # the collection forgets them: no user name or description kept, and a later download does not fetch them again
    collected = [json.loads(line) for line in (root / "collection" / "videos.jsonl").read_text().splitlines()]
    assert sorted(str(record["id"]) for record in collected) == kept
    again = download_videos(
        root / "collection" / "videos.jsonl",
        root / "downloads",
        LocalCopyDownloader(f"file://{root}/mirror/{{id}}.mp4"),
        progress=False,
    )
    assert again.ok == 0 and not any((root / "downloads" / "videos" / f"{i}.mp4").exists() for i in gone)
    # and the collection still resumes: its state.json follows the shorter videos.jsonl
    client = ResearchApiClient(Credentials(KEY, SECRET), api_base=server.url, retry=RetryPolicy(max_attempts=3))
    same = CollectionRequest(tuple(TAGS), START, END, 100, ("id", "create_time", "username", "video_description",
                                                            "hashtag_names"))  # fmt: skip
    resumed = collect(client, same, root / "collection", progress=False)
    assert resumed.status == "complete" and resumed.total_videos == len(kept)

    # the look-up used the API's id condition in windows of at most 30 days
    queries = [
        body
        for path, body in server.request_log
        if path.endswith("/query/") and body["query"]["and"][0]["field_name"] == "video_id"
    ]
    assert queries and all(q["query"]["and"][0]["operation"] == "IN" for q in queries)
    assert sorted(i for q in queries for i in q["query"]["and"][0]["field_values"]) == sorted(ids)


def test_refresh_refuses_to_delete_most_of_the_data(pipeline):
    server, root, ids = pipeline
    server.unavailable_ids.update(ids[:4])
    result = _purge("--index", str(root / "curated"), "--refresh", "--api-base", server.url, env=_credentials_env())
    assert (
        result.returncode == 2
        and "nothing was deleted" in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )
    assert len(load_index(root / "curated")) == 6 and not (root / "curated" / "purge_logs").exists()


def test_refresh_needs_credentials_and_names_them(pipeline):
    _, root, _ = pipeline
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    result = _purge("--index", str(root / "curated"), "--refresh", env=env)
    assert (
        result.returncode == 2 and "TIKTOK_CLIENT_KEY" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    )


def test_purge_keep_metadata_then_everything(pipeline):
    _, root, ids = pipeline
    curated = root / "curated"
    dry = _purge("--index", str(curated), "--keep-metadata", "--dry-run")
    assert dry.returncode == 0 and "would delete 6 raw videos, 6 clips, 0 metadata files" in dry.stdout
    listed = [line for line in dry.stdout.splitlines() if line.startswith("would delete (")]  # the files, one a line
    assert len(listed) == 12 and sum(line.startswith("would delete (clips): ") for line in listed) == 6
    assert len(list((curated / "clips").glob("*.mp4"))) == 6 and not (curated / "purge_logs").exists()

    kept = _purge("--index", str(curated), "--keep-metadata")
    assert kept.returncode == 0, kept.stderr
    assert not list((curated / "clips").iterdir()) and not list((root / "downloads" / "videos").glob("*.mp4"))
    assert len(list((curated / "metadata").glob("*.json"))) == 6 and len(load_index(curated)) == 6

    everything = _purge("--index", str(curated))
    assert everything.returncode == 0, everything.stderr
    assert (
        "deleted 0 raw videos, 0 clips, 6 metadata files" in everything.stdout
        and "6 listed files were already gone" in everything.stdout
    )
    assert not list((curated / "metadata").glob("*.json")) and not (curated / "index").exists()
    logs = sorted((curated / "purge_logs").glob("*-purge.json"))
    assert len(logs) == 2
    first, second = (json.loads(p.read_text()) for p in logs)
    assert {first["counts"]["raw_videos"], second["counts"]["raw_videos"]} == {6, 0}
    full = first if not first["keep_metadata"] else second
    assert full["counts"]["metadata"] == 6 and str(curated / "index") in full["paths"]["other"] and full["finished_at"]


def test_purge_of_a_folder_that_is_not_an_output_fails_in_one_line(tmp_path):
    result = _purge("--index", str(tmp_path))
    assert result.returncode == 2  # the old option name still works, and the error names the current one
    assert result.stderr.startswith(f"error: --index {tmp_path}: neither metadata/ nor clips/ here; is it the")


def test_id_batches_respect_the_api_limits():
    day = 86400
    created = {str(i): 1704067200 + (i // 10) * day for i in range(1000)}  # 10 videos a day for 100 days
    batches = id_batches(created)
    assert sorted(i for b in batches for i in b.ids) == sorted(created)
    for batch in batches:
        assert len(batch.ids) <= 100
        assert int(batch.end_date) >= int(batch.start_date)
    import datetime as dt

    spans = [
        (dt.datetime.strptime(b.end_date, "%Y%m%d") - dt.datetime.strptime(b.start_date, "%Y%m%d")).days
        for b in batches
    ]
    assert max(spans) <= 29 and len(batches) == 10
    sparse = id_batches({"a": 1704067200, "b": 1704067200 + 45 * day})  # 45 days apart: two queries
    assert [b.ids for b in sparse] == [("a",), ("b",)]


def test_creation_times_come_from_the_collection(pipeline):
    _, root, ids = pipeline
    created = creation_times(root / "collection" / "videos.jsonl")
    assert sorted(created) == sorted(ids) and all(isinstance(t, int) for t in created.values())


def test_refresh_stopped_by_the_quota_keeps_what_it_confirmed(pipeline):
    server, root, ids = pipeline
    batches = id_batches(creation_times(root / "collection" / "videos.jsonl"))
    assert len(batches) >= 2
    first, last = batches[0].ids[0], batches[-1].ids[0]
    server.unavailable_ids.update({first, last})
    server.reset_quota()
    server.daily_request_quota = 1  # one id query today: the first batch
    result = _purge(
        "--index",
        str(root / "curated"),
        "--refresh",
        "--api-base",
        server.url,
        "--max-unavailable-share",
        "1",
        env=_credentials_env(),
    )
    assert result.returncode == 3, result.stderr
    assert "quota" in result.stderr and "after the quota reset" in result.stderr
    remaining = set(load_index(root / "curated")["video_id"])
    assert first not in remaining and last in remaining  # the unchecked one is never declared gone
    (log_path,) = (root / "curated" / "purge_logs").glob("*-refresh.json")
    refresh = json.loads(log_path.read_text())["refresh"]
    assert refresh["unavailable_ids"] == [first] and refresh["unchecked"] == len(ids) - len(batches[0].ids)

    # The next day, again one query: it goes on with ids not yet looked up instead of asking the first ones again.
    checks = root / "curated" / "refresh_checks.json"
    day_one = set(json.loads(checks.read_text()))
    assert day_one == set(batches[0].ids) - {first}
    server.reset_quota()
    again = ["--index", str(root / "curated"), "--refresh", "--api-base", server.url, "--max-unavailable-share", "1"]
    result = _purge(*again, env=_credentials_env())
    assert result.returncode in (0, 3), result.stderr
    day_two = set(json.loads(checks.read_text()))
    assert day_one < day_two  # new ids looked up, the first day's kept


def test_purge_keeps_the_users_own_source_videos_unless_asked(tmp_path):
    own = tmp_path / "my_videos"
    for name in ("a", "b"):
        write_scene_video(own / f"{name}.mp4", [120], height=64, width=96)
    curated = tmp_path / "curated"
    curate(load_video_inputs(own), curated, CurationOptions(detector="none"), workers=1, progress=False)
    assert len(list((curated / "clips").glob("*.mp4"))) == 2

    kept = _purge("--index", str(curated), "--keep-metadata")
    assert kept.returncode == 0, kept.stderr
    assert "deleted 0 raw videos, 2 clips" in kept.stdout and "kept 2 source videos" in kept.stdout
    assert sorted(p.name for p in own.iterdir()) == ["a.mp4", "b.mp4"]
    log = latest_purge_log(curated)
    assert log["counts"]["kept_own_videos"] == 2 and sorted(log["kept_own_videos"]) == [
        str((own / n).resolve()) for n in ("a.mp4", "b.mp4")
    ]

    asked = _purge("--index", str(curated), "--delete-own-videos")
    assert asked.returncode == 0, asked.stderr
    assert "deleted 2 raw videos" in asked.stdout and not list(own.iterdir())
