"""The paper's experiment drivers end to end on the embedded synthetic set (tiny step counts)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_compare_init_runs_every_arm_and_reports_mean_and_std(tmp_path):
    command = [
        sys.executable, str(ROOT / "training" / "compare_init.py"), "--embedded", "true", "--embedded_clips_per_class", "4",
        "--output_dir", str(tmp_path), "--seeds", "0", "--arms", "index,target,scratch",
        "--pretrain_args", "--max_steps 3 --reconstruction_steps 0 --save_steps 100 --disable_tqdm true",
        "--finetune_args", "--max_steps 2 --eval_strategy no --disable_tqdm true --test_num_segment 1 --test_num_crop 1",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "compare_init.json").read_text())
    assert set(report["arms"]) == {"index", "target", "scratch"}
    for arm in report["arms"].values():
        assert len(arm["runs"]) == 1 and arm["top1"]["std"] == 0.0 and 0 <= arm["top1"]["mean"] <= 100
    assert (tmp_path / "index-seed0" / "pretrain" / "final" / "config.json").exists()
    assert json.loads((tmp_path / "target-seed0" / "finetune" / "run_config.json").read_text())["init_from"].endswith("target-seed0/pretrain/final")
    assert len((tmp_path / "target_videos.txt").read_text().split()) > 0
    assert (tmp_path / "compare_init.png").read_bytes()[:4] == b"\x89PNG"
    assert "| scratch | 1 |" in (tmp_path / "compare_init.md").read_text()


def test_embedded_diagnostics_runs_every_arm_and_writes_its_json(tmp_path):
    output = tmp_path / "diagnostics.json"
    command = [
        sys.executable, str(ROOT / "training" / "embedded_diagnostics.py"), "--arms", "scratch,pretrained,probe,cnn",
        "--labelled", "2", "--test", "1", "--unlabeled", "1", "--size", "32", "--num-frames", "4", "--batch", "4",
        "--pretrain-steps", "3", "--finetune-steps", "2", "--output", str(output),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["chance"] == 100 / 7
    assert set(report["test_top1"]) == {"scratch", "pretrained", "cnn"}
    assert all(0 <= value <= 100 for value in report["test_top1"].values())
    # 14 clips, 128 features: the probe must fit its own training clips whatever the encoder
    assert report["linear_probe"]["random"]["train"] == report["linear_probe"]["pretrained"]["train"] == 100.0
    assert "pretrain step 2 loss" in run.stdout


def test_embedded_diagnostics_names_an_unknown_arm():
    run = subprocess.run([sys.executable, str(ROOT / "training" / "embedded_diagnostics.py"), "--arms", "scratch,magic"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode != 0 and "unknown ['magic']" in run.stderr
