"""Pre-training under ``accelerate launch`` on the embedded synthetic set: two ranks, exact resume, divergence stop,
loss going down, data selection, reconstructions."""

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hf_tiktokactions import VideoMAEv2ForPreTraining
from hf_tiktokactions.cli import run_step
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.training.arguments import PretrainArguments, parse_with_config
from hf_tiktokactions.training.checkpointing import completed_checkpoints, resolve_resume
from hf_tiktokactions.training.divergence import MAX_SANE_WEIGHT
from hf_tiktokactions.training.pretrain_data import resolve_videos, streaming_rows
from hf_tiktokactions.training.pretraining import build_model
from hf_tiktokactions.training.reconstructions import reconstruction_grid
from hf_tiktokactions.training.schedules import cosine_with_warmup

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "training" / "pretrain.py"
RECIPE = ROOT / "training" / "configs" / "pretrain_tiny_synthetic.yaml"
TWO_CPU_PROCESSES = ROOT / "training" / "accelerate_configs" / "cpu_two_processes.yaml"
QUICK = ["--report_to", "none", "--disable_tqdm", "true", "--dataloader_num_workers", "0"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """28 real H.264 clips (7 actions x 4), 64x64, 16 frames."""
    return make_synthetic_actions(
        tmp_path_factory.mktemp("synthetic"), clips_per_class=4, size=64, num_frames=16, progress=False
    )


def run_pretrain(*args, timeout=600) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )


def pretrain_here(capfd, *args) -> subprocess.CompletedProcess:
    """What :func:`run_pretrain` runs (training/pretrain.py's ``run_step``), in this process, on one thread as the
    subprocess computes: for runs where a fresh process is not the point, without its ~6 s of imports. Its exit status
    and output as a subprocess's (``capfd`` collects them)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = run_step("pretrain", [str(arg) for arg in args], prog="training/pretrain.py")
    finally:
        torch.set_num_threads(threads)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def read_metrics(output: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, (output / "metrics.jsonl").read_text().splitlines())}


@pytest.mark.distributed
def test_two_cpu_ranks_train_the_same_model(synthetic, tmp_path):
    """Two ranks under accelerate launch hold the same model at the end; the undecodable videos both ranks passed
    over are named, with the reason, in summary.json (more than the main process alone drew). Launched as the
    ``hf-tiktokactions pretrain`` subcommand (``-m hf_tiktokactions``, dashed options, a recipe by its bare name);
    tests/test_training_fsdp.py launches training/pretrain.py on two ranks."""
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    for number in range(14):
        (data / f"broken-{number:02d}.mp4").write_text("not a video")
    command = [str(Path(sys.executable).parent / "accelerate"), "launch", "--config_file", str(TWO_CPU_PROCESSES)]
    command += ["-m", "hf_tiktokactions", "pretrain", "--config", RECIPE.name, "--data", str(data)]
    command += ["--output-dir", str(tmp_path / "run"), "--max-steps", "4", "--per-device-train-batch-size", "2"]
    command += ["--save-steps", "2", "--reconstruction-steps", "2", "--logging-steps", "1", "--report-to", "none"]
    command += ["--disable-tqdm", "--dataloader-num-workers", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["num_processes"] == 2
    digests = summary["rank_parameter_digests"]
    assert len(digests) == 2 and digests[0] == digests[1], "both ranks must hold the same model"
    assert summary["steps"] == 4
    skipped = summary["skipped_training_videos"]["videos"]
    assert skipped and all(Path(item["video"]).name.startswith("broken-") for item in skipped)
    assert all("broken-" in item["reason"] for item in skipped)  # the decoder's reason names the file
    assert len(skipped) > summary["skipped_videos_on_main_process"] > 0  # the other rank's too
    assert summary["skipped_training_videos"]["count"] > summary["skipped_videos_on_main_process"]
    assert [p.name for p in completed_checkpoints(run)] == ["step-2", "step-4"]
    assert (run / "reconstructions" / "step-4.png").exists()
    model = VideoMAEv2ForPreTraining.from_pretrained(run / "final")
    assert model.config.num_frames == 4 and model.config.image_size == 32


@pytest.mark.parametrize("workers", [0, 1], ids=["no-workers", "persistent-worker"])
def test_resume_after_kill_continues_exactly(synthetic, tmp_path, workers, capfd):
    """Killed after step 4 of 12 (7 steps an epoch), resumed: the same loss at every step, drop path included (it
    draws from torch's CPU stream, as the loader does when it starts an iterator: with persistent workers only the
    first time, without them at every epoch). The undecodable videos passed over are the uninterrupted run's too,
    those of the steps before the checkpoint included."""
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    for number in range(3):
        (data / f"broken-{number}.mp4").write_text("not a video")
    common = [
        "--config",
        RECIPE,
        "--data",
        data,
        "--max_steps",
        12,
        "--logging_steps",
        1,
        "--reconstruction_steps",
        0,
        "--per_device_train_batch_size",
        4,
        "--drop_path_rate",
        0.1,
        *QUICK,
        "--dataloader_num_workers",
        workers,
    ]
    straight = tmp_path / "straight"
    assert pretrain_here(capfd, *common, "--output_dir", straight, "--save_steps", 100).returncode == 0
    expected = read_metrics(straight)
    assert sorted(expected) == list(range(1, 13))

    interrupted = tmp_path / "interrupted"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), *map(str, common), "--output_dir", str(interrupted), "--save_steps", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (interrupted / "checkpoints" / "step-4").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (interrupted / "summary.json").exists(), "the run finished before it could be killed"
    saved = json.loads((completed_checkpoints(interrupted)[-1] / "training_state.json").read_text())["progress"]
    assert saved["seconds"] > 0  # the training time so far, which the resumed run's clock goes on from
    # the same command again, without --resume, would start from step 0 and overwrite step-4: refused, at once
    again = pretrain_here(capfd, *common, "--output_dir", interrupted, "--save_steps", 4)
    assert again.returncode == 2 and "pass --resume latest" in again.stderr and "Traceback" not in again.stderr
    assert completed_checkpoints(interrupted)[-1].name == "step-4"
    result = run_pretrain(*common, "--output_dir", interrupted, "--save_steps", 4, "--resume", "latest")
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = read_metrics(interrupted)
    assert sorted(resumed) == list(range(1, 13))
    for step in range(1, 13):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-6), step
    record = json.loads((interrupted / "run_config.json").read_text())
    assert record["resumed_from"] is not None and record["earlier_segments"][0]["args"]["save_steps"] == 4
    assert "resuming with other options" not in result.stderr  # the same options
    summary = json.loads((interrupted / "summary.json").read_text())
    assert summary["seconds"] > saved["seconds"]
    skipped = json.loads((straight / "summary.json").read_text())["skipped_training_videos"]
    assert skipped["count"] > 0 and summary["skipped_training_videos"] == skipped
    assert 0 < saved["skipped_videos"]["count"] < skipped["count"]  # the steps before the checkpoint had some


def test_normalising_on_the_device_trains_exactly_like_normalising_in_the_workers(synthetic, tmp_path, capfd):
    common = [
        "--config",
        RECIPE,
        "--data",
        synthetic,
        "--max_steps",
        4,
        "--logging_steps",
        1,
        "--save_steps",
        100,
        "--reconstruction_steps",
        0,
        "--per_device_train_batch_size",
        4,
        *QUICK,
    ]
    losses = {}
    for on_device in ("false", "true"):
        output = tmp_path / on_device
        result = pretrain_here(capfd, *common, "--output_dir", output, "--normalize_on_device", on_device)
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads((output / "summary.json").read_text())
        losses[on_device] = (read_metrics(output), summary["preview_loss_start"])
        assert json.loads((output / "run_config.json").read_text())["args"]["normalize_on_device"] is (
            on_device == "true"
        )
    (in_workers, preview_workers), (on_device, preview_device) = losses["false"], losses["true"]
    assert sorted(in_workers) == sorted(on_device) == [1, 2, 3, 4]
    for step in in_workers:
        assert on_device[step] == pytest.approx(in_workers[step], rel=1e-5), step
    assert preview_device == pytest.approx(preview_workers, rel=1e-5)


def test_tiny_recipe_loss_goes_down(synthetic, tmp_path, capfd):
    result = pretrain_here(
        capfd,
        "--config",
        RECIPE,
        "--data",
        synthetic,
        "--output_dir",
        tmp_path,
        "--max_steps",
        300,
        "--save_steps",
        300,
        "--reconstruction_steps",
        300,
        *QUICK,
        "--report_to",
        "tensorboard",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    start, end = summary["preview_loss_start"], summary["preview_loss_end"]
    # The same 8 clips and masks before and after: an untrained or broken model stays near 1.1 (the
    # per-patch normalised targets of noisy backgrounds keep even a good tiny model above ~0.7).
    assert start > 1.0 and end < 0.8 * start and end < 0.9, (start, end)
    assert (tmp_path / "reconstructions" / "step-300.png").exists()
    assert any((tmp_path / "logs").rglob("events.out.tfevents*"))


def _largest_weight(checkpoint: Path) -> float:
    return max(t.abs().max().item() for t in load_file(checkpoint / "model.safetensors").values())


def test_divergence_stops_and_only_finite_sane_checkpoints_are_kept(synthetic, tmp_path, capfd):
    common = ["--config", RECIPE, "--data", synthetic, "--max_steps", 50, "--save_steps", 1, "--logging_steps", 1]
    common += QUICK
    # A huge lr reached after a warm-up: a few steps are saved, then the loss or the gradient is not finite.
    ramp = tmp_path / "ramp"
    result = pretrain_here(capfd, *common, "--output_dir", ramp, "--warmup_steps", 10, "--base_learning_rate", 1e5)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "non-finite loss or gradient" in result.stderr and "Traceback" not in result.stderr
    saved = completed_checkpoints(ramp)
    assert saved and f"last good checkpoint is {saved[-1]}" in result.stderr
    for checkpoint in saved:
        assert _largest_weight(checkpoint) < MAX_SANE_WEIGHT, checkpoint
    # The checkpoint of the weights that gave the non-finite loss is set aside, not resumed.
    assert list((ramp / "checkpoints").glob("*.diverged"))
    # An absurd lr from the first step: the weights run away (1e10) while the loss is still finite; not saved.
    absurd = tmp_path / "absurd"
    result = pretrain_here(capfd, *common, "--output_dir", absurd, "--warmup_steps", 0, "--base_learning_rate", 1e12)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the weights reach" in result.stderr and "No checkpoint was saved" in result.stderr
    assert completed_checkpoints(absurd) == []
    for output in (ramp, absurd):
        for line in (output / "metrics.jsonl").read_text().splitlines():
            json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in metrics.jsonl"))


def test_accumulating_two_batches_equals_one_batch_twice_as_large(synthetic, tmp_path, capfd):
    # Decoder mask ratio 0: every clip has the same number of loss tokens, so the mean of the two micro-batch
    # losses is the loss of the whole batch (with the V2 decoder mask it is the mean over micro-batches, as DDP's
    # mean over ranks). No dropout or drop path in the tiny recipe.
    common = ["--config", RECIPE, "--data", synthetic, "--max_steps", 4, "--logging_steps", 1, "--save_steps", 100]
    common += ["--reconstruction_steps", 0, "--decoder_mask_ratio", 0, *QUICK]
    runs = {"accumulated": (4, 2), "large": (8, 1)}
    for name, (batch, accumulation) in runs.items():
        result = pretrain_here(
            capfd,
            *common,
            "--output_dir",
            tmp_path / name,
            "--per_device_train_batch_size",
            batch,
            "--gradient_accumulation_steps",
            accumulation,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    records = {
        name: [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        for name in runs
    }
    assert [r["step"] for r in records["accumulated"]] == [1, 2, 3, 4]
    for accumulated, large in zip(records["accumulated"], records["large"]):
        assert accumulated["lr"] == large["lr"]  # lr scaled by the total batch, schedule in optimizer steps
        assert accumulated["loss"] == pytest.approx(large["loss"], rel=1e-5)
        assert accumulated["grad_norm"] == pytest.approx(large["grad_norm"], rel=1e-5)
    accumulated = load_file(tmp_path / "accumulated" / "final" / "model.safetensors")
    large = load_file(tmp_path / "large" / "final" / "model.safetensors")
    for name, value in large.items():
        assert torch.allclose(accumulated[name], value, atol=1e-6), name


def test_resume_with_accumulation_falls_back_from_a_truncated_checkpoint(synthetic, tmp_path, capfd):
    # 28 videos, 4 per micro-batch, 2 micro-batches a step: 3 steps an epoch, the 7th micro-batch left out.
    common = ["--config", RECIPE, "--data", synthetic, "--max_steps", 6, "--logging_steps", 1, "--save_steps", 1]
    common += ["--save_total_limit", 10, "--reconstruction_steps", 0, "--per_device_train_batch_size", 4]
    common += ["--gradient_accumulation_steps", 2, *QUICK]
    straight = tmp_path / "straight"
    assert pretrain_here(capfd, *common, "--output_dir", straight).returncode == 0
    expected = read_metrics(straight)
    assert json.loads((straight / "summary.json").read_text())["epochs_completed"] == 2

    # A run stopped after step 4, whose newest checkpoint lost the end of its random states.
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    for step in (3, 4):
        shutil.copytree(straight / "checkpoints" / f"step-{step}", resumed / "checkpoints" / f"step-{step}")
    kept = [line for line in (straight / "metrics.jsonl").read_text().splitlines() if json.loads(line)["step"] <= 4]
    (resumed / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    rng = resumed / "checkpoints" / "step-4" / "rng_state_0.json"
    rng.write_bytes(rng.read_bytes()[:100])

    result = pretrain_here(capfd, *common, "--output_dir", resumed, "--resume", "latest")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning: checkpoint" in result.stderr and "rng_state_0.json" in result.stderr
    assert json.loads((resumed / "run_config.json").read_text())["resumed_from"].endswith("step-3")
    # Step 3 ended epoch 0 with one micro-batch left over: the resume skips it as the straight run did.
    got = read_metrics(resumed)
    assert sorted(got) == list(range(1, 7))
    for step in range(4, 7):
        assert got[step] == expected[step], step


class _Payload:
    """Pickled, it becomes a call that creates ``marker`` when unpickled without restrictions."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payload_pickle(path: Path, marker: Path) -> None:
    """A torch-format file that runs a payload when loaded with ``weights_only=False`` (what an attacker ships)."""
    torch.save({"state": _Payload(marker)}, path)


def test_resume_never_runs_code_from_the_checkpoint_folder(synthetic, tmp_path, capfd):
    common = ["--config", RECIPE, "--data", synthetic, "--max_steps", 2, "--save_steps", 1, "--reconstruction_steps"]
    common += [0, "--per_device_train_batch_size", 4, *QUICK, "--output_dir", tmp_path / "run"]
    assert pretrain_here(capfd, *common).returncode == 0
    checkpoints = tmp_path / "run" / "checkpoints"
    marker = tmp_path / "pwned"

    # Accelerate's custom and RNG state pickles (read with weights_only=False / by Accelerate) planted in the newest
    # checkpoint: it is refused as foreign, the run resumes from the previous one and ends normally.
    for name in ("custom_checkpoint_0.pkl", "random_states_0.pkl"):
        _payload_pickle(checkpoints / "step-2" / name, marker)
    result = pretrain_here(capfd, *common, "--max_steps", 3, "--resume", "latest")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "custom_checkpoint_0.pkl" in result.stderr and "resuming from step-1" in result.stderr
    assert not marker.exists()

    # The optimizer state replaced, training_state.json rewritten to match (the attacker ships the whole folder):
    # loaded as tensors only, refused in one line.
    target = checkpoints / "step-3"
    _payload_pickle(target / "optimizer.bin", marker)
    state = json.loads((target / "training_state.json").read_text())
    state["files"]["optimizer.bin"] = (target / "optimizer.bin").stat().st_size
    (target / "training_state.json").write_text(json.dumps(state))
    result = pretrain_here(capfd, *common, "--max_steps", 4, "--resume", target)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "objects other than tensors" in result.stderr and "weights_only=False" not in result.stderr
    assert not marker.exists()


def test_help_lists_the_options_and_bad_options_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_with_config(PretrainArguments, ["--help"], prog="training/pretrain.py")
    help_text = capsys.readouterr().out
    for option in (
        "--config",
        "--data",
        "--output_dir",
        "--max_steps",
        "--save_steps",
        "--resume",
        "--seed",
        "--per_device_train_batch_size",
        "--init_from",
        "--max_videos",
        "--subset_seed",
    ):
        assert option in help_text
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_preset: vit-tiny\nlearning_rat: 1\n")
    with pytest.raises(ConfigError, match="unknown option\\(s\\) learning_rat"):
        parse_with_config(PretrainArguments, ["--config", str(bad)], prog="x")
    with pytest.raises(ConfigError, match="no --data given"):
        resolve_videos(parse_with_config(PretrainArguments, ["--config", str(RECIPE)], prog="x").data)
    with pytest.raises(ConfigError, match="does not exist"):
        parse_with_config(PretrainArguments, ["--config", str(tmp_path / "missing.yaml")], prog="x")


def test_save_steps_0_saves_only_at_the_end(synthetic, tmp_path, capfd):
    # as --reconstruction_steps 0 logs none: no checkpoint during the run, the last one and the final model at the end
    # (it divided by zero after the first step)
    common = ["--config", RECIPE, "--data", synthetic, "--max_steps", 3, "--reconstruction_steps", 0, *QUICK]
    result = pretrain_here(
        capfd, *common, "--output_dir", tmp_path, "--save_steps", 0, "--per_device_train_batch_size", 4
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [checkpoint.name for checkpoint in completed_checkpoints(tmp_path)] == ["step-3"]
    assert (tmp_path / "final" / "model.safetensors").exists()
    with pytest.raises(SystemExit):
        parse_with_config(PretrainArguments, ["--help"], prog="training/pretrain.py")
    assert "every N optimizer steps (0 = only at the end, with the final model)" in " ".join(
        capfd.readouterr().out.split()
    )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("save_steps", -1, "--save_steps must be 0 or a number of steps, got -1"),
        ("reconstruction_steps", -500, "--reconstruction_steps must be 0 or a number of steps, got -500"),
        ("logging_steps", 0, "--logging_steps must be at least 1 (a number of steps), got 0"),
    ],
)
def test_intervals_that_mean_nothing_are_refused_by_name(option, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_with_config(PretrainArguments, ["--config", str(RECIPE), f"--{option}", str(value)], prog="x")


def test_yaml_then_cli_overrides():
    args = parse_with_config(PretrainArguments, ["--config", str(RECIPE), "--max_steps", "7"], prog="x")
    assert args.model_preset == "vit-tiny" and args.max_steps == 7 and args.input_size == 32


def test_index_filters_and_reproducible_subsets(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = {
        "video_id": [f"v{i}" for i in range(10)],
        "clip_path": [f"{clips}/v{i}.mp4" if i != 3 else None for i in range(10)],
        "status": ["pass"] * 3 + ["rejected"] + ["pass"] * 4 + ["review"] * 2,
        "hashtag": ["salsa", "tango"] * 5,
    }
    for path in filter(None, rows["clip_path"]):
        Path(path).touch()  # only their paths are read here
    datasets.Dataset.from_dict(rows).save_to_disk(tmp_path / "index")
    index = str(tmp_path / "index")
    assert resolve_videos(index) == [f"{clips}/v{i}.mp4" for i in (0, 1, 2, 4, 5, 6, 7)]
    assert len(resolve_videos(index, only_passed=False)) == 9
    assert resolve_videos(index, hashtags="#Tango") == [f"{clips}/v{i}.mp4" for i in (1, 5, 7)]
    subset = resolve_videos(index, max_videos=4, subset_seed=1)
    assert len(subset) == 4 and subset == resolve_videos(index, max_videos=4, subset_seed=1)
    assert subset != resolve_videos(index, max_videos=4, subset_seed=2)
    listing = tmp_path / "videos.txt"
    listing.write_text("# my clips\na.mp4\n/abs/b.mp4\n")
    with pytest.raises(ConfigError, match=r"none of the first 2 files it lists exists \('.*/a.mp4', \.\.\.\)"):
        resolve_videos(str(listing))
    (tmp_path / "a.mp4").touch()
    assert resolve_videos(str(listing)) == [str(tmp_path / "a.mp4"), "/abs/b.mp4"]
    with pytest.raises(ConfigError, match="--hashtags filters a curation index"):
        resolve_videos(str(listing), hashtags="salsa")
    with pytest.raises(ConfigError, match="could not be loaded from the Hub"):
        resolve_videos("some-org/not-here")
    shutil.rmtree(clips)  # an index whose clips moved: one error, not a warning a video
    with pytest.raises(ConfigError, match=r"none of the first 7 'clip_path' .* moved or deleted, or the index was"):
        resolve_videos(index)


@pytest.mark.parametrize("hostile", ["../outside.mp4", "clips/../../outside.mp4", "ABSOLUTE"])
def test_a_published_index_cannot_name_files_outside_its_folder(tmp_path, hostile):
    """A published index (a folder of parquet shards as the Hub serves it) names its clips relative to its folder; a
    row whose clip_path was absolute or climbed out with '..' was read as a video (any file of this machine), as long
    as one of the first 20 rows named an existing file."""
    from hf_tiktokactions.curation.publish import card_metadata, write_shards

    data, outside = tmp_path / "published", tmp_path / "outside.mp4"
    (data / "clips").mkdir(parents=True)
    paths = [f"clips/v{i}.mp4" for i in range(25)] + [str(outside) if hostile == "ABSOLUTE" else hostile]
    for path in [outside, *(data / p for p in paths[:25])]:
        path.touch()  # only their paths are read here
    table = datasets.Dataset.from_dict({"clip_path": paths})
    write_shards(table, data, embed_clips=False)
    (data / "README.md").write_text(card_metadata("---\n---\n", table), encoding="utf-8")  # streaming reads its count
    for read in (resolve_videos, lambda data: streaming_rows(data, rank=0, num_processes=1)):
        with pytest.raises(ConfigError, match=r"^--data .*published: the 'clip_path' value '.*outside.mp4' .*outsid"):
            read(str(data))


def test_init_from_continues_from_an_earlier_model(tmp_path):
    args = PretrainArguments(model_preset="vit-tiny", num_frames=4, input_size=32, data="unused")
    first = build_model(args)
    first.save_pretrained(tmp_path / "final")
    again = build_model(
        PretrainArguments(model_preset="vit-b", num_frames=4, input_size=32, init_from=str(tmp_path / "final"))
    )
    assert again.config.hidden_size == 64
    for name, value in first.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name


def test_cosine_schedule_shape():
    values = [cosine_with_warmup(s, 100, 1.0, 0.1, warmup_steps=10, warmup_start=0.0) for s in range(100)]
    assert values[0] == 0.0 and values[9] == pytest.approx(1.0) and values[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[10:], values[11:]))
    assert values[-1] == pytest.approx(0.1, abs=1e-3)


def test_partial_checkpoints_are_never_resumed(tmp_path):
    (tmp_path / "checkpoints" / "step-4").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step-4" / "training_state.json").write_text(
        json.dumps({"format": 1, "progress": {"step": 4}, "num_processes": 0, "files": {}})
    )
    (tmp_path / "checkpoints" / "step-8.partial").mkdir()
    assert resolve_resume("latest", tmp_path).name == "step-4"
    (tmp_path / "checkpoints" / "step-6").mkdir()  # finished name, but no training_state.json
    assert resolve_resume("latest", tmp_path).name == "step-4"
    with pytest.raises(Exception, match="incomplete: no training_state.json"):
        resolve_resume(str(tmp_path / "checkpoints" / "step-6"), tmp_path)
    with pytest.raises(Exception, match="not a finished checkpoint"):
        resolve_resume(str(tmp_path / "checkpoints" / "step-8.partial"), tmp_path)
    with pytest.raises(
        Exception, match=r"holds checkpoints of an earlier run \(newest: step-6\): pass --resume latest"
    ):
        resolve_resume(None, tmp_path)  # a run without --resume would overwrite them
    shutil.rmtree(tmp_path / "checkpoints")
    assert resolve_resume("latest", tmp_path) is None and resolve_resume(None, tmp_path) is None


def test_reconstruction_grid_shows_visible_patches_unchanged():
    model = build_model(PretrainArguments(model_preset="vit-tiny", num_frames=4, input_size=32))
    encoder, decoder = model.draw_masks(1, torch.Generator().manual_seed(0))
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    grid = reconstruction_grid(model, pixel_values, encoder, decoder)
    assert grid.shape == (3 * 32, 4 * 32, 3) and grid.dtype == np.uint8
    original, masked = grid[:32].astype(int), grid[32:64].astype(int)
    visible_pixels = masked != 128  # grey where hidden
    assert visible_pixels.any() and (np.abs(original - masked)[visible_pixels] <= 1).all()


def _write_state(folder: Path) -> None:
    """training_state.json as save_checkpoint writes it, recording the folder's files as they are now."""
    files = {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    files.pop("training_state.json", None)
    state = {"format": 1, "progress": {"step": 1}, "num_processes": 1, "files": files}
    (folder / "training_state.json").write_text(json.dumps(state))


def test_sharded_checkpoint_metadata_is_read_only_when_it_holds_plain_metadata(tmp_path):
    import torch.distributed.checkpoint as dcp

    from hf_tiktokactions.training.checkpointing import rng_state_json

    folder = tmp_path / "checkpoints" / "step-1"
    folder.mkdir(parents=True)
    (folder / "rng_state_0.json").write_text(json.dumps(rng_state_json()))
    # The layout FSDP's SHARDED_STATE_DICT gives: a torch.distributed.checkpoint folder with a pickled .metadata.
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)).to(torch.bfloat16)
    with pytest.warns(UserWarning):  # no process group: dcp saves as a single process
        dcp.save({"model": model.state_dict()}, checkpoint_id=folder / "pytorch_model_fsdp_0")
    _write_state(folder)
    assert resolve_resume("latest", tmp_path) == folder

    marker = tmp_path / "pwned"
    (folder / "pytorch_model_fsdp_0" / ".metadata").write_bytes(pickle.dumps(_Payload(marker)))
    _write_state(folder)
    with pytest.raises(Exception, match=r"\.metadata in pytorch_model_fsdp_0 is not plain .*posix.system"):
        resolve_resume("latest", tmp_path)
    assert not marker.exists()


def test_a_resume_with_other_options_is_warned_about_and_keeps_the_earlier_record(tmp_path, caplog):
    """--resume latest with another batch or mask ratio went on silently and run_config.json described only the
    last part of the run; other logging is no change to what is trained, a longer run is told apart (its lr
    schedule is stretched from the resumed step on)."""
    from hf_tiktokactions.training.pretraining import _BOOKKEEPING_OPTIONS, _recorded_options
    from hf_tiktokactions.training.resumed_runs import earlier_segments

    earlier = {"job": "pretrain", "args": {"mask_ratio": 0.9, "max_steps": 10, "logging_steps": 1}}
    (tmp_path / "run_config.json").write_text(json.dumps(earlier))
    now = {"job": "pretrain", "args": {"mask_ratio": 0.75, "max_steps": 20, "logging_steps": 5}}
    with caplog.at_level("WARNING"):
        segments = earlier_segments(
            tmp_path, now, _recorded_options, _BOOKKEEPING_OPTIONS, announce=True, length=("max_steps",)
        )
    assert segments == [earlier]
    other, longer = [record.getMessage() for record in caplog.records]
    assert "(mask_ratio 0.9 -> 0.75)" in other
    assert "another length (max_steps 10 -> 20)" in longer and "logging_steps" not in caplog.text


def test_a_resume_with_another_number_of_processes_goes_on_after_the_videos_already_taken(tmp_path, caplog):
    """A checkpoint counts the batches of one process: saved by 2 processes of 2 videos after 4 steps (16 videos of
    the epoch taken), a resume on 1 process with 2 accumulation steps (the same total batch) read "4 batches" as 8
    videos, trained 8 of them again and made that epoch 2 steps longer. The place is kept in videos and expressed in
    the resumed run's batches; a change in the number of processes is named."""
    from hf_tiktokactions.training.checkpointing import TrainingProgress
    from hf_tiktokactions.training.pretraining import _BOOKKEEPING_OPTIONS, _recorded_options, place_in_epoch
    from hf_tiktokactions.training.resumed_runs import earlier_segments

    saved = TrainingProgress(step=4, epoch=0, batches_in_epoch=4, videos_in_epoch=16)
    place_in_epoch(saved, round_videos=2, accumulation=2)
    assert saved.batches_in_epoch == 8 and saved.step == 4
    same = TrainingProgress(step=4, batches_in_epoch=4, videos_in_epoch=16)
    place_in_epoch(same, round_videos=4, accumulation=1)  # the run that saved it
    assert same.batches_in_epoch == 4
    older = TrainingProgress(step=4, batches_in_epoch=4)  # saved before checkpoints kept the videos
    place_in_epoch(older, round_videos=2, accumulation=2)
    assert older.batches_in_epoch == 4
    with caplog.at_level("WARNING"):
        uneven = TrainingProgress(step=3, batches_in_epoch=3, videos_in_epoch=12)
        place_in_epoch(uneven, round_videos=8, accumulation=1)  # steps of 8 videos: the next one after 12 is at 16
    assert uneven.batches_in_epoch == 2 and "4 videos of that epoch left out" in caplog.text

    caplog.clear()
    earlier = {"job": "pretrain", "num_processes": 2, "args": {"per_device_train_batch_size": 2}}
    (tmp_path / "run_config.json").write_text(json.dumps(earlier))
    now = {"job": "pretrain", "num_processes": 1, "args": {"per_device_train_batch_size": 2}}
    with caplog.at_level("WARNING"):
        earlier_segments(tmp_path, now, _recorded_options, _BOOKKEEPING_OPTIONS, announce=True)
    assert "num_processes 2 -> 1" in caplog.text


def test_a_streamed_resume_goes_on_with_the_workers_rows_and_another_batch_does_not_crash(tmp_path, capfd, monkeypatch):
    """--streaming, 2 loader workers (persistent) over 3 shards, a checkpoint 3 batches of 2 into the epoch (worker 0
    had taken 4 items, worker 1 2): the resume passes over those rows and trains step 4 on the uninterrupted run's
    clips. Resumed with 1 video a device x 2 accumulation (the same step) the placeholders were batched in ones, out
    of the loader's turn between workers: the 7th batch was worker 0's 5th placeholder, and the model was called
    with passed_over=1 (TypeError). Such a resume decodes the consumed batches again instead."""
    from video_files import write_test_video

    from hf_tiktokactions.curation.publish import card_metadata, write_shards

    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)  # 5 s at each stream's end
    data = tmp_path / "published"
    (data / "clips").mkdir(parents=True)
    for i in range(12):
        write_test_video(data / "clips" / f"v{i}.mp4", 8, 32, 32, pattern="motion", seed=i)
    table = datasets.Dataset.from_dict({"clip_path": [f"clips/v{i}.mp4" for i in range(12)]})
    write_shards(table, data, embed_clips=False, num_shards=3)
    (data / "README.md").write_text(card_metadata("---\n---\n", table), encoding="utf-8")
    common = ["--config", RECIPE, "--data", data, "--streaming", "true", "--decode_backend", "pyav"]
    common += ["--num_sample", 1, "--logging_steps", 1, "--reconstruction_steps", 0, "--save_total_limit", 10]
    common += [*QUICK, "--dataloader_num_workers", 2, "--max_steps", 4, "--save_steps", 3]
    straight = tmp_path / "straight"
    result = pretrain_here(capfd, *common, "--output_dir", straight, "--per_device_train_batch_size", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, batch, accumulation in (("same", 2, 1), ("other", 1, 2)):
        shutil.copytree(straight, tmp_path / name, ignore=shutil.ignore_patterns("step-4", "final"))
        result = pretrain_here(
            capfd,
            *common,
            "--output_dir",
            tmp_path / name,
            "--resume",
            "latest",
            "--per_device_train_batch_size",
            batch,
            "--gradient_accumulation_steps",
            accumulation,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert read_metrics(tmp_path / "same")[4] == read_metrics(straight)[4]
