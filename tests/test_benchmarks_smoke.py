"""The GPU benchmark suite's plumbing, on the CPU with tiny sizes (SMOKE=1): every stage runs and reports.

The figures themselves are measurements for docs/BENCHMARKS.md, never asserted here; this only keeps the
scripts that a short run on a GPU machine depends on from breaking unnoticed. The quickstart_full stage is run and
checked by tests/test_quickstart_evidence.py, whose evidence run it is.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = [
    "env",
    "step_b",
    "step_g",
    "e2e",
    "e2e_workers",
    "eval",
    "eval_workers",
    "step_g_full",
    "diagnostics",
    "compare_embedded",
]


def test_gpu_suite_runs_every_stage_on_the_cpu(tmp_path):
    videos = tmp_path / "videos"
    made = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "make_videos.py"),
            str(videos),
            "--height",
            "568",
            "--width",
            "320",
            "--count",
            "2",
            "--seconds",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    out = tmp_path / "out"
    env = {
        **os.environ,
        "SMOKE": "1",
        "PYTHON": sys.executable,
        "OMP_NUM_THREADS": "1",
        "WORK_DIR": str(tmp_path / "work"),
    }
    run = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), str(out), str(videos), *STAGES],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    log = (out / "log.txt").read_text()
    for stage in STAGES:
        assert f"== {stage}: exit 0 after" in log, f"stage {stage} failed:\n{log[-3000:]}"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {row["stage"] for row in rows} == set(STAGES)
    rates = [row["clips_per_s"] for row in rows if "clips_per_s" in row]
    assert len(rates) >= 9 and all(rate > 0 for rate in rates)
    assert json.loads((out / "diagnostics.json").read_text())["test_top1"].keys() == {"scratch", "pretrained"}
    assert next(row for row in rows if row["stage"] == "compare_embedded")["top1"].keys() == {"index", "scratch"}
    assert (out / "compare_embedded" / "metrics.jsonl").exists()


def test_attention_layout_compares_layouts_that_agree():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "attention_layout.py"), "--batch", "1", "--tokens", "32"]
        + ["--dim", "64", "--heads", "4", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [row["variant"] for row in rows] == ["fused", "separate", "fused_packed", "per_head", "fused_math"]
    assert all(row["ms_median"] > 0 and row["shape"] == [1, 32, 64] for row in rows)
    assert rows[0]["speed_vs_fused"] == 1.0
