"""Curation on a real two-node Ray cluster (head + worker started with ``ray start``), as docs/SCALING_OUT.md runs it.

The worker node is SIGKILLed mid-run (raylet, agents and Ray workers: a machine dropping off the
cluster); Ray may reschedule its tasks or the run may fail. A rerun on the cluster with a fresh
worker node then finishes the job, and the index equals the local engine's. That fresh node declares a GPU, and a
curation with the detector then places the detector actors on it (one cluster for both: starting one costs more
than either run).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from curation_files import write_scene_video
from ray_cluster import RAY, LocalRayCluster

from hf_tiktokactions.cli import parse_step_options
from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parent.parent
VIDEOS = 10
# The untrained YOLOv8n of ultralytics' bundled config, as in tests/test_curation_engines.py (which compares the
# detector's results of the engines): the detector stage really runs.
DETECTOR = CurationOptions(detector="yolov8n.yaml", detector_image_size=96, person_confidence=0.01, min_person_frames=3)


def _rows(output: Path) -> list[dict]:
    """Index rows without the columns that name the output folder."""
    return load_index(output).remove_columns(["clip_path", "metadata_path"]).to_list()


def _records(output: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((output / "metadata").glob("*.json"))]


def _curate_on(cluster: LocalRayCluster, videos: Path, output: Path, flags: Sequence[str] = ()) -> subprocess.Popen:
    """The documented command: dataset_scripts/curate.py --engine ray --ray-address HEAD:PORT."""
    command = [sys.executable, str(ROOT / "dataset_scripts" / "curate.py"), "--videos", str(videos)]
    command += ["--output", str(output), *(flags or ["--detector", "none"])]
    command += ["--engine", "ray", "--ray-address", cluster.address]
    return subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


STORAGE_CHECK = """
import json, sys
from pathlib import Path
import ray
from hf_tiktokactions.curation.ray_storage import check_nodes_see, nodes_missing
ray.init(address=sys.argv[1], logging_level="WARNING")
check_nodes_see(ray, Path(sys.argv[2]), sys.argv[3])  # raises if a node does not see them
print(json.dumps(nodes_missing(ray, ["/nowhere/v0.mp4", sys.argv[3]])))
"""


def _check_the_storage_check(cluster: LocalRayCluster, output: Path, video: Path) -> None:
    """Both nodes see the real layout; a path no node sees is reported by each node."""
    command = [sys.executable, "-c", STORAGE_CHECK, cluster.address, str(output), str(video)]
    checked = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=180)
    assert checked.returncode == 0, checked.stderr
    missing = json.loads(checked.stdout.strip().splitlines()[-1])
    assert len(missing) == 2 and all(paths == ["/nowhere/v0.mp4"] for paths in missing.values())


def _check_detectors_run_on_the_gpu_node(cluster: LocalRayCluster, gpu: str, tmp_path: Path) -> None:
    """The head has no GPU and node ``gpu`` was started with --num-gpus 1: the detector actor lands on that node.

    (No GPU here: Ray schedules on the declared resource and the detector falls back to the CPU inside the actor.)
    """
    videos = tmp_path / "detector_videos"
    for i in range(2):
        write_scene_video(videos / f"v{i}.mp4", [150], height=72, width=96)
    output = tmp_path / "detector_run"
    gpu_node, head_node = cluster.node_id(gpu), cluster.node_id("head")
    flags = ["--detector", DETECTOR.detector, "--detector-image-size", str(DETECTOR.detector_image_size)]
    flags += ["--person-confidence", str(DETECTOR.person_confidence)]
    flags += ["--min-person-frames", str(DETECTOR.min_person_frames)]
    stdout, stderr = _curate_on(cluster, videos, output, flags).communicate(timeout=240)
    assert "2 curated" in stdout, stderr
    records = _records(output)
    assert {r["ray_detector"]["node_id"] for r in records} == {gpu_node} != {head_node}
    assert len(records) == 2 and all(r["person_frames"] is not None for r in records)


@pytest.mark.distributed
def test_a_two_node_cluster_curates_like_the_local_engine_survives_a_killed_node_and_detects_on_the_gpu_node(
    tmp_path,
):
    videos = tmp_path / "videos"
    for i in range(VIDEOS):
        write_scene_video(videos / f"v{i}.mp4", [150 if i % 3 else 60], height=72, width=96)  # every third rejected
    local = curate(load_video_inputs(videos), tmp_path / "local", CurationOptions(detector="none"), workers=1)
    assert local.by_status == {"pass": 6, "rejected": 4}
    output = tmp_path / "ray"
    with LocalRayCluster() as cluster:
        cluster.start_head()
        cluster.add_worker("worker")
        run = _curate_on(cluster, videos, output)
        # Kill the worker node once it has committed a video (so both nodes provably did work) and the run goes on.
        deadline, killed = time.monotonic() + 120, []
        while not killed and run.poll() is None and time.monotonic() < deadline:
            worker_pids = set(cluster.node_pids("worker"))
            if any(r.get("ray_worker", {}).get("pid") in worker_pids for r in _records(output)):
                killed = cluster.kill_node("worker")
            time.sleep(0.05)
        _, stderr = run.communicate(timeout=180)
        assert killed, f"the worker node curated no video before the run ended (exit {run.returncode}):\n{stderr}"
        first_run = _records(output)
        assert len({r["ray_worker"]["node_id"] for r in first_run if "ray_worker" in r}) == 2

        cluster.add_worker("worker-restarted", num_gpus=1)
        rerun = _curate_on(cluster, videos, output)
        stdout, stderr = rerun.communicate(timeout=180)
        assert rerun.returncode == 0, stderr
        assert f"{VIDEOS - len(first_run)} curated" in stdout and f"{len(first_run)} already done" in stdout
        _check_the_storage_check(cluster, output, videos / "v0.mp4")
        _check_detectors_run_on_the_gpu_node(cluster, "worker-restarted", tmp_path)
    assert not cluster.node_pids("head") and not cluster.node_pids("worker-restarted")
    assert _rows(output) == _rows(tmp_path / "local")
    assert all(r["ray_worker"]["hostname"] for r in _records(output))
    assert not [p for p in output.rglob("*") if ".tmp" in p.name]


def _documented_commands() -> list[list[str]]:
    """The shell commands of docs/SCALING_OUT.md (continuation lines joined, comments dropped)."""
    text = (ROOT / "docs" / "SCALING_OUT.md").read_text(encoding="utf-8")
    lines = "".join(re.findall(r"```bash\n(.*?)```", text, re.S)).replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip() and not line.startswith("#")]


def test_the_documented_commands_take_the_options_they_are_given():
    """Every option on the page exists (the cluster test above runs the same commands at tiny size)."""
    commands = _documented_commands()
    ray_starts = [c for c in commands if c[:2] == ["ray", "start"]]
    curates = [c for c in commands if c[:2] == ["python", "dataset_scripts/curate.py"]]
    assert len(ray_starts) == 3 and len(curates) == 1
    args = parse_step_options("curate", curates[0][2:])  # what dataset_scripts/curate.py parses
    assert args.engine == "ray" and args.ray_address == "HEAD_IP:6379" and args.workers is None
    help_text = subprocess.run([RAY, "start", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ray_starts:
        for option in (word.split("=")[0] for word in command[2:] if word.startswith("--")):
            assert re.search(rf"\s{option}\b", help_text), f"`ray start` has no option {option}"
