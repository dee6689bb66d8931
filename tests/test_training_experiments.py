"""The paper's experiment drivers end to end on the embedded synthetic set (tiny step counts)."""

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]


def test_compare_init_runs_every_arm_and_reports_mean_and_std(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "training" / "compare_init.py"),
        "--embedded",
        "true",
        "--embedded_clips_per_class",
        "4",
        "--output_dir",
        str(tmp_path),
        "--seeds",
        "0",
        "--arms",
        "index,target,scratch",
        "--pretrain_args",
        "--max_steps 3 --reconstruction_steps 0 --save_steps 100 --disable_tqdm true",
        "--finetune_args",
        "--max_steps 2 --eval_strategy no --disable_tqdm true --test_num_segment 1 --test_num_crop 1",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "compare_init.json").read_text())
    assert set(report["arms"]) == {"index", "target", "scratch"}
    for arm in report["arms"].values():
        assert len(arm["runs"]) == 1 and arm["top1"]["std"] == 0.0 and 0 <= arm["top1"]["mean"] <= 100
    assert (tmp_path / "index-seed0" / "pretrain" / "final" / "config.json").exists()
    assert json.loads((tmp_path / "target-seed0" / "finetune" / "run_config.json").read_text())["init_from"].endswith(
        "target-seed0/pretrain/final"
    )
    assert len((tmp_path / "target_videos.txt").read_text().split()) > 0
    assert (tmp_path / "compare_init.png").read_bytes()[:4] == b"\x89PNG"
    assert "| scratch | 1 |" in (tmp_path / "compare_init.md").read_text()


def test_embedded_diagnostics_runs_every_arm_and_writes_its_json(tmp_path):
    output = tmp_path / "diagnostics.json"
    command = [
        sys.executable,
        str(ROOT / "training" / "embedded_diagnostics.py"),
        "--arms",
        "scratch,pretrained,probe,cnn",
        "--labelled",
        "2",
        "--test",
        "1",
        "--unlabeled",
        "1",
        "--size",
        "32",
        "--num-frames",
        "4",
        "--batch",
        "4",
        "--pretrain-steps",
        "3",
        "--finetune-steps",
        "2",
        "--output-json",
        str(output),
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


def _load_diagnostics():
    spec = importlib.util.spec_from_file_location("embedded_diagnostics", ROOT / "training" / "embedded_diagnostics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embedded_diagnostics_names_an_unknown_arm():
    # the script's main in this process: the exit (status 1) with this message is what the script ends in
    with pytest.raises(SystemExit, match=r"unknown \['magic'\]"):
        _load_diagnostics().main(["--arms", "scratch,magic"])


def test_embedded_diagnostics_batched_crop_matches_a_per_clip_crop_and_resize():
    diagnostics = _load_diagnostics()
    args = diagnostics.parse_args(["--size", "48", "--num-frames", "4", "--device", "cpu"])
    views = diagnostics.draw_views(args, 8, torch.Generator().manual_seed(3))
    assert views[:, 4].any() and not views[:, 4].all(), "the seed should give flipped and unflipped clips"
    frames = torch.rand(8, 4, 3, 48, 48)
    batched = diagnostics.crop_resize_flip(frames, views)
    for clip, (_, side, top, left, flip) in enumerate(views.tolist()):
        crop = frames[clip, :, :, top : top + side, left : left + side]
        expected = F.interpolate(crop.flip(-1) if flip else crop, size=(48, 48), mode="bilinear", align_corners=False)
        # the two differ only where a sampling point falls outside the crop's outermost pixel centres
        margin = 48 // side + 1
        inner = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
        torch.testing.assert_close(batched[clip][inner], expected[inner], atol=1e-5, rtol=0)


def test_embedded_diagnostics_evaluation_input_is_the_centred_window_unchanged():
    diagnostics = _load_diagnostics()
    args = diagnostics.parse_args(["--size", "16", "--num-frames", "4", "--sampling-rate", "2", "--device", "cpu"])
    clips = torch.randint(0, 256, (3, diagnostics.CLIP_FRAMES, 16, 16, 3), dtype=torch.uint8)
    start = (diagnostics.CLIP_FRAMES - 8) // 2
    expected = diagnostics.normalize_video(clips[:, start : start + 8 : 2].permute(0, 1, 4, 2, 3))
    torch.testing.assert_close(diagnostics.model_input(args, clips, None), expected)


def test_embedded_recipes_build_the_model_the_diagnostics_train():
    """The recipe pair of the embedded comparison is the diagnostics' setting (training/README.md, rows 11-12)."""
    from transformers import TrainingArguments

    from hf_tiktokactions.training.arguments import FinetuneArguments, PretrainArguments, parse_with_config
    from hf_tiktokactions.training.model_init import build_classifier
    from hf_tiktokactions.training.pretraining import build_model

    diagnostics = _load_diagnostics()
    expected = diagnostics.vit_config(diagnostics.parse_args(["--device", "cpu"]))
    pretrain_args = parse_with_config(
        PretrainArguments, ["--config", str(ROOT / "training/configs/pretrain_embedded_synthetic.yaml")], prog="x"
    )
    pretrained = build_model(pretrain_args).config
    finetune_args, _ = parse_with_config(
        (FinetuneArguments, TrainingArguments),
        ["--config", str(ROOT / "training/configs/finetune_embedded_synthetic.yaml"), "--output_dir", "unused"],
        prog="y",
    )
    scratch = build_classifier(finetune_args, [str(i) for i in range(7)], Path("unused"))[0].config
    fields = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "image_size",
        "patch_size",
        "num_frames",
        "tubelet_size",
        "drop_path_rate",
    )
    for config in (pretrained, scratch):
        assert {f: getattr(config, f) for f in fields} == {f: getattr(expected, f) for f in fields}
    decoder = (
        "decoder_hidden_size",
        "decoder_num_hidden_layers",
        "decoder_num_attention_heads",
        "decoder_intermediate_size",
        "mask_ratio",
        "norm_pix_loss",
    )
    assert {f: getattr(pretrained, f) for f in decoder} == {f: getattr(expected, f) for f in decoder}
    # 16 videos x 2 crops = the diagnostics' 32 clips a step, at its peak lr
    assert pretrain_args.per_device_train_batch_size * pretrain_args.num_sample == 32
    assert pretrain_args.base_learning_rate * pretrain_args.per_device_train_batch_size / 256 == pytest.approx(1.5e-3)


def test_an_interrupted_pretraining_of_a_study_resumes_from_its_checkpoint(tmp_path):
    from hf_tiktokactions.data.synthetic import make_synthetic_actions
    from hf_tiktokactions.training.arguments import PretrainArguments, parse_with_config
    from hf_tiktokactions.training.experiments import pretrain_once

    videos = make_synthetic_actions(tmp_path / "videos", clips_per_class=1, size=32, num_frames=16, progress=False)
    output = tmp_path / "pretrain"
    options = parse_with_config(
        PretrainArguments,
        [
            "--config",
            str(ROOT / "training/configs/pretrain_tiny_synthetic.yaml"),
            "--data",
            str(videos),
            "--output_dir",
            str(output),
            "--max_steps",
            "4",
            "--save_steps",
            "2",
            "--per_device_train_batch_size",
            "2",
            "--report_to",
            "none",
            "--reconstruction_steps",
            "0",
            "--logging_steps",
            "1",
            "--disable_tqdm",
            "true",
        ],
        prog="x",
    )
    pretrain_once(options)
    shutil.rmtree(output / "final")  # as if stopped after its last checkpoint
    steps_before = len((output / "metrics.jsonl").read_text().splitlines())
    final = pretrain_once(dataclasses.replace(options, max_steps=6))
    assert json.loads((output / "run_config.json").read_text())["resumed_from"].endswith("step-4")
    steps = [json.loads(line)["step"] for line in (output / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == steps_before + 2 and steps[-2:] == [5, 6]
    assert (Path(final) / "config.json").exists()


def test_an_interrupted_finetuning_of_a_study_resumes_from_its_checkpoint(tmp_path):
    """A study's arm stopped after a checkpoint (no results.json yet): the driver goes on from it, as it does for
    pre-training, where a plain fine-tuning run into that folder is refused (it would start over)."""
    from hf_tiktokactions.data.synthetic import make_synthetic_actions
    from hf_tiktokactions.training.experiments import ExperimentArguments, finetune_once

    target = make_synthetic_actions(tmp_path / "target", clips_per_class=4, size=32, num_frames=16, progress=False)
    args = ExperimentArguments(output_dir=str(tmp_path / "study"))
    args.finetune_args = (
        "--max_steps 4 --save_strategy steps --save_steps 2 --eval_strategy no --test_num_segment 1 "
        "--test_num_crop 1 --logging_steps 1 --disable_tqdm true"
    )
    args.finetune_data = {"dataset": "videofolder", "data_root": str(target)}
    arm = tmp_path / "study" / "scratch" / "seed0"
    finetune_once(args, arm, 0, None)
    (arm / "results.json").unlink()  # as if stopped after checkpoint-4 was saved
    shutil.rmtree(arm / "checkpoint-4")  # ... or rather after checkpoint-2
    results = finetune_once(args, arm, 0, None)
    record = json.loads((arm / "run_config.json").read_text())
    assert record["resumed_from"] == str(arm / "checkpoint-2") and results.num_videos > 0


def test_a_study_reads_an_arms_results_file_as_the_cards_do(tmp_path):
    """A finished arm's results.json was read with json.loads: a malformed one stopped the study with a JSON
    traceback, or a KeyError in the report; now the cards' reader names the file and the problem."""
    from hf_tiktokactions.errors import ConfigError
    from hf_tiktokactions.training.experiments import ExperimentArguments, finetune_once

    args = ExperimentArguments(output_dir=str(tmp_path / "study"))
    arm = tmp_path / "study" / "scratch-seed0" / "finetune"
    arm.mkdir(parents=True)
    for text, says in (('{"top1": 50', "not valid JSON"), ('{"top1": 50}', "not a valid results.json")):
        (arm / "results.json").write_text(text)
        with pytest.raises(ConfigError, match=f"^{re.escape(str(arm / 'results.json'))}: {says}"):
            finetune_once(args, arm, 0, None)


def test_the_drivers_refuse_a_launcher_before_writing_anything(tmp_path, monkeypatch):
    """Under accelerate launch / torchrun every rank ran the whole study: each made the embedded sets and wrote the
    reports into the same folder. Refused by name (WORLD_SIZE), before anything is written."""
    from hf_tiktokactions.errors import ConfigError
    from hf_tiktokactions.training.experiments import CompareArguments, ScalingArguments, compare_init, scaling_study

    monkeypatch.setenv("WORLD_SIZE", "2")
    for driver, arguments, step in (
        (compare_init, CompareArguments, "compare-init"),
        (scaling_study, ScalingArguments, "scaling-study"),
    ):
        output = tmp_path / step
        with pytest.raises(ConfigError, match=rf"{step} runs under a launcher of 2 processes \(WORLD_SIZE\)"):
            driver(arguments(output_dir=str(output), embedded=True))
        assert not output.exists()
