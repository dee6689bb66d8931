"""The README's main command: ``hf-tiktokactions selfcheck`` (console script and ``python -m``)."""

import json
import subprocess
import sys
from pathlib import Path

CONSOLE_SCRIPT = Path(sys.executable).parent / "hf-tiktokactions"


def test_selfcheck_trains_saves_and_reloads(tmp_path):
    command = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "hf_tiktokactions"]
    result = subprocess.run(
        [*command, "selfcheck", "--output", str(tmp_path), "--steps", "40"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["last_loss"] < summary["first_loss"]
    assert summary["classifier_logits_shape"] == [2, 3]
    assert (tmp_path / "pretrained" / "model.safetensors").exists()
    assert "selfcheck: loss" in result.stdout


def test_convert_subcommand_reports_a_missing_file_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions", "convert", str(tmp_path / "missing.pth"), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "missing.pth does not exist" in result.stderr and "Traceback" not in result.stderr
