"""The README's main command, ``hf-tiktokactions quickstart``, at a small size: every stage for real, then a rerun
that reuses them; and the ``convert`` subcommand's one-line errors."""

import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForVideoClassification

CONSOLE_SCRIPT = Path(sys.executable).parent / "hf-tiktokactions"
SMALL = [
    "--pretrain",
    "quick",  # the plumbing check: the default becomes `reference` once the package ships one
    "--pretrain-steps",
    "20",
    "--finetune-epochs",
    "2",
    "--labeled-clips-per-class",
    "4",
    "--pool-clips-per-class",
    "2",
    "--no-progress",
]


def quickstart(output: Path) -> subprocess.CompletedProcess:
    command = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "hf_tiktokactions"]
    return subprocess.run(
        [*command, "quickstart", "--output", str(output), *SMALL], capture_output=True, text=True, timeout=900
    )


def test_quickstart_runs_every_stage_then_reuses_them(tmp_path):
    output = tmp_path / "quickstart"
    result = quickstart(output)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((output / "summary.json").read_text())
    stages = [stage["name"] for stage in summary["stages"]]
    assert stages == ["data", "curate", "pretrain", "finetune_pretrained", "finetune_scratch", "publish"]
    assert not any(stage["reused"] for stage in summary["stages"])
    for arm in ("pretrained", "scratch"):
        assert 0 <= summary[arm]["top1"] <= summary[arm]["top5"] <= 100 and summary[arm]["views"] == "2x3"
    curate = summary["stages"][1]["numbers"]
    assert curate["videos"] == 14 and curate.get("status_pass", 0) > 0
    assert (output / "curated" / "index").is_dir() and (output / "pretrain" / "final" / "model.safetensors").exists()
    for table_cell in ("stage", "finetune_scratch", "publish", "try it:", "bin/python spaces/app.py"):
        assert table_cell in result.stdout

    model = AutoModelForVideoClassification.from_pretrained(output / "model", trust_remote_code=True)
    assert (output / "model" / "README.md").exists() and model.config.num_labels == 7
    with torch.no_grad():
        size = model.config.image_size
        assert model(torch.randn(1, model.config.num_frames, 3, size, size)).logits.shape == (1, 7)

    started = time.perf_counter()
    again = quickstart(output)
    assert again.returncode == 0, again.stderr[-4000:]
    rerun = json.loads((output / "summary.json").read_text())
    assert all(stage["reused"] for stage in rerun["stages"])
    assert rerun["pretrained"] == summary["pretrained"]
    assert time.perf_counter() - started < 60


def test_convert_subcommand_reports_a_missing_file_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions", "convert", str(tmp_path / "missing.pth"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "missing.pth does not exist" in result.stderr and "Traceback" not in result.stderr
