"""Where decord is not installed (ARM Linux, Apple silicon: it has no wheels there), every step decodes with PyAV.

The steps run as a user runs them, in fresh processes whose ``import decord`` fails (a ``decord`` package on
``PYTHONPATH`` that raises ImportError, as a missing wheel does): curation (``dataset_scripts/curate.py``),
pre-training on the curated index under ``accelerate launch``, and fine-tuning with its multi-view test. The
fine-tuning run is repeated with decord and must predict exactly the same: PyAV returns the same frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curation_files import write_scene_video

from hf_tiktokactions.data.synthetic import make_synthetic_actions

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN_RECIPE = ROOT / "training" / "configs" / "pretrain_tiny_synthetic.yaml"
FINETUNE_RECIPE = ROOT / "training" / "configs" / "finetune_tiny_synthetic.yaml"
FALLBACK_WARNING = "'decord' video backend cannot be used here"


def _environment(tmp_path: Path, block_decord: bool) -> dict[str, str]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    if block_decord:
        blocker = tmp_path / "no_decord" / "decord"
        blocker.mkdir(parents=True, exist_ok=True)
        (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'decord' (blocked by the test)\")\n")
        paths.insert(0, str(blocker.parent))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "OMP_NUM_THREADS": "1"}


def _run(command: list, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _finetune(data_root: Path, init_from: Path, output: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run(
        [
            sys.executable, ROOT / "training" / "finetune.py", "--config", FINETUNE_RECIPE, "--data_root", data_root,
            "--init_from", init_from, "--output_dir", output, "--max_steps", 2, "--eval_strategy", "no",
            "--disable_tqdm", "true",
        ],
        env,
    )  # fmt: skip


def _predictions(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "predictions.jsonl").read_text().splitlines()]


def test_curation_pretraining_and_finetuning_run_without_decord(tmp_path):
    env = _environment(tmp_path, block_decord=True)
    check = subprocess.run([sys.executable, "-c", "import decord"], capture_output=True, text=True, env=env)
    assert check.returncode != 0 and "blocked by the test" in check.stderr

    # curation: 3 videos of 4 s
    videos = tmp_path / "videos"
    for i in range(3):
        write_scene_video(videos / f"v{i}.mp4", [120], height=96, width=128)
    curated = tmp_path / "curated"
    _run([sys.executable, ROOT / "dataset_scripts" / "curate.py", "--videos", videos, "--output", curated,
          "--detector", "none", "--workers", 1], env)  # fmt: skip
    assert json.loads((curated / "curation_summary.json").read_text())["by_status"] == {"pass": 3}

    # pre-training on the curated index, through accelerate launch
    accelerate = Path(sys.executable).parent / "accelerate"
    pretrain = tmp_path / "pretrain"
    result = _run(
        [
            accelerate, "launch", "--cpu", "--num_processes", 1, "--num_machines", 1, "--mixed_precision", "no",
            "--dynamo_backend", "no", ROOT / "training" / "pretrain.py", "--config", PRETRAIN_RECIPE,
            "--data", curated / "index", "--output_dir", pretrain, "--max_steps", 2, "--per_device_train_batch_size",
            2, "--save_steps", 2, "--reconstruction_steps", 2, "--logging_steps", 1, "--report_to", "none",
            "--disable_tqdm", "true", "--dataloader_num_workers", 0,
        ],
        env,
    )  # fmt: skip
    assert FALLBACK_WARNING in result.stderr
    summary = json.loads((pretrain / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["skipped_videos_on_main_process"] == 0

    # fine-tuning, then the multi-view test (2 clips x 3 crops), from the pre-trained encoder
    synthetic = make_synthetic_actions(
        tmp_path / "synthetic", clips_per_class=4, size=64, num_frames=16, progress=False
    )
    without = _finetune(synthetic, pretrain / "final", tmp_path / "finetune_pyav", env)
    assert FALLBACK_WARNING in without.stderr
    results = json.loads((tmp_path / "finetune_pyav" / "results.json").read_text())
    assert results["views"] == "2x3" and results["num_videos"] > 0

    # the same run where decord is installed: the same frames, so the very same predictions
    if not _decord_installed():
        pytest.skip("decord is not installed here: nothing to compare with")
    with_decord = _finetune(
        synthetic, pretrain / "final", tmp_path / "finetune_decord", _environment(tmp_path, block_decord=False)
    )
    assert FALLBACK_WARNING not in with_decord.stderr
    assert _predictions(tmp_path / "finetune_pyav") == _predictions(tmp_path / "finetune_decord")


def _decord_installed() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True
