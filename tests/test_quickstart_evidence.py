"""``hf-tiktokactions quickstart --pretrain full`` makes a reference encoder folder, ``--pretrain reference``
continues it; both fine-tune both arms per seed and write the comparison, its plot and the reconstructions.

Real stages at a tiny size (a few pre-training and fine-tuning steps of ``vit-mini``, 4 labelled videos an
action): the numbers are plumbing, the shapes and the files are what is checked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import hf_tiktokactions.quickstart as quickstart_module
from hf_tiktokactions.errors import ConfigError, OutputStateError
from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.quickstart import claim_mode, resolve_mode, space_command
from hf_tiktokactions.quickstart_options import QuickstartOptions
from hf_tiktokactions.reference_encoder import has_reference, materialize_reference

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--finetune-steps",
    "2",
    "--labeled-clips-per-class",
    "4",
    "--pool-clips-per-class",
    "3",
    "--quiet",
]


def full_through_the_gpu_suite(tmp_path: Path) -> tuple[Path, Path]:
    """``quickstart --pretrain full --pretrain-steps 2 --finetune-seeds 0,1`` with TINY's sizes, run as the GPU suite's
    quickstart_full stage runs it at SMOKE size (benchmarks/gpu_suite.sh): (the run's folder, the stage's output
    folder). One run checks both the quickstart's evidence and the stage that copies it out."""
    out, work = tmp_path / "suite", tmp_path / "work"
    env = {**os.environ, "SMOKE": "1", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "WORK_DIR": str(work)}
    suite = [str(ROOT / "benchmarks" / "gpu_suite.sh"), str(out), str(tmp_path / "no_videos"), "quickstart_full"]
    run = subprocess.run(["bash", *suite], capture_output=True, text=True, timeout=1800, env=env, cwd=ROOT)
    assert run.returncode == 0 and "== quickstart_full: exit 0 after" in run.stdout, run.stdout[-4000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["stage"] for row in rows] == ["quickstart_full"]
    assert rows[0]["top1"].keys() == {"pretrained", "scratch"} and rows[0]["stage_seconds"]["pretrain"] > 0
    stage = out / "quickstart_full"
    assert {p.name for p in stage.iterdir()} == {"summary.json", "comparison.png", "reconstructions.png", "record.json"}
    return work / "quickstart_full", stage


def quickstart(output: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "hf_tiktokactions", "quickstart", "--output-dir", str(output), *options, *TINY]
    return subprocess.run(command, capture_output=True, text=True, timeout=1800)


def check_comparison(summary: dict, seeds: list[int]) -> None:
    comparison = summary["comparison"]
    assert comparison["views"] == "2x3" and comparison["test_videos"] == 14  # 2 test videos an action
    for arm in ("pretrained", "scratch"):
        numbers = comparison[arm]
        assert numbers["seeds"] == seeds and len(numbers["top1_per_seed"]) == len(seeds)
        assert abs(numbers["top1"] - sum(numbers["top1_per_seed"]) / len(seeds)) < 0.01
        assert 0 <= numbers["top1"] <= numbers["top5"] <= 100 and numbers["top1_std"] >= 0
    assert comparison["margin_top1"] == round(comparison["pretrained"]["top1"] - comparison["scratch"]["top1"], 2)


@pytest.mark.timeout(1800)  # two quickstarts with four and two fine-tunings of vit-mini
def test_full_makes_a_reference_that_reference_mode_continues(tmp_path):
    full, stage = full_through_the_gpu_suite(tmp_path)
    summary = json.loads((full / "summary.json").read_text())
    assert json.loads((stage / "summary.json").read_text()) == summary
    assert summary["pretrain_mode"] == "full" and summary["pretraining"]["steps"] == 2
    assert summary["pretraining"]["start"] == "random weights" and summary["pretraining"]["videos"] == 21
    check_comparison(summary, [0, 1])
    assert (full / "finetune_scratch" / "seed1" / "results.json").is_file()
    assert (full / "comparison.png").stat().st_size > 0 and (full / "reconstructions.png").stat().st_size > 0
    assert (full / "model" / "config.json").is_file()

    reference = full / "reference"
    assert has_reference(reference)
    record = json.loads((reference / "record.json").read_text())
    assert (
        record["command"]
        == "hf-tiktokactions quickstart --pretrain full --seed 0 --pretrain-steps 2 --pool-clips-per-class 3"
    )
    assert record["data_seed"] == 1 and record["steps"] == 2 and set(record["stage_seconds"]) == {"data", "curate"}
    # where the recorded time was measured: the CPU by its model name, as fine-tuning's "hardware" names it
    assert record["machine"].startswith(f"{cpu_model()}, {os.cpu_count()} cores")
    assert "pretrain_embedded_synthetic.yaml" in (reference / "README.md").read_text()
    assert record["machine"] in (reference / "README.md").read_text()
    assert (reference / "pretrain_loss.png").is_file() and (reference / "metrics.jsonl").is_file()
    half = load_file(reference / "model.safetensors")
    assert all(tensor.dtype == torch.float16 for tensor in half.values())
    assert (reference / "model.safetensors").stat().st_size < 5_000_000

    continued = tmp_path / "continued"
    result = quickstart(
        continued, "--reference", str(reference), "--pretrain-steps", "2", "--finetune-seeds", "3"
    )  # the default mode when a reference exists
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((continued / "summary.json").read_text())
    assert summary["pretrain_mode"] == "reference"
    assert summary["pretraining"]["reference"]["command"] == record["command"]
    assert summary["pretraining"]["start"].startswith("the shipped reference encoder (2 steps")
    assert summary["stages"][0]["numbers"]["pool_seed"] == 2  # fresh videos, not the reference's pool (seed 1)
    check_comparison(summary, [3])
    assert "then 2 more steps" in result.stdout and "margin" in result.stdout
    assert f"min on {record['machine']}" in result.stdout  # how long the reference took, and where
    assert "bin/python spaces/app.py" in result.stdout  # the environment's interpreter, not a bare `python`


def test_materialized_reference_is_the_shipped_weights_in_float32(tmp_path):
    from hf_tiktokactions.modeling.configuration_videomaev2 import VideoMAEv2Config
    from hf_tiktokactions.modeling.modeling_videomaev2 import VideoMAEv2ForPreTraining
    from hf_tiktokactions.reference_encoder import export_reference

    run = tmp_path / "run"
    VideoMAEv2ForPreTraining(VideoMAEv2Config.from_preset("vit-tiny")).save_pretrained(run / "final")
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n")
    export_reference(run, tmp_path / "reference", {"command": "test", "steps": 1})
    init = materialize_reference(tmp_path / "init", tmp_path / "reference")
    original, restored = load_file(run / "final" / "model.safetensors"), load_file(init / "model.safetensors")
    assert restored.keys() == original.keys()
    for name, tensor in restored.items():
        assert tensor.dtype == torch.float32 and torch.equal(tensor, original[name].half().float())
    VideoMAEv2ForPreTraining.from_pretrained(init)  # loads as a model folder


def test_mode_defaults_to_reference_only_when_one_is_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(quickstart_module, "REFERENCE_DIR", tmp_path)  # the shipped reference's folder, empty
    quick = resolve_mode(QuickstartOptions(reference=tmp_path))
    assert quick.pretrain == "quick"
    assert (quick.pretrain_steps, quick.labeled_clips_per_class, quick.pool_clips_per_class) == (300, 16, 8)
    with pytest.raises(ConfigError, match=f"--reference {tmp_path}: no reference encoder there"):
        resolve_mode(QuickstartOptions(reference=tmp_path, pretrain="reference"))
    with pytest.raises(ConfigError, match="--reference .*typo: no reference encoder there"):
        resolve_mode(QuickstartOptions(reference=tmp_path / "typo"))  # named, not a quick run without a word
    assert resolve_mode(QuickstartOptions(reference=tmp_path / "typo", pretrain="quick")).pretrain == "quick"
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert resolve_mode(QuickstartOptions(reference=tmp_path)).pretrain == "reference"
    assert resolve_mode(QuickstartOptions(reference=tmp_path, pretrain="full")).pretrain == "full"


def test_an_output_folder_keeps_its_mode(tmp_path):
    claim_mode(QuickstartOptions(output_dir=tmp_path, pretrain="quick"))
    claim_mode(QuickstartOptions(output_dir=tmp_path, pretrain="quick"))  # the same mode finishes the run
    with pytest.raises(OutputStateError, match="holds a --pretrain quick run; pass --pretrain quick"):
        claim_mode(QuickstartOptions(output_dir=tmp_path, pretrain="reference"))


def test_space_command_names_this_interpreter():
    command = space_command(Path("runs/quickstart/model"))
    assert command.startswith("MODEL_ID=runs/quickstart/model ") and command.endswith(" spaces/app.py")
    assert " python spaces/app.py" not in command  # never a bare `python`: the README leaves no venv activated


def test_summary_table_wraps_key_numbers_between_items_and_prints_a_reused_stage_alike():
    from hf_tiktokactions.quickstart import StageRecord, summary_table

    numbers = {"top1": 32.38, "start": "the shipped reference encoder (20000 steps on 700 videos)", "steps": 100}
    live = StageRecord("pretrain", 25.0, numbers, "runs/quickstart/pretrain/final")
    reused = StageRecord("pretrain", 25.0, dict(sorted(numbers.items())), "runs/quickstart/pretrain/final")
    table = summary_table([live], numbers_width=40)
    assert table == summary_table([reused], numbers_width=40)
    assert "top1 32.38" in table  # an item is never split over two lines
    assert table.splitlines()[2].endswith("runs/quickstart/pretrain/final")  # outputs on the first line
    assert len(table.splitlines()) > 3  # wrapped


def test_both_modes_record_a_fine_tunings_scores_with_the_same_rounding():
    """--pretrain quick's stage table showed a results file's 4 decimals (top1 14.2857), reference mode's 2."""
    from hf_tiktokactions.quickstart_evidence import arm_numbers
    from hf_tiktokactions.quickstart_options import finetune_scores

    results = {"top1": 14.2857, "top5": 85.7143, "views": "2x3", "num_videos": 7, "seed": 0}  # 1 and 6 of 7 right
    quick, reference = finetune_scores(results), arm_numbers([results], steps=120)
    assert quick["top1"] == reference["top1"] == reference["top1_per_seed"][0] == 14.29
    assert quick["top5"] == reference["top5"] == 85.71
