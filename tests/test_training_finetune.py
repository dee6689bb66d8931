"""Fine-tuning with the real Trainer on the tiny model and a tiny synthetic set: the optimizer groups, every
initialisation, the results files, the CLI, and two CPU ranks under torchrun."""

import functools
import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_modeling_conversion import official_finetuned_checkpoint, official_pretraining_checkpoint
from transformers import TrainingArguments

from hf_tiktokactions import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from hf_tiktokactions.data.finetune_dataset import collate_clips
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.data.transforms import normalize_video
from hf_tiktokactions.errors import CheckpointError, ConfigError, OutputStateError
from hf_tiktokactions.training.arguments import FinetuneArguments, parse_with_config
from hf_tiktokactions.training.divergence import TrainingDiverged
from hf_tiktokactions.training.evaluation import MultiViewPredictions, multiview_metrics
from hf_tiktokactions.training.finetuning import (
    StopOnDivergence,
    VideoClassificationTrainer,
    finetune,
    smooth_targets,
)
from hf_tiktokactions.training.model_init import build_classifier
from hf_tiktokactions.training.optim import layer_decay_groups, layer_id
from hf_tiktokactions.training.results import RESULT_KEYS, write_test_results

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "training" / "finetune.py"
RECIPE = ROOT / "training" / "configs" / "finetune_tiny_synthetic.yaml"
CLASSES = ["clap", "jump", "kick", "sit_down", "spin", "stand_up", "wave"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return make_synthetic_actions(
        tmp_path_factory.mktemp("synthetic"), clips_per_class=4, size=64, num_frames=16, progress=False
    )


def parse(data_root, output_dir, *overrides) -> tuple[FinetuneArguments, TrainingArguments]:
    argv = [
        "--config",
        str(RECIPE),
        "--data_root",
        str(data_root),
        "--output_dir",
        str(output_dir),
        "--disable_tqdm",
        "true",
        *map(str, overrides),
    ]
    return parse_with_config((FinetuneArguments, TrainingArguments), argv, prog="test")


def tiny_classifier(num_labels: int = 7) -> VideoMAEv2ForVideoClassification:
    return VideoMAEv2ForVideoClassification(
        VideoMAEv2Config.from_preset("vit-tiny", num_labels=num_labels, num_frames=4, image_size=32)
    )


def test_layer_decay_scales_and_no_decay_on_norms_and_biases():
    model = tiny_classifier()
    depth = model.config.num_hidden_layers
    assert layer_id("encoder.patch_embed.proj.weight", depth) == 0
    assert layer_id("encoder.blocks.0.attn.qkv.weight", depth) == 1
    assert layer_id(f"encoder.blocks.{depth - 1}.mlp.fc2.bias", depth) == depth
    assert layer_id("head.weight", depth) == layer_id("fc_norm.weight", depth) == depth + 1
    groups = layer_decay_groups(model, weight_decay=0.05, layer_decay=0.5, num_layers=depth)
    by_param = {id(p): g for g in groups for p in g["params"]}
    for name, param in model.named_parameters():
        group = by_param[id(param)]
        expected = 0.5 ** (depth + 1 - layer_id(name, depth))
        assert group["lr_scale"] == pytest.approx(expected), name
        no_decay = name.endswith(".bias") or "norm" in name or "q_bias" in name or "v_bias" in name
        assert group["weight_decay"] == (0.0 if no_decay else 0.05), name
    assert by_param[id(model.encoder.patch_embed.proj.weight)]["lr_scale"] == pytest.approx(0.5 ** (depth + 1))
    assert by_param[id(model.encoder.blocks[0].attn.qkv.weight)]["lr_scale"] == pytest.approx(0.5**depth)
    assert by_param[id(model.head.weight)]["lr_scale"] == 1.0
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_layer_decay_of_a_compiled_model_is_the_official_one():
    """Trainer builds the optimizer from the torch.compile'd model under FSDP with --torch_compile: its names start
    with ``_orig_mod.``. The official rule (optim_factory.get_num_layer_for_vit, LayerDecayValueAssigner) restated:
    patch embedding 0, block i -> i + 1, the rest L + 1; scale decay ** (L + 1 - layer)."""
    model = tiny_classifier()
    depth = model.config.num_hidden_layers

    def official_scale(name: str) -> float:
        name = name.removeprefix("encoder.")
        layer = 0 if name.startswith("patch_embed") else depth + 1
        if name.startswith("blocks."):
            layer = int(name.split(".")[1]) + 1
        return 0.75 ** (depth + 1 - layer)

    groups = layer_decay_groups(torch.compile(model), weight_decay=0.05, layer_decay=0.75, num_layers=depth)
    by_param = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    for name, param in model.named_parameters():
        assert by_param[id(param)] == pytest.approx(official_scale(name)), name


def test_trainer_optimizer_and_schedule_follow_the_recipe(tmp_path):
    model = tiny_classifier()
    args = TrainingArguments(
        output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.05, warmup_steps=2, use_cpu=True, report_to=[]
    )
    trainer = VideoClassificationTrainer(
        model=model, args=args, layer_decay=0.75, min_lr_ratio=0.01, warmup_start_ratio=0.0
    )
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    depth = model.config.num_hidden_layers
    head_group = next(g for g in trainer.optimizer.param_groups if any(p is model.head.weight for p in g["params"]))
    embed_group = next(
        g
        for g in trainer.optimizer.param_groups
        if any(p is model.encoder.patch_embed.proj.weight for p in g["params"])
    )
    assert head_group["lr"] == pytest.approx(0.0)  # warm-up starts at warmup_start_ratio x peak
    rates = []
    for _ in range(10):
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
        rates.append((head_group["lr"], embed_group["lr"]))
    assert rates[0][0] == pytest.approx(1e-3)  # warm-up done after 2 steps (0, then peak)
    assert rates[0][1] == pytest.approx(1e-3 * 0.75 ** (depth + 1))
    assert rates[-1][0] == pytest.approx(1e-5)  # the cosine ends at min_lr_ratio x peak
    assert head_group["weight_decay"] == 0.05


def test_the_logged_lr_is_the_peak_of_the_layer_decay_groups(tmp_path):
    """As the official code logs max_lr: the first group (the patch embedding) runs layer_decay^(depth+1) lower."""
    model = tiny_classifier()
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, use_cpu=True, report_to=[])
    trainer = VideoClassificationTrainer(model=model, args=args, layer_decay=0.5, warmup_start_ratio=1.0)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    assert trainer._get_learning_rate() == pytest.approx(1e-3)
    assert trainer.optimizer.param_groups[0]["lr"] < 1e-3 * 0.5**model.config.num_hidden_layers


def test_a_warm_up_longer_than_the_run_is_reported(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), warmup_steps=12, use_cpu=True, report_to=[])
    trainer = VideoClassificationTrainer(model=tiny_classifier(), args=args)
    with pytest.warns(UserWarning, match=r"warm-up \(12 steps\) is longer than the run \(10 steps\)"):
        trainer.create_optimizer_and_scheduler(num_training_steps=10)


@pytest.mark.parametrize(
    "options, recipe_lines, says",
    [
        (["--lr_scheduler_type", "constant"], [], "--lr_scheduler_type constant is not used"),
        (["--warmup_epochs", "2", "--warmup_steps", "3"], [], "--warmup_epochs 2 and --warmup_steps 3 both set the"),
        ([], ["learning_rate: 0.5"], "--learning_rate 0.5 and --base_learning_rate 0.0007 both set the lr"),
    ],
)
def test_trainer_options_the_schedule_would_override_are_refused(tmp_path, capsys, options, recipe_lines, says):
    from hf_tiktokactions.cli import run_step

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        (ROOT / "training" / "configs" / "finetune_vit_b_k400.yaml").read_text() + "\n".join(recipe_lines)
    )
    argv = ["--config", str(recipe), "--output_dir", str(tmp_path / "run"), *options]
    assert run_step("finetune", argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {says}") and error.count("\n") == 1, error
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_the_command_line_wins_over_the_recipes_other_way_of_giving_lr_and_warm_up():
    from hf_tiktokactions.cli import parse_step_options

    recipe = ["--config", "finetune_vit_b_k400.yaml"]  # base_learning_rate 7e-4, warmup_epochs 5
    args, training = parse_step_options("finetune", [*recipe, "--learning_rate", "0.5", "--warmup_steps", "3"])
    assert (args.base_learning_rate, training.learning_rate, args.warmup_epochs, training.warmup_steps) == (
        None,
        0.5,
        None,
        3,
    )
    args, training = parse_step_options("finetune", [*recipe, "--base_learning_rate", "1e-3"])
    assert (args.base_learning_rate, args.warmup_epochs) == (1e-3, 5)


def test_validation_on_uint8_clips_equals_validation_on_normalised_clips(synthetic, tmp_path):
    """The Trainer normalises uint8 clips on the device: same loss and metrics as clips normalised in the workers.
    ``dataloader_drop_last`` is for training: validation and ``predict`` answer for all 6 videos in batches of 4
    (``predict`` answered for 4), and the option is left as it was."""
    from hf_tiktokactions.data.finetune_dataset import MultiViewVideoDataset
    from hf_tiktokactions.training.finetuning import single_view_metrics

    videos = sorted(str(p) for p in synthetic.rglob("*.mp4"))[:6]
    labels = list(range(len(videos)))
    torch.manual_seed(0)
    model = tiny_classifier()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_eval_batch_size=4,
        dataloader_drop_last=True,
        use_cpu=True,
        report_to=[],
        remove_unused_columns=False,
        label_names=["labels"],
    )
    trainer = VideoClassificationTrainer(
        model=model, args=args, data_collator=collate_clips, compute_metrics=single_view_metrics
    )
    scores = {}
    for normalize in (True, False):
        dataset = MultiViewVideoDataset(
            videos,
            labels,
            num_frames=4,
            sampling_rate=4,
            num_segments=1,
            num_crops=1,
            input_size=32,
            short_side_size=32,
            backend="pyav",
            normalize=normalize,
        )
        assert dataset[0]["pixel_values"].dtype == (torch.float32 if normalize else torch.uint8)
        scores[normalize] = trainer.evaluate(dataset)
    assert len(trainer.predict(dataset).label_ids) == 6 and trainer.args.dataloader_drop_last
    assert scores[False]["eval_loss"] == pytest.approx(scores[True]["eval_loss"], rel=1e-5)
    assert (scores[False]["eval_top1"], scores[False]["eval_top5"]) == (
        scores[True]["eval_top1"],
        scores[True]["eval_top5"],
    )


def test_smoothed_targets():
    targets = smooth_targets(torch.tensor([2, 0]), 4, 0.1)
    assert torch.allclose(targets.sum(1), torch.ones(2))
    assert targets[0, 2] == pytest.approx(0.925) and targets[0, 0] == pytest.approx(0.025)


def test_finetune_from_scratch_writes_the_results(synthetic, tmp_path, monkeypatch):
    """Also: a --hub_token (Trainer's option, for its push_to_hub) is written into no file of the run; Trainer
    pickled it into final/training_args.bin, which its push_to_hub uploads."""
    token = "hf_HubTokenGivenAsTrainerOption55"
    monkeypatch.delenv("HF_TOKEN", raising=False)  # the token is handed to huggingface_hub through it
    args, training_args = parse(
        synthetic, tmp_path / "run", "--max_steps", 3, "--eval_strategy", "steps", "--eval_steps", 3,
        "--hub_token", token,
    )  # fmt: skip
    results = finetune(args, training_args)
    out = tmp_path / "run"
    assert not [path for path in out.rglob("*") if path.is_file() and token.encode() in path.read_bytes()]
    assert os.environ["HF_TOKEN"] == token
    written = json.loads((out / "results.json").read_text())
    assert set(RESULT_KEYS) <= written.keys()
    assert (
        written["views"] == "2x3"
        and written["dataset"] == "videofolder"
        and written["split"] == "test"
        and written["seed"] == 0
    )
    assert written["checkpoint"] == str(out / "final") and written["num_videos"] == 7
    assert written["dataset_id"] == "videofolder" and written["dataset_config"] is None
    for key in ("top1", "top5", "mean_class_accuracy"):
        assert 0 <= written[key] <= 100
    assert written == results
    table = (out / "results.md").read_text().splitlines()
    assert (
        table[0].startswith("| dataset | split | views | top-1 | top-5 | mean class acc. | checkpoint | seed |")
        and len(table) == 3
    )
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 7 and {p["label_name"] for p in predictions} == set(CLASSES)
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert np.asarray(json.loads((out / "confusion_matrix.json").read_text())["counts"]).sum() == 7
    record = json.loads((out / "run_config.json").read_text())
    assert (
        record["init_from"] == "scratch (vit-tiny)"
        and record["num_processes"] == 1
        and "train_runtime" in record["train"]
    )
    reloaded = VideoMAEv2ForVideoClassification.from_pretrained(out / "final")
    assert reloaded.config.id2label[3] == "sit_down"


def _encoder_equal(model, state, prefix="encoder.") -> bool:
    return all(torch.equal(v, state[prefix + k]) for k, v in model.encoder.state_dict().items() if prefix + k in state)


def test_init_from_a_pretraining_folder_keeps_the_encoder_and_makes_a_head(tmp_path):
    pretrained = VideoMAEv2ForPreTraining(VideoMAEv2Config.from_preset("vit-tiny", num_frames=4, image_size=32))
    pretrained.save_pretrained(tmp_path / "pt")
    args = FinetuneArguments(init_from=str(tmp_path / "pt"), num_frames=8, input_size=32)  # other clip length: fine
    model, origin = build_classifier(args, CLASSES, tmp_path)
    assert origin == str(tmp_path / "pt") and model.head.out_features == 7 and model.config.num_frames == 8
    assert all(
        torch.equal(v, pretrained.encoder.state_dict()[k])
        for k, v in model.encoder.state_dict().items()
        if k in pretrained.encoder.state_dict()
    )
    assert model.config.drop_path_rate == 0.1


def test_init_from_official_checkpoints(tmp_path):
    state = official_pretraining_checkpoint(tmp_path / "pt.pth")
    model, origin = build_classifier(
        FinetuneArguments(init_from=str(tmp_path / "pt.pth"), num_frames=4, input_size=32), CLASSES, tmp_path / "a"
    )
    assert origin.startswith("converted") and model.head.out_features == 7
    assert torch.equal(model.encoder.blocks[1].attn.qkv.weight, state["encoder.blocks.1.attn.qkv.weight"])
    # an official fine-tuned classifier with 6 classes: encoder and fc_norm kept, head replaced for 7
    state = official_finetuned_checkpoint(tmp_path / "ft.pth", num_labels=6)
    model, _ = build_classifier(
        FinetuneArguments(init_from=str(tmp_path / "ft.pth"), num_frames=4, input_size=32), CLASSES, tmp_path / "b"
    )
    assert torch.equal(model.fc_norm.weight, state["fc_norm.weight"]) and model.head.out_features == 7
    assert torch.equal(model.encoder.blocks[0].mlp.fc1.weight, state["encoder.blocks.0.mlp.fc1.weight"])


def test_init_from_a_classifier_with_other_classes(tmp_path):
    source = tiny_classifier(num_labels=5)
    source.save_pretrained(tmp_path / "k400")
    model, _ = build_classifier(
        FinetuneArguments(init_from=str(tmp_path / "k400"), num_frames=4, input_size=32), CLASSES, tmp_path
    )
    assert model.head.weight.shape == (7, model.config.hidden_size)
    assert torch.equal(model.encoder.blocks[0].attn.proj.weight, source.encoder.blocks[0].attn.proj.weight)
    assert torch.equal(model.fc_norm.weight, source.fc_norm.weight)
    same, _ = build_classifier(
        FinetuneArguments(init_from=str(tmp_path / "k400"), num_frames=4, input_size=32), CLASSES[:5], tmp_path
    )
    assert torch.equal(same.head.weight, source.head.weight)  # same number of classes: the head is kept


def test_eval_only_tests_a_classifier(synthetic, tmp_path):
    tiny_classifier().save_pretrained(tmp_path / "cls")
    args, training_args = parse(
        synthetic,
        tmp_path / "eval",
        "--init_from",
        tmp_path / "cls",
        "--eval_only",
        "true",
        "--test_num_segment",
        1,
        "--test_num_crop",
        1,
    )
    results = finetune(args, training_args)
    assert results["views"] == "1x1" and results["checkpoint"] == str(tmp_path / "cls")
    assert not (tmp_path / "eval" / "final").exists()


def test_bad_options_end_in_one_line(synthetic, tmp_path, capfd):
    from hf_tiktokactions.cli import run_step

    with pytest.raises(ConfigError, match="--sampling"):
        parse(synthetic, tmp_path, "--sampling", "random")
    with pytest.raises(ConfigError, match="unknown option"):
        (tmp_path / "bad.yaml").write_text("learning_rat: 1\n")
        parse_with_config((FinetuneArguments, TrainingArguments), ["--config", str(tmp_path / "bad.yaml")], prog="t")
    capfd.readouterr()
    # training/finetune.py's main, in this process (the script itself runs in test_a_diverging_run_stops_...)
    argv = ["--config", str(RECIPE), "--data_root", str(synthetic), "--output_dir", str(tmp_path / "x")]
    code = run_step("finetune", [*argv, "--init_from", str(tmp_path / "nowhere")], prog="training/finetune.py")
    stderr = capfd.readouterr().err
    assert code == 2 and stderr.strip().startswith("error: --init_from") and "Traceback" not in stderr


RECORDING_DRAWS = """
import hashlib, json, os, sys
import torch
from timm.data.mixup import Mixup
from hf_tiktokactions.cli import run_step

draws, params_per_batch = [], Mixup._params_per_batch


def recording(self):
    lam, use_cutmix = params_per_batch(self)  # the batch's mixup / cutmix draw
    torch_stream = hashlib.sha1(torch.get_rng_state().numpy().tobytes()).hexdigest()  # what drop path draws from
    draws.append([float(lam), bool(use_cutmix), torch_stream])
    return lam, use_cutmix


Mixup._params_per_batch = recording
import hf_tiktokactions.data.decoding as decoding

opened, open_video = [], decoding.open_video


def recording_open(source, *args, **kwargs):  # which videos this rank opens
    opened.append(os.path.basename(str(source)))
    return open_video(source, *args, **kwargs)


decoding.open_video = recording_open
code = run_step("finetune", sys.argv[2:])
with open(os.path.join(sys.argv[1], "draws-" + os.environ["RANK"] + ".json"), "w") as out:
    json.dump(draws, out)
with open(os.path.join(sys.argv[1], "opened-" + os.environ["RANK"] + ".json"), "w") as out:
    json.dump(opened, out)
sys.exit(code)
"""


def _validation_loss(model_dir: Path, data_root: Path) -> float:
    """The mean cross-entropy of the recipe's validation clips of ``data_root``, in one batch in this process."""
    from hf_tiktokactions.training.finetune_inputs import resolve_data
    from hf_tiktokactions.training.finetuning import _test_dataset

    args, _ = parse(data_root, model_dir.parent)
    videos = resolve_data(args, seed=0).eval
    batch = collate_clips(list(_test_dataset(args, videos, validation=True)))
    with torch.no_grad():
        model = VideoMAEv2ForVideoClassification.from_pretrained(model_dir).eval()
        return model(pixel_values=normalize_video(batch["pixel_values"]), labels=batch["labels"]).loss.item()


@pytest.mark.distributed
def test_two_cpu_ranks_under_torchrun_draw_their_own_augmentation_and_resume_exactly(synthetic, tmp_path):
    """Two gloo ranks: 7 steps of 2 videos a rank (4 steps an epoch over the 14 training videos), saved every 5;
    resumed from checkpoint-5, in the middle of the second epoch, the ranks train steps 6-7 as the uninterrupted run
    did: each rank's shard of the second epoch's keyed batches, under the resume's skip (where Trainer's own
    set_epoch does not reach the sampler). Each rank draws its own mixup / cutmix and drop-path masks (upstream
    seeds a rank with seed + rank; one seed on every rank would repeat the same draw on every GPU). The test videos
    that do not open are found once, each rank probing its share, and left out on both. The validation at step 7
    scores the 7 validation videos once each: its loss is the single-process mean over them (Trainer's averaged batch
    means, into which the duplicates that pad the ranks' last round entered)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    wrapper = tmp_path / "recording_draws.py"
    wrapper.write_text(RECORDING_DRAWS)
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    for name in ("a-empty.mp4", "b-notes.mp4"):  # the first two test videos: each rank probes one of them
        (data / "test" / "clap" / name).write_text("" if "empty" in name else "not a video")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(wrapper), str(tmp_path)]
    command += ["--config", str(RECIPE), "--data_root", str(data), "--output_dir", str(tmp_path / "ddp")]
    command += ["--max_steps", "7", "--per_device_train_batch_size", "2", "--save_strategy", "steps"]
    command += ["--save_steps", "5", "--logging_steps", "1", "--eval_strategy", "steps", "--eval_steps", "7"]
    command += ["--disable_tqdm", "true"]
    command += ["--test_num_segment", "1", "--test_num_crop", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "ddp" / "run_config.json").read_text())
    assert record["num_processes"] == 2
    left_out = [Path(item["video"]).name for item in record["unreadable_videos_left_out"]]
    assert left_out == ["a-empty.mp4", "b-notes.mp4"]  # both ranks' finds, one list
    opened = [set(json.loads((tmp_path / f"opened-{rank}.json").read_text())) for rank in (0, 1)]
    assert [sorted(names & {"a-empty.mp4", "b-notes.mp4"}) for names in opened] == [["a-empty.mp4"], ["b-notes.mp4"]]
    epochs = [entry["epoch"] for entry in record["log_history"] if "loss" in entry]
    assert epochs == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    results = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert results["num_processes"] == 2 and results["num_videos"] == 7  # gathered without padding duplicates
    [validation] = [entry for entry in record["log_history"] if "eval_loss" in entry]
    assert validation["eval_loss"] == pytest.approx(_validation_loss(tmp_path / "ddp" / "final", data), rel=1e-5)
    uninterrupted = _losses(tmp_path / "ddp")
    rank0, rank1 = (json.loads((tmp_path / f"draws-{rank}.json").read_text()) for rank in (0, 1))
    assert len(rank0) == len(rank1) == 7
    assert all(a[0] != b[0] and a[2] != b[2] for a, b in zip(rank0, rank1)), (rank0, rank1)

    resumed = [*command, "--resume", str(tmp_path / "ddp" / "checkpoint-5")]
    run = subprocess.run(resumed, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _losses(tmp_path / "ddp") == uninterrupted


def test_every_recipe_parses():
    for recipe in sorted((ROOT / "training" / "configs").glob("finetune_*.yaml")):
        args, training_args = parse_with_config(
            (FinetuneArguments, TrainingArguments),
            ["--config", str(recipe), "--output_dir", "unused", "--mixed_precision", "no"],
            prog="t",
        )
        assert args.test_num_segment * args.test_num_crop in (6, 15), recipe.name
        assert training_args.label_smoothing_factor == 0.1, recipe.name
        # the embedded comparison fine-tunes 400 steps on 140 clips: too few for the paper's heavy augmentation
        heavy = "embedded" not in recipe.name
        assert (args.mixup, args.cutmix, args.rand_augment != "none") == (
            (0.8, 1.0, True) if heavy else (0.0, 0.0, False)
        ), recipe.name
        assert (args.sampling == "segment") == (args.dataset == "ssv2") and args.flip == (args.dataset != "ssv2"), (
            recipe.name
        )
        assert training_args.max_grad_norm == 0.0, recipe.name  # no official script clips; never Trainer's 1.0


def test_a_diverging_run_stops_and_writes_no_weights_nor_results(synthetic, tmp_path):
    output = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--config", str(RECIPE), "--data_root", str(synthetic)]
        + ["--output_dir", str(output), "--disable_tqdm", "true", "--learning_rate", "1e25"]
        + ["--warmup_epochs", "0", "--max_steps", "6", "--logging_steps", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 2, run.stderr[-3000:]
    # The first step with lr 1e25 takes the weights to 1e25: stopped there, before any evaluation or save.
    assert "error: after step 1 the weights reach 1" in run.stderr and "Traceback" not in run.stderr
    assert not (output / "final").exists() and not list(output.glob("checkpoint-*"))
    assert not (output / "predictions.jsonl").exists() and not (output / "results.json").exists()


def test_a_non_finite_gradient_stops_before_the_optimizer_step(tmp_path):
    model = tiny_classifier()
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    pixel_values[0, 0, 0, 0, 0] = float("inf")  # what a corrupt input or a run-away activation gives
    model(pixel_values=pixel_values, labels=torch.tensor([0, 1])).loss.backward()
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], learning_rate=0.5)
    trainer = VideoClassificationTrainer(model=model, args=args)
    stop = next(c for c in trainer.callback_handler.callbacks if isinstance(c, StopOnDivergence))
    with pytest.raises(TrainingDiverged, match="non-finite loss or gradient at step 1"):
        stop.on_pre_optimizer_step(args, trainer.state, trainer.control, model=model)


@pytest.mark.parametrize("bad_value", [float("nan"), 1e25])
def test_weights_that_are_not_finite_or_ran_away_are_never_saved(tmp_path, bad_value):
    model = tiny_classifier()
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    trainer = VideoClassificationTrainer(model=model, args=args)
    trainer.save_model(str(tmp_path / "good"))
    assert (tmp_path / "good" / "model.safetensors").exists()
    with torch.no_grad():
        model.encoder.blocks[0].attn.qkv.weight[0, 0] = bad_value
    with pytest.raises(TrainingDiverged, match="not finite|weights reach"):
        trainer.save_model(str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_results_files_refuse_non_finite_scores_and_write_null_for_other_non_finite_values(tmp_path):
    labels = np.array([0, 1])
    good = np.array([[0.9, 0.1], [0.2, 0.8]])
    options = dict(class_names=["a", "b"], videos=["a.mp4", "b.mp4"], video_ids=["a", "b"], dataset="d")
    options.update(split="test", views="1x1", checkpoint="ckpt", seed=0)
    broken = MultiViewPredictions(np.array([[np.nan, np.nan], [0.2, 0.8]]), labels, np.arange(2), 1, 1.0)
    with pytest.raises(CheckpointError, match="not finite .* for 1 of 2 videos"):
        write_test_results(tmp_path / "broken", broken, multiview_metrics(broken, 2), **options)
    assert not (tmp_path / "broken").exists()
    predictions = MultiViewPredictions(good, labels, np.arange(2), 1, 1.0)
    written = write_test_results(
        tmp_path / "ok",
        predictions,
        multiview_metrics(predictions, 2),
        **options,
        extra={"recipe": {"max_grad_norm": float("inf")}},
    )
    assert written["recipe"]["max_grad_norm"] is None
    json.loads((tmp_path / "ok" / "results.json").read_text(), parse_constant=pytest.fail)  # no NaN / Infinity
    for line in (tmp_path / "ok" / "predictions.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=pytest.fail)


def test_finetuning_reads_the_clips_a_hub_copy_of_the_dataset_embeds(synthetic, tmp_path):
    """A labelled set pushed to the Hub with its clips: ``push_to_hub`` embeds a ``Video`` column's files
    (``embed_table_storage``) and keeps only their names. Written here as the Hub holds it (Parquet shards with the
    features in their metadata), the video files deleted, then fine-tuned and tested from that folder."""
    from datasets import Video
    from datasets.table import embed_table_storage

    from hf_tiktokactions.data import load_videofolder
    from hf_tiktokactions.training.finetune_inputs import resolve_data

    videos, hub = tmp_path / "videos", tmp_path / "hub"
    shutil.copytree(synthetic, videos)
    for split, rows in load_videofolder(videos).items():
        rows = rows.cast_column("video", Video(decode=False)).with_format("arrow")
        rows = rows.map(embed_table_storage, batched=True, batch_size=10).with_format(None)
        rows.to_parquet(str(hub / "data" / f"{split}-00000-of-00001.parquet"))
    shutil.rmtree(videos)

    args, training_args = parse(tmp_path / "nowhere", tmp_path / "run", "--dataset", hub, "--max_steps", 2)
    data = resolve_data(args, 0)
    assert data.train.embedded is not None and isinstance(data.train.sources()[0], bytes)
    assert all("/" not in name and name.endswith(".mp4") for name in data.test.videos)  # names, not paths
    results = finetune(args, training_args)
    assert results["num_videos"] == 7 and results["split"] == "test"
    assert results["dataset"] == "hub"  # the folder's name: its path stays on this machine, out of cards
    predictions = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["video"] for p in predictions) == sorted(data.test.videos)

    # compare-init's target arm pre-trains on the training videos as files: it says so before pre-training anything
    from hf_tiktokactions.training.experiments import CompareArguments, compare_init

    compare = CompareArguments(
        output_dir=str(tmp_path / "compare"), arms="target", seeds="0", finetune_args=f"--dataset {hub}"
    )
    with pytest.raises(ConfigError, match="holds its clips inside the dataset"):
        compare_init(compare)
    assert not (tmp_path / "compare" / "target-seed0").exists()


def _losses(output_dir: Path) -> list[float]:
    history = json.loads((output_dir / "run_config.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


LOADER_WORKERS = {
    "no-workers": ("--dataloader_num_workers", 0),
    # the decoded-frame cache keeps the worker for the whole run (persistent workers)
    "persistent-worker": ("--dataloader_num_workers", 1, "--decoded_cache_mb", 16),
}


@pytest.mark.parametrize("workers", LOADER_WORKERS, ids=list(LOADER_WORKERS))
def test_an_interrupted_finetuning_resumes_exactly_from_its_latest_complete_checkpoint(synthetic, tmp_path, workers):
    """6 steps (3 epochs of 2) saved every 3, then the folder as a run killed while saving step 6 leaves it
    (checkpoint-6 without its trainer_state.json, written last; no final model, no results): ``--resume latest``
    passes over checkpoint-6, goes on from checkpoint-3 (its state is loaded: the history it carries is the resumed
    run's), in the middle of an epoch, and trains steps 4-6 exactly as the uninterrupted run did (the same
    augmentations, mixup and drop path: with drop path 0.1 and mixup, any shifted draw changes the losses). A broken
    training video is passed over in each epoch, and the resumed record counts all three times, as the
    uninterrupted one (checkpoint-3 kept the steps before it)."""
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    (next((data / "train").iterdir()) / "broken.mp4").write_text("not a video")
    out = tmp_path / "run"
    steps = ("--max_steps", 6, "--save_strategy", "steps", "--save_steps", 3, "--logging_steps", 1)
    small_test = ("--eval_strategy", "no", "--test_num_segment", 1, "--test_num_crop", 1, *LOADER_WORKERS[workers])
    finetune(*parse(data, out, *steps, *small_test))
    skipped = json.loads((out / "run_config.json").read_text())["skipped_training_videos"]
    assert skipped["count"] == 3 and [Path(item["video"]).name for item in skipped["videos"]] == ["broken.mp4"]
    logged = [entry for entry in json.loads((out / "run_config.json").read_text())["log_history"] if "loss" in entry]
    assert [entry["epoch"] for entry in logged] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    uninterrupted = [entry["loss"] for entry in logged]
    (out / "checkpoint-6" / "trainer_state.json").unlink()
    shutil.rmtree(out / "final")
    (out / "results.json").unlink()
    state_file = out / "checkpoint-3" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["log_history"][0]["mark"] = "kept in checkpoint-3"  # only a loaded checkpoint carries this
    state_file.write_text(json.dumps(state))

    # the same command without --resume would train from step 0 over checkpoint-3: refused
    with pytest.raises(CheckpointError, match=r"holds checkpoints of an earlier run \(newest: checkpoint-6\)"):
        finetune(*parse(data, out, *steps, *small_test))
    finetune(*parse(data, out, *steps, *small_test, "--resume", "latest"))
    record = json.loads((out / "run_config.json").read_text())
    assert record["resumed_from"] == str(out / "checkpoint-3")
    assert record["log_history"][0].get("mark") == "kept in checkpoint-3"
    assert record["skipped_training_videos"] == skipped
    assert [entry["step"] for entry in record["log_history"] if "loss" in entry] == [1, 2, 3, 4, 5, 6]
    assert _losses(out) == uninterrupted
    assert json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6
    assert (out / "results.json").is_file() and (out / "final").is_dir()

    with pytest.raises(CheckpointError, match="not a finished Trainer checkpoint folder"):
        finetune(*parse(data, tmp_path / "other", "--resume", tmp_path / "missing"))
    with pytest.raises(ConfigError, match="give one of them"):
        finetune(*parse(data, tmp_path / "other", "--resume", "latest", "--resume_from_checkpoint", out))


def out_of_memory_above(videos: int, monkeypatch, request) -> list[int]:
    """Training forwards of more than ``videos`` clips raise CUDA's out-of-memory error (simulated) from now on in
    this test; returns the list the batch size of each training forward is appended to."""
    forward, tried = VideoMAEv2ForVideoClassification.forward, []

    @functools.wraps(forward)  # Trainer reads the signature (no **kwargs: it divides the loss by the accumulation)
    def out_of_memory(model, pixel_values, *args, **kwargs):
        if model.training:
            tried.append(len(pixel_values))
            if len(pixel_values) > videos:  # " out of memory." is what accelerate's should_reduce_batch_size looks for
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return forward(model, pixel_values, *args, **kwargs)

    monkeypatch.setattr(VideoMAEv2ForVideoClassification, "forward", out_of_memory)
    # accelerate collects garbage around each try: over the objects of a test session, 0.2-0.7 s a collection
    gc.freeze()
    request.addfinalizer(gc.unfreeze)
    return tried


def test_auto_find_batch_size_keeps_the_total_batch_the_lr_and_the_epochs_were_counted_in(
    synthetic, tmp_path, monkeypatch, caplog, request
):
    """--auto_find_batch_size, where more than 2 videos a device run out of memory: Trainer retries with 0.9 times
    the per-device batch after each error (4 -> 3 -> 2), and the run went on with steps of 2 videos on the lr scaled
    for 4 (0.256 x 4 / 256), 6 steps an epoch (14 videos // 2), the warm-up of one epoch (3 steps) over half of one.
    Now a step is 2 videos a device x 2 accumulated, the command line's 4: its lr, 3 steps an epoch and warm-up. The
    checkpoint records that split, a resume is checked on the total and goes on with it (Trainer starts a resume on
    the checkpoint's per-device batch)."""
    from hf_tiktokactions.training.trainer_checkpoints import BatchInCheckpoints, other_batch_problem

    tried = out_of_memory_above(2, monkeypatch, request)
    out = tmp_path / "run"
    options = ("--per_device_train_batch_size", 4, "--num_sample", 1, "--auto_find_batch_size", "true")
    options += ("--base_learning_rate", 0.256, "--warmup_learning_rate", 0, "--warmup_epochs", 1, "--max_steps", -1)
    options += ("--dataloader_drop_last", "true", "--logging_steps", 1, "--eval_strategy", "no")
    options += ("--save_strategy", "epoch")
    options += ("--test_num_segment", 1, "--test_num_crop", 1)
    with caplog.at_level("WARNING", logger="hf_tiktokactions.training.finetuning"):
        finetune(*parse(synthetic, out, *options, "--num_train_epochs", 1))
    assert tried[:2] == [4, 2] and set(tried[1:]) == {2}
    assert "steps of 4 videos (2 a device x 1 process x 2 accumulated), the command line's total batch" in caplog.text
    record = json.loads((out / "run_config.json").read_text())
    assert record["learning_rates"]["peak"] == pytest.approx(0.004)
    logged = [entry for entry in record["log_history"] if "loss" in entry]
    assert [entry["epoch"] for entry in logged] == pytest.approx([1 / 3, 2 / 3, 1])
    assert [entry["learning_rate"] for entry in logged] == pytest.approx([0, 0.002, 0.004])
    checkpoint = out / "checkpoint-3"
    saved = json.loads((checkpoint / "trainer_state.json").read_text())["stateful_callbacks"]["BatchInCheckpoints"]
    assert saved["args"] == {"per_device": 2, "processes": 1, "accumulation": 2}
    assert "this run's take 2 videos" in other_batch_problem(checkpoint, BatchInCheckpoints(2, 1, 1))

    tried.clear()
    finetune(*parse(synthetic, out, *options, "--num_train_epochs", 2, "--resume", "latest"))
    logged = [entry for entry in json.loads((out / "run_config.json").read_text())["log_history"] if "loss" in entry]
    assert set(tried) == {2} and [entry["step"] for entry in logged] == [1, 2, 3, 4, 5, 6]


def test_a_resume_is_checked_against_the_run_so_far_and_an_evaluation_keeps_to_its_own_folder(
    synthetic, tmp_path, caplog
):
    """A checkpoint of another model (here another --model_preset, or a head in another class order) is refused,
    named, before anything trains (Trainer stopped in load_state_dict with a traceback), and so is one whose steps
    took another total batch (Trainer went on as many steps, so as many times the new batch, into the run); a
    resume with another lr is warned about and the run so far is kept in run_config.json; --eval_only into a
    training run's folder (it replaced the run's run_config.json and results.json) and training into an evaluation's
    folder are refused."""
    out = tmp_path / "run"
    quick = ("--eval_strategy", "no", "--test_num_segment", 1, "--test_num_crop", 1, "--save_strategy", "steps")
    finetune(*parse(synthetic, out, "--max_steps", 2, "--save_steps", 2, *quick))
    before = (out / "run_config.json").read_text(), (out / "results.json").read_text()

    with pytest.raises(CheckpointError, match=r"checkpoint-2: its weights do not fit .* differ in shape"):
        finetune(*parse(synthetic, out, "--max_steps", 2, *quick, "--resume", "latest", "--model_preset", "vit-mini"))
    # a head of the same shape whose classes are in another order than the data's (as Kinetics-400 CSV classes
    # started before the official order was taken): it trained on, each row towards another class, without a word
    config_file = out / "checkpoint-2" / "config.json"
    config = json.loads(config_file.read_text())
    config["id2label"]["0"], config["id2label"]["1"] = config["id2label"]["1"], config["id2label"]["0"]
    config_file.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"checkpoint-2: .*its head's class 0 is '.+', this run's data has"):
        finetune(*parse(synthetic, out, "--max_steps", 2, *quick, "--resume", "latest"))
    config["id2label"]["0"], config["id2label"]["1"] = config["id2label"]["1"], config["id2label"]["0"]
    config_file.write_text(json.dumps(config))
    # Trainer goes on global_step steps into the run: with steps of another batch, at another place in the epoch
    other_batch = ("--per_device_train_batch_size", 4, "--gradient_accumulation_steps", 3)
    with pytest.raises(
        CheckpointError,
        match=r"2 steps took 8 videos \(8 a device x 1 process x 1 accumulated\) each, "
        r"this run's take 12 videos \(4 a device x 1 process x 3 accumulated\): .* 24 videos into",
    ):
        finetune(*parse(synthetic, out, "--max_steps", 2, *quick, "--resume", "latest", *other_batch))
    with pytest.raises(OutputStateError, match=r"holds the outputs of a finetune run; a finetune --eval_only run"):
        finetune(*parse(synthetic, out, *quick, "--eval_only", "true", "--init_from", out / "final"))
    assert ((out / "run_config.json").read_text(), (out / "results.json").read_text()) == before

    with caplog.at_level("WARNING", logger="hf_tiktokactions.training.resumed_runs"):
        finetune(*parse(synthetic, out, "--max_steps", 2, *quick, "--resume", "latest", "--learning_rate", 0.5))
    assert "resuming with other options than the run so far (learning_rate" in caplog.text
    record = json.loads((out / "run_config.json").read_text())
    assert [segment["resumed_from"] for segment in record["earlier_segments"]] == [None]
    assert record["earlier_segments"][0]["args"]["base_learning_rate"] == record["args"]["base_learning_rate"]

    evaluation = tmp_path / "evaluation"
    finetune(*parse(synthetic, evaluation, *quick, "--eval_only", "true", "--init_from", out / "final"))
    with pytest.raises(OutputStateError, match=r"holds the outputs of a finetune --eval_only run; a finetune run"):
        finetune(*parse(synthetic, evaluation, "--max_steps", 2, *quick))


def test_unreadable_validation_and_test_videos_are_found_before_training(synthetic, tmp_path):
    """A broken validation video stopped the run at the end of the first epoch, before its checkpoint (so every
    --resume died there again); a broken test video after all the training. Both are found before anything trains:
    left out and recorded (--missing_videos drop), or named in one error (error). A broken training video is passed
    over, and named in run_config.json with the reason."""
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    scored = [data / "val", data / "test"]
    for folder in scored:
        (next(folder.iterdir()) / "empty.mp4").write_bytes(b"")
        (next(folder.iterdir()) / "notes.mp4").write_text("not a video")
    (next((data / "train").iterdir()) / "broken.mp4").write_text("not a video")  # passed over, and recorded
    with pytest.raises(ConfigError, match=r"do not open as videos: .*empty\.mp4"):
        finetune(*parse(data, tmp_path / "strict", "--missing_videos", "error", "--max_steps", 1))
    assert not (tmp_path / "strict" / "run_config.json").exists()  # refused before anything was built
    out = tmp_path / "run"
    quick = ("--max_steps", 2, "--eval_strategy", "steps", "--eval_steps", 1, "--test_num_segment", 1)
    results = finetune(*parse(data, out, *quick, "--test_num_crop", 1))
    record = json.loads((out / "run_config.json").read_text())
    left_out = {Path(item["video"]).name for item in record["unreadable_videos_left_out"]}
    assert left_out == {"empty.mp4", "notes.mp4"}
    [skipped] = record["skipped_training_videos"]["videos"]  # one epoch of 2 steps draws every training video
    assert record["skipped_training_videos"]["count"] == 1
    assert Path(skipped["video"]).name == "broken.mp4" and "broken.mp4" in skipped["reason"]
    assert results["num_videos"] == len(list((synthetic / "test").rglob("*.mp4")))  # scored on every good one


def test_an_epoch_takes_whole_steps_only_as_upstreams_loop(synthetic, tmp_path, monkeypatch):
    """Upstream's loop makes ``videos // total batch`` optimizer steps an epoch, each of a whole batch (drop_last,
    then ``num_training_steps_per_epoch``). 14 training videos, 2 a micro-batch x 3 accumulated = 6 a step: 2 steps
    an epoch, where Trainer alone makes a third of the one micro-batch left over. Validation still scores every
    video, in batches of 4 (upstream's validation loader keeps its last batch). Refused when no whole step fits."""
    from hf_tiktokactions.training import finetuning

    scored, metrics = [], finetuning.single_view_metrics
    monkeypatch.setattr(finetuning, "single_view_metrics", lambda p: scored.append(len(p.label_ids)) or metrics(p))
    quick = ("--num_train_epochs", 2, "--max_steps", -1, "--logging_steps", 1, "--eval_strategy", "epoch")
    quick += ("--per_device_eval_batch_size", 4)
    quick += ("--per_device_train_batch_size", 2, "--gradient_accumulation_steps", 3, "--warmup_epochs", 0)
    quick += ("--test_num_segment", 1, "--test_num_crop", 1, "--dataloader_drop_last", "true")
    finetune(*parse(synthetic, tmp_path / "upstream", *quick))
    record = json.loads((tmp_path / "upstream" / "run_config.json").read_text())
    assert record["videos"]["train"] == 14
    assert [entry["epoch"] for entry in record["log_history"] if "loss" in entry] == [0.5, 1.0, 1.5, 2.0]
    assert scored == [record["videos"]["validation"]] * 2 and record["videos"]["validation"] % 4 != 0

    with pytest.raises(ConfigError, match=r"14 videos, fewer than one total batch of 24 .*--dataloader_drop_last"):
        finetune(*parse(synthetic, tmp_path / "big", *quick, "--per_device_train_batch_size", 8))


def test_the_batches_do_not_depend_on_the_number_of_loader_workers(synthetic, tmp_path):
    """Each item's clip and augmentations come from (seed, epoch, index): 4 steps over 2 epochs give the same losses
    built in the main process and in 2 workers; another --data_seed gives other batches."""
    steps = ("--max_steps", 4, "--logging_steps", 1, "--eval_strategy", "no")
    steps += ("--test_num_segment", 1, "--test_num_crop", 1)
    finetune(*parse(synthetic, tmp_path / "main", *steps, "--dataloader_num_workers", 0))
    finetune(*parse(synthetic, tmp_path / "workers", *steps, "--dataloader_num_workers", 2))
    finetune(*parse(synthetic, tmp_path / "other", *steps, "--dataloader_num_workers", 0, "--data_seed", 1))
    assert _losses(tmp_path / "main") == _losses(tmp_path / "workers")
    assert _losses(tmp_path / "other")[0] != _losses(tmp_path / "main")[0]


def test_an_odd_batch_that_mixup_cannot_take_is_warned_about(synthetic, tmp_path, caplog):
    """timm's Mixup takes even batches (upstream stops on an odd one); ours trained them with smoothing alone,
    silently."""
    odd = ("--per_device_train_batch_size", 3, "--num_sample", 1, "--mixup", 0.8, "--max_steps", 1)
    small_test = ("--eval_strategy", "no", "--test_num_segment", 1, "--test_num_crop", 1)
    with caplog.at_level("WARNING", logger="hf_tiktokactions.training.finetuning"):
        finetune(*parse(synthetic, tmp_path / "odd", *odd, *small_test))
    assert "mixup/cutmix need an even batch: batches of 3 clips" in caplog.text


def test_auto_find_batch_size_keeps_the_batch_mixup_takes_even(synthetic, tmp_path, monkeypatch, caplog, request):
    """timm's Mixup takes even batches: a step of 6 videos that ran out of memory was re-split into 3 x 2, and the
    run went on without mixup, silently. Now 2 x 3 (mixup goes on); where no even batch fits (1 x 6), the new split
    is named in a warning."""
    tried = out_of_memory_above(1, monkeypatch, request)
    options = ("--per_device_train_batch_size", 6, "--num_sample", 1, "--auto_find_batch_size", "true")
    options += ("--mixup", 0.8, "--max_steps", 1, "--eval_strategy", "no", "--test_num_segment", 1)
    options += ("--test_num_crop", 1)
    with caplog.at_level("WARNING", logger="hf_tiktokactions.training.finetuning"):
        finetune(*parse(synthetic, tmp_path / "run", *options))
    assert tried[:3] == [6, 2, 1] and set(tried[2:]) == {1}
    assert "steps of 6 videos (2 a device x 1 process x 3 accumulated)" in caplog.text
    assert (
        "no even batch fits for mixup/cutmix: steps of 6 videos (1 a device x 1 process x 6 accumulated), batches of "
        "1 clips, are trained with label smoothing alone" in caplog.text
    )


def test_a_resume_on_another_number_of_processes_is_named(tmp_path, caplog):
    """The number of processes is a factor of the total batch (the lr, the steps of an epoch): a resume that changes
    it is warned about by name, as a changed batch a device is (fine-tuning goes on only when the accumulation keeps
    the total batch)."""
    from hf_tiktokactions.training.finetuning import _BOOKKEEPING_OPTIONS, _recorded_options
    from hf_tiktokactions.training.resumed_runs import earlier_segments

    earlier = {"job": "finetune", "num_processes": 2, "args": {}, "training_args": {"per_device_train_batch_size": 2}}
    (tmp_path / "run_config.json").write_text(json.dumps(earlier))
    now = {**earlier, "num_processes": 1}
    with caplog.at_level("WARNING"):
        earlier_segments(tmp_path, now, _recorded_options, _BOOKKEEPING_OPTIONS, announce=True)
    assert "num_processes 2 -> 1" in caplog.text
