"""SIGKILL at any moment, then the same command again: every input exactly once, no half-written file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from curation_files import write_scene_video

from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.stages.probe import count_frames

ROOT = Path(__file__).resolve().parent.parent
NUM_VIDEOS = 10


def _command(videos: Path, output: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "dataset_scripts" / "curate.py"),
        "--videos",
        str(videos),
        "--output",
        str(output),
        "--detector",
        "none",
        "--workers",
        str(workers),
        "--quiet",
    ]


def _kill_when(command: list[str], output: Path, committed: int, delay: float) -> None:
    """Start ``command``, wait until ``committed`` metadata files exist, wait ``delay`` more, SIGKILL the group."""
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if len(list((output / "metadata").glob("*.json"))) >= committed:
                break
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _assert_no_half_written_outputs(output: Path) -> None:
    for path in (output / "metadata").glob("*.json"):
        record = json.loads(path.read_text())  # a torn JSON would not parse
        if record["clip_path"]:
            assert count_frames(output / record["clip_path"]) == record["clip_num_frames"]
    for clip in (output / "clips").glob("[!.]*.mp4"):  # .<id>.*.tmp.mp4 are in-progress writes, cleared on rerun
        assert count_frames(clip) > 0  # a clip without its metadata yet is still complete


def test_sigkill_then_rerun_gives_every_input_exactly_once(tmp_path):
    videos = tmp_path / "videos"
    for i in range(NUM_VIDEOS):
        write_scene_video(videos / f"v{i:02d}.mp4", [180], height=240, width=320)
    output = tmp_path / "out"
    for committed, delay, workers in ((1, 0.0, 1), (3, 0.07, 2), (5, 0.19, 1)):
        _kill_when(_command(videos, output, workers), output, committed, delay)
        _assert_no_half_written_outputs(output)
    done = subprocess.run(_command(videos, output, 1), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    index = load_index(output)
    assert sorted(index["video_id"]) == [f"v{i:02d}" for i in range(NUM_VIDEOS)]
    assert set(index["status"]) == {"pass"}
    _assert_no_half_written_outputs(output)
    assert not [p for p in output.rglob("*") if ".tmp" in p.name or p.name.startswith(".index")]
    assert sorted(p.stem for p in (output / "clips").iterdir()) == [f"v{i:02d}" for i in range(NUM_VIDEOS)]
