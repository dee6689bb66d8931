"""Hostile inputs and faults for collection, download and curation, each built for real.

Video ids that try to leave the output folder, an API that returns such ids, two runs on one folder
(two real processes), a full disk (a real tmpfs), input names that differ only in accents, a second
input folder with the same relative names, and a client secret about to travel over plain http.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from curation_files import write_scene_video

from hf_tiktokactions.collection.collect import CollectionRequest, collect, parse_fields
from hf_tiktokactions.collection.download import read_manifest
from hf_tiktokactions.collection.tiktok_api import Credentials, ResearchApiClient, RetryPolicy
from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions
from hf_tiktokactions.testing.research_api_server import FakeResearchApi, make_videos

REPO = Path(__file__).resolve().parents[1]
DOWNLOAD = REPO / "dataset_scripts" / "download_videos.py"
COLLECT = REPO / "dataset_scripts" / "collect_tiktok.py"
CURATE = REPO / "dataset_scripts" / "curate.py"
KEY, SECRET = "key-hostile", "secret-hostile"
START, END = "20240101", "20240130"
OPTIONS = CurationOptions(detector="none")


def _victim(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "precious.txt").write_text("keep me")
    return folder


def _run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)


# -- ids that are paths ----------------------------------------------------------------------------


def test_download_ids_that_are_paths_delete_nothing_and_end_non_zero(tmp_path):
    absolute = _victim(tmp_path / "elsewhere" / "victim")
    out = tmp_path / "deep" / "out"
    relative = _victim(tmp_path / "deep" / "victim")  # out/.partial/../../victim
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "123.mp4").write_bytes(b"video bytes")
    metadata = tmp_path / "videos.jsonl"
    ids = [str(absolute), "../../victim", "123", "12a", "-5"]
    metadata.write_text("".join(json.dumps({"id": i, "username": "u"}) + "\n" for i in ids))
    done = _run(
        str(DOWNLOAD), "--quiet", "--metadata", str(metadata), "--output", str(out),
        "--downloader", "local", "--source", str(mirror) + "/{id}.mp4",
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
    assert (absolute / "precious.txt").read_text() == "keep me"
    assert (relative / "precious.txt").read_text() == "keep me"
    manifest = read_manifest(out / "manifest.jsonl")
    assert manifest["123"]["status"] == "ok" and (out / manifest["123"]["path"]).read_bytes() == b"video bytes"
    for bad in (str(absolute), "../../victim", "12a", "-5"):
        assert manifest[bad]["status"] == "invalid", manifest[bad]
        assert "digits only" in manifest[bad]["reason"]
    assert "4 invalid" in done.stdout
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["123.mp4"]


def test_a_source_template_cannot_reach_outside_its_folder(tmp_path):
    from hf_tiktokactions.collection.download import LocalCopyDownloader, download_videos

    (tmp_path / "mirror" / "sub").mkdir(parents=True)
    (tmp_path / "7.mp4").write_bytes(b"not in the mirror")
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text(json.dumps({"id": 7, "username": "../.."}) + "\n")
    source = str(tmp_path / "mirror") + "/sub/{username}/{id}.mp4"  # resolves to tmp_path/7.mp4
    result = download_videos(metadata, tmp_path / "out", LocalCopyDownloader(source), progress=False)
    manifest = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert result.ok == 0 and manifest["7"]["status"] == "failed"
    assert "outside" in manifest["7"]["reason"]


def test_collected_bad_ids_are_recorded_and_the_collection_goes_on(tmp_path):
    videos = make_videos(["salsa"], START, END, 30, seed=3)
    videos[4]["id"] = "../../victim"
    videos[9]["id"] = "/tmp/victim"
    with FakeResearchApi(videos, client_key=KEY, client_secret=SECRET) as server:
        client = ResearchApiClient(Credentials(KEY, SECRET), api_base=server.url, retry=RetryPolicy(3, 0.001, 0.01))
        request = CollectionRequest(("salsa",), START, END, 1000, parse_fields(None))
        result = collect(client, request, tmp_path / "out", progress=False)
    kept = [json.loads(line)["id"] for line in (tmp_path / "out" / "videos.jsonl").read_text().splitlines()]
    assert len(kept) == 28 and all(str(i).isdigit() for i in kept)
    assert result.status == "complete" and result.invalid_videos == 2
    rejected = [json.loads(line) for line in (tmp_path / "out" / "invalid_videos.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rejected} == {"../../victim", "/tmp/victim"}
    assert all("digits only" in r["reason"] and r["hashtag"] == "salsa" for r in rejected)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["invalid_videos"] == 2


# -- one writer per output folder ------------------------------------------------------------------


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    env.update(TIKTOK_CLIENT_KEY=KEY, TIKTOK_CLIENT_SECRET=SECRET)
    return env


def test_a_second_collection_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    videos = make_videos(["salsa"], START, END, 2000, seed=1)
    # Slow pages (20 of them) keep the first run busy until the second is done, however loaded the machine.
    with FakeResearchApi(videos, client_key=KEY, client_secret=SECRET, page_delay_s=2.0) as server:
        args = [
            str(COLLECT), "--hashtags", "salsa", "--start-date", START, "--end-date", END,
            "--max-per-hashtag", "10000", "--output", str(out), "--api-base", server.url, "--quiet",
        ]  # fmt: skip
        first = subprocess.Popen([sys.executable, *args], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while server.served_pages == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        second = _run(*args, env=_env())
        server.page_delay_s = 0.0
        first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode != 0 and "in use by another" in second.stderr and "Traceback" not in second.stderr
    ids = [json.loads(line)["id"] for line in (out / "videos.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 2000


def test_a_second_download_on_the_same_folder_is_refused(tmp_path):
    """The first run fetches five videos from a slow local server (yt-dlp); a second run starts meanwhile."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    for i in range(1, 6):
        (served / f"{i}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes([i]) * 2000)

    release = threading.Event()  # the first run's downloads wait until the second run is done

    class Slow(SimpleHTTPRequestHandler):
        def do_GET(self):
            release.wait(timeout=25)  # below yt-dlp's 30 s socket timeout
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Slow, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text("".join(json.dumps({"id": i, "username": "u"}) + "\n" for i in range(1, 6)))
    out = tmp_path / "out"
    template = f"http://127.0.0.1:{server.server_address[1]}/{{id}}.mp4"
    args = [str(DOWNLOAD), "--quiet", "--metadata", str(metadata), "--output", str(out), "--workers", "1",
            "--url-template", template]  # fmt: skip
    try:
        first = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (out / ".partial").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        second = _run(*args)
        release.set()
        stdout, stderr = first.communicate(timeout=90)
    finally:
        server.shutdown()
        server.server_close()
    assert second.returncode != 0 and "in use by another" in second.stderr and "Traceback" not in second.stderr
    assert first.returncode == 0, stderr
    assert stdout.startswith("5 downloaded"), stdout
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 5


# -- a full disk is not a verdict ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_stops_the_run_and_the_rerun_curates_every_video(tmp_path, small_disk):
    videos = tmp_path / "videos"
    for i in range(3):
        write_scene_video(videos / f"v{i}.mp4", [150], height=96, width=128)
    out = small_disk / "out"
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (256 * 1024 - 32 * 1024))  # room for the config, one clip and a few small files
    args = [str(CURATE), "--videos", str(videos), "--output", str(out), "--detector", "none", "--workers", "1",
            "--quiet"]  # fmt: skip
    full = _run(*args)
    assert full.returncode != 0
    assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
    assert "rerun" in full.stderr
    recorded = [json.loads(p.read_text()) for p in (out / "metadata").glob("*.json")]
    assert not [r for r in recorded if r["status"] == "rejected"], recorded
    filler.unlink()
    again = _run(*args)
    assert again.returncode == 0, again.stderr
    index = load_index(out)
    assert sorted(index["video_id"]) == ["v0", "v1", "v2"] and set(index["status"]) == {"pass"}


# -- names and paths -------------------------------------------------------------------------------


def test_names_that_differ_only_in_accents_get_distinct_ids_and_are_all_curated(tmp_path):
    videos = tmp_path / "videos"
    names = [unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café"), "cafe", "cafè"]
    for name in names:
        write_scene_video(videos / f"{name}.mp4", [120], height=64, width=96)
    inputs = load_video_inputs(videos)
    assert len({v.video_id for v in inputs}) == 4
    result = curate(inputs, tmp_path / "out", OPTIONS, workers=1, progress=False)
    assert result.by_status == {"pass": 4}


def test_the_same_relative_name_from_another_folder_is_curated_not_skipped(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_scene_video(first / "clip.mp4", [120], height=64, width=96)
    write_scene_video(second / "clip.mp4", [150], height=96, width=128)
    out = tmp_path / "out"
    curate(load_video_inputs(first), out, OPTIONS, workers=1, progress=False)
    result = curate(load_video_inputs(second), out, OPTIONS, workers=1, progress=False)
    assert result.processed == 1 and result.already_done == 0
    index = load_index(out)
    assert len(index) == 2 and sorted(index["height"]) == [64, 96]
    again = curate(load_video_inputs(second), out, OPTIONS, workers=1, progress=False)
    assert (again.processed, again.already_done) == (0, 1)


# -- the client secret never travels in clear text --------------------------------------------------


def test_plain_http_api_base_to_another_host_needs_an_explicit_flag(tmp_path):
    args = [str(COLLECT), "--hashtags", "salsa", "--start-date", START, "--end-date", END,
            "--max-per-hashtag", "10", "--output", str(tmp_path / "out"), "--max-retries", "1"]  # fmt: skip
    refused = _run(*args, "--api-base", "http://192.0.2.1:9", env=_env(), timeout=60)
    assert refused.returncode != 0 and "--allow-insecure-api-base" in refused.stderr
    assert "Traceback" not in refused.stderr and "POST" not in refused.stderr  # nothing was sent
    with pytest.raises(Exception, match="allow-insecure-api-base"):
        ResearchApiClient(Credentials(KEY, SECRET), api_base="http://example.org")
    ResearchApiClient(Credentials(KEY, SECRET), api_base="http://example.org", allow_insecure=True)
    for local in ("http://127.0.0.1:8123", "http://localhost:1", "http://[::1]:80", "https://example.org"):
        ResearchApiClient(Credentials(KEY, SECRET), api_base=local)


def _spawned_workers(parent_pid: int) -> list[int]:
    """PIDs of the multiprocessing spawn processes started by ``parent_pid`` (not its resource tracker)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent_pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(int(stat.parent.name))
    return workers


def _kill_every_worker(args: list[str]) -> tuple[subprocess.Popen, set[int], str, str]:
    """Run the curation with ``args`` and SIGKILL each of its worker processes as it appears: for 4 s from the
    first one and at least until three died (a loaded machine can take longer than 4 s to start the isolated
    reruns), 60 s at most. Returns the finished process, the killed PIDs, its stdout and stderr."""
    import signal

    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline, until = set(), time.monotonic() + 60, time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and (len(killed) < 3 or time.monotonic() < until):
        for pid in set(_spawned_workers(process.pid)) - killed:
            os.kill(pid, signal.SIGKILL)
            if not killed:
                until = time.monotonic() + 4  # from the first worker on
            killed.add(pid)
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=120)
    return process, killed, stdout, stderr


def test_a_worker_killed_from_outside_is_not_a_verdict(tmp_path):
    """Every worker process is SIGKILLed as it appears (an OOM killer gone wild), the isolated reruns too.

    On a loaded machine the killer can be scheduled so late that the pool's two workers curate every video
    before they die; such a run tests nothing (no isolated rerun to kill), so it is tried again in a new folder,
    three times at most.
    """
    videos = tmp_path / "videos"
    for i in range(4):
        write_scene_video(videos / f"v{i}.mp4", [150], height=96, width=128)
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        args = [str(CURATE), "--videos", str(videos), "--output", str(out), "--detector", "none", "--workers", "2"]
        process, killed, stdout, stderr = _kill_every_worker(args)
        if len(killed) >= 3 or process.returncode != 0:
            break
    assert len(killed) >= 3, (killed, process.returncode, stdout[-2000:], stderr[-6000:])  # pool + isolated rerun
    recorded = [json.loads(p.read_text()) for p in (out / "metadata").glob("*.json")]
    assert not [r for r in recorded if r["status"] == "rejected"], recorded
    assert process.returncode == 3 and "left for the rerun" in stdout, (stdout, stderr)
    again = _run(*args, "--quiet")
    assert again.returncode == 0, again.stderr
    index = load_index(out)
    assert sorted(index["video_id"]) == ["v0", "v1", "v2", "v3"] and set(index["status"]) == {"pass"}


class _PoolThatBreaks:
    """A real spawn pool whose workers all exit (``os._exit``) just before video number ``break_at`` is submitted:
    the moment a worker killed while the pool was still being filled makes ``submit`` itself raise."""

    def __init__(self, pool, break_at: int) -> None:
        self.pool, self.break_at, self.submitted = pool, break_at, 0

    def submit(self, function, *args):
        from concurrent.futures.process import BrokenProcessPool

        if self.submitted == self.break_at:
            with pytest.raises(BrokenProcessPool):
                self.pool.submit(os._exit, 1).result(timeout=60)
        self.submitted += 1
        return self.pool.submit(function, *args)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown()


@pytest.mark.parametrize("break_at", [0, 1], ids=["before-any-video", "after-one-video"])
def test_a_pool_that_breaks_while_videos_are_submitted_costs_no_video(tmp_path, monkeypatch, break_at):
    """The pool breaks as the first (nothing in flight) or the second video is submitted: the run goes on,
    the video that never ran goes to a fresh pool (or runs alone), and every video ends with a passing record."""
    from hf_tiktokactions.curation import engines

    videos = tmp_path / "videos"
    for i in range(4):
        write_scene_video(videos / f"v{i}.mp4", [150], height=96, width=128)
    real_pool, pools = engines._pool, []

    def first_one_breaks(workers, options):
        pools.append(real_pool(workers, options))
        return _PoolThatBreaks(pools[-1], break_at) if len(pools) == 1 else pools[-1]

    monkeypatch.setattr(engines, "_pool", first_one_breaks)
    result = curate(load_video_inputs(videos), tmp_path / "out", OPTIONS, workers=2, progress=False)
    assert len(pools) == 2  # the broken one, then a fresh one for the rest
    assert result.processed == 4 and result.by_status == {"pass": 4}, result
    index = load_index(tmp_path / "out")
    assert sorted(index["video_id"]) == ["v0", "v1", "v2", "v3"] and set(index["status"]) == {"pass"}
