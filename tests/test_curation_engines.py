"""The local process pool and Ray run the same stages and produce the same index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from curation_files import write_scene_video

from hf_tiktokactions.curation.engines import curate, detector_actor_plan
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parent.parent

# The untrained YOLOv8n from ultralytics' bundled config: the detector stage really runs (in pool
# workers, and in a Ray actor), and is seeded, so both engines see the same model.
OPTIONS = CurationOptions(detector="yolov8n.yaml", detector_image_size=96, person_confidence=0.01, min_person_frames=3)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    write_scene_video(folder / "a.mp4", [150])
    write_scene_video(folder / "b.mp4", [40, 130, 30])
    write_scene_video(folder / "c.mp4", [60, 60])  # rejected: longest scene 2 s
    (folder / "d.mp4").write_bytes(b"")
    write_scene_video(folder / "e.mp4", [330], height=96, width=128)
    return load_video_inputs(folder)


def _rows(output):
    index = load_index(output)
    rows = index.remove_columns(["clip_path", "metadata_path"]).to_list()
    return rows, [p is not None for p in index["clip_path"]]


@pytest.mark.distributed
def test_local_and_ray_engines_give_the_same_index(videos, tmp_path):
    local = curate(videos, tmp_path / "local", OPTIONS, engine="local", workers=2, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        remote = curate(videos, tmp_path / "ray", OPTIONS, engine="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    assert local.processed == remote.processed == 5
    assert local.by_status == remote.by_status and local.by_status["rejected"] == 2
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")
    ran_detector = [r for r in _rows(tmp_path / "ray")[0] if r["status"] != "rejected"]
    assert ran_detector and all(r["person_frames"] is not None for r in ran_detector)


def _pool_workers(parent_pid: int) -> list[int]:
    """PIDs of the multiprocessing spawn workers started by ``parent_pid`` (not its resource tracker)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[1]) == parent_pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(int(stat.parent.name))
    return workers


def _curation_under_way(tmp_path: Path) -> tuple[subprocess.Popen, list[str], Path, list[int]]:
    """curate.py on 8 videos with 2 pool workers, once the first video is committed: (the process, its command,
    its output folder, its workers' PIDs)."""
    videos = tmp_path / "videos"
    for i in range(8):
        write_scene_video(videos / f"v{i}.mp4", [180], height=240, width=320)
    output = tmp_path / "out"
    command = [sys.executable, str(ROOT / "dataset_scripts" / "curate.py"), "--videos", str(videos)]
    command += ["--output", str(output), "--detector", "none", "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((output / "metadata").glob("*.json")):
        time.sleep(0.01)
    workers = _pool_workers(process.pid)
    assert workers and process.poll() is None
    return process, command, output, workers


def test_a_dying_local_worker_costs_no_video(tmp_path):
    """SIGKILL one pool worker (as the OOM killer would): its videos are redone in fresh processes."""
    process, _, output, workers = _curation_under_way(tmp_path)
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    index = load_index(output)
    assert sorted(index["video_id"]) == [f"v{i}" for i in range(8)] and set(index["status"]) == {"pass"}
    assert "a worker process died" in stderr
    assert not [p for p in output.rglob("*") if ".tmp" in p.name]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_curation_stopped_from_outside_leaves_no_worker_behind(tmp_path, stop):
    """`kill PID` (SIGTERM, what schedulers send) ended the main process at once and its spawn workers curated on,
    orphaned, for ever. Now SIGTERM stops the run as Ctrl-C does (the queued videos never start, exit status 130),
    and a worker whose main process died anyhow (SIGKILL) exits; the rerun curates every video."""
    process, command, output, workers = _curation_under_way(tmp_path)
    os.kill(process.pid, stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if stop == signal.SIGTERM else -signal.SIGKILL), stderr
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    if stop == signal.SIGTERM:
        assert "interrupted" in stderr and "Traceback" not in stderr
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(load_index(output)["video_id"]) == [f"v{i}" for i in range(8)]


def test_ray_detector_actors_ask_for_a_gpu_each_when_the_cluster_has_gpus():
    """A CPU detector actor asks for a CPU of its own, but not for the only one: on a one-CPU Ray (--engine ray
    --workers 1) it held that CPU while it lived, the video tasks never started and the run waited forever."""
    assert detector_actor_plan({"CPU": 64.0, "GPU": 4.0}) == (4, {"num_gpus": 1, "num_cpus": 0})
    assert detector_actor_plan({"CPU": 2.0}) == (1, {"num_cpus": 1})
    assert detector_actor_plan({"CPU": 1.0}) == (1, {"num_cpus": 0})
