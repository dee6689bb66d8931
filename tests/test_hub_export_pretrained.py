"""The pre-trained model is publishable: a real pre-training run's ``final/`` exports like a classifier, loads without
our package with AutoModel (the encoder) and AutoModelForPreTraining (reconstructions), and its card reports the data,
recipe, steps, loss curve and reconstructions. Non-finite weights are refused by export and push.

The only mock is the Hub upload (``create_repo`` / ``upload_folder`` as imported by ``hf_tiktokactions.hub.push``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hub_doubles import digests
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file, save_file
from test_hub_cards import av_installs
from video_files import write_test_video
from without_our_package import BLOCK_OUR_PACKAGE

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.errors import CheckpointError, ConfigError
from hf_tiktokactions.hub.__main__ import main as hub_main
from hf_tiktokactions.hub.export import export_model
from hf_tiktokactions.hub.processor_config import MIN_AV_VERSION
from hf_tiktokactions.modeling import VideoMAEv2ForPreTraining
from hf_tiktokactions.training.arguments import FinetuneArguments
from hf_tiktokactions.training.model_init import build_classifier

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training" / "configs" / "pretrain_tiny_synthetic.yaml"
STEPS = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real pre-training run (training/pretrain.py, tiny recipe, 6 steps) on 14 synthetic H.264 clips."""
    root = tmp_path_factory.mktemp("pretrain")
    data = make_synthetic_actions(root / "videos", clips_per_class=2, size=64, num_frames=16, progress=False)
    output = root / "run"
    result = subprocess.run(
        [sys.executable, str(ROOT / "training" / "pretrain.py"), "--config", str(RECIPE), "--data", str(data)]
        + ["--output_dir", str(output), "--max_steps", str(STEPS), "--logging_steps", "1", "--save_steps", str(STEPS)]
        + ["--reconstruction_steps", "3", "--report_to", "none", "--disable_tqdm", "true"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@pytest.fixture(scope="module")
def exported(run: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    assert hub_main(["export", "--model", str(run / "final"), "--output", str(out), "--repo-id", "me/tiny-pre"]) == 0
    return out


def test_export_writes_the_auto_classes_the_figures_and_a_pretraining_card(run: Path, exported: Path) -> None:
    assert {p.name for p in exported.iterdir()} == {
        "config.json",
        "model.safetensors",
        "README.md",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "modeling_videomaev2.py",
        "configuration_videomaev2.py",
        "masking.py",
        "video_processing_videomaev2.py",
        "loss_curve.png",
    }  # no reconstructions.png: frames of a training clip of (here presumed) TikTok videos are not published
    config = json.loads((exported / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_videomaev2.VideoMAEv2Config",
        "AutoModel": "modeling_videomaev2.VideoMAEv2Model",
        "AutoModelForPreTraining": "modeling_videomaev2.VideoMAEv2ForPreTraining",
        "AutoModelForVideoClassification": "modeling_videomaev2.VideoMAEv2ForVideoClassification",
    }
    # AutoModel is the pre-training encoder (final norm kept); a classifier made from it pools as upstream's fine-tuning
    assert config["add_final_norm"] is True and config["use_mean_pooling"] is True
    # the decoder ships too: every weight of the run's model is in the export
    assert load_file(exported / "model.safetensors").keys() == load_file(run / "final" / "model.safetensors").keys()
    assert json.loads((exported / "video_preprocessor_config.json").read_text())["sampling_rate"] == 4  # the recipe's

    card = ModelCard.load(exported / "README.md")
    assert "custom_code" in card.data.tags and card.data.library_name == "transformers"
    text = card.text
    assert f"Trained for {STEPS} optimiser steps" in text
    assert "14 videos from `videos`" in text  # the data, by folder name only
    assert "given a video file, the shipped processor takes 4 frames" in text and "does not apply" not in text
    assert "clip_embedding = tokens.mean(dim=1)" in text  # token features and a clip embedding
    assert 'AutoModelForVideoClassification.from_pretrained(\n    "me/tiny-pre",\n    trust_remote_code=True,' in text
    assert "| `mask_ratio` | 0.9 |" in text and "| `base_learning_rate` | 0.1 |" in text  # the recipe
    assert [str(requirement) for requirement in av_installs(text)] == [f"av>={MIN_AV_VERSION}"]  # phones upright
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == STEPS and f"{losses[0]:.4f} (step 1) to {losses[-1]:.4f} (step {STEPS})" in text
    assert "![Pre-training loss against the optimiser step](loss_curve.png)" in text
    assert "reconstructions.png" not in text and "The card shows no frames of the training videos" in text
    assert str(run.parent) not in (exported / "README.md").read_text()  # no local path is published

    with Image.open(exported / "loss_curve.png") as image:
        assert image.format == "PNG" and image.width >= 400


def test_the_reconstructions_are_published_only_when_asked(run: Path, tmp_path: Path) -> None:
    """A pre-trained export published reconstructions.png, unblurred frames of a creator's training video, whatever
    the videos; now only with --show-training-frames (or for videos --pretraining-data describes, below)."""
    from hf_tiktokactions.cli import main as cli_main

    out = tmp_path / "out"
    assert cli_main(["export", "--model", str(run / "final"), "--output-dir", str(out), "--show-training-frames"]) == 0
    text = (out / "README.md").read_text()
    assert "![Original, masked and reconstructed frames](reconstructions.png)" in text and f"at step {STEPS}" in text
    assert "shows the frames of one training clip" in text
    assert (out / "reconstructions.png").read_bytes() == (run / "reconstructions" / f"step-{STEPS}.png").read_bytes()


def _without_package_env(home: Path) -> dict[str, str]:
    """The environment of a user's fresh interpreter: offline, with a new modules cache (the code must come from the
    exported folder)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HF_HOME": str(home / "hf_home"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


# A fresh interpreter in which `import hf_tiktokactions` fails, like a user who only has torch + transformers.
REMOTE_LOAD = BLOCK_OUR_PACKAGE + textwrap.dedent(
    """

    import torch
    from transformers import AutoModel, AutoModelForPreTraining, AutoVideoProcessor

    folder, work = sys.argv[1], sys.argv[2]
    inputs = torch.load(f"{work}/inputs.pt")
    processor = AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)  # as the card loads it
    from_file = processor(f"{work}/video.mp4", return_tensors="pt")["pixel_values"]
    encoder, loading = AutoModel.from_pretrained(folder, trust_remote_code=True, output_loading_info=True)
    encoder.eval()
    mae = AutoModelForPreTraining.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.inference_mode():
        features = encoder(inputs["pixel_values"])
        reconstruction = mae(**inputs)
    torch.save(
        {
            "tokens": features.last_hidden_state,
            "pooled": getattr(features, "pooler_output", None),
            "logits": reconstruction.logits,
            "loss": reconstruction.loss,
            "classes": [type(encoder).__name__, type(mae).__name__, type(mae).__module__],
            "from_file": from_file,
            "encoder_loading": {name: sorted(keys) for name, keys in loading.items() if name != "error_msgs"},
        },
        f"{work}/outputs.pt",
    )
    assert not any(m == "hf_tiktokactions" or m.startswith("hf_tiktokactions.") for m in sys.modules)
    """
)


def _run_without_our_package(script: str, exported: Path, tmp_path: Path) -> dict:
    """Run ``script`` (argv: the export, a work folder) where our package cannot be imported; its outputs.pt."""
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(exported), str(tmp_path)],
        cwd=tmp_path, env=_without_package_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(tmp_path / "outputs.pt")


def test_a_user_without_our_package_gets_features_and_reconstructions(run: Path, exported: Path, tmp_path) -> None:
    ours = VideoMAEv2ForPreTraining.from_pretrained(run / "final").eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    masks = ours.draw_masks(2, torch.Generator().manual_seed(2))
    inputs = {"pixel_values": pixel_values, "bool_masked_pos": masks[0], "decoder_masked_pos": masks[1]}
    with torch.inference_mode():
        expected_tokens = ours.encoder(pixel_values).last_hidden_state  # the pre-training encoder, all tokens
        expected = ours(**inputs)
    torch.save(inputs, tmp_path / "inputs.pt")
    write_test_video(tmp_path / "video.mp4", 40, 48, 64)

    outputs = _run_without_our_package(REMOTE_LOAD, exported, tmp_path)
    assert outputs["classes"][:2] == ["VideoMAEv2Model", "VideoMAEv2ForPreTraining"]
    assert outputs["classes"][2].startswith("transformers_modules.")
    assert outputs["tokens"].shape == (2, 2 * 4 * 4, 64)  # (B, N, D): features for downstream use
    assert outputs["from_file"].shape == (1, 4, 3, 32, 32)  # the card's processor reads a video file
    # the pre-trained encoder's output, its final norm included, and every encoder weight used: the load report
    # lists nothing (the decoder's keys are not the encoder's business)
    torch.testing.assert_close(outputs["tokens"], expected_tokens, rtol=1e-5, atol=1e-5)
    assert outputs["encoder_loading"]["unexpected_keys"] == [], outputs["encoder_loading"]
    assert not any(outputs["encoder_loading"].values()), outputs["encoder_loading"]
    assert outputs["pooled"] is None  # no trained pooling layer: the card averages the tokens
    torch.testing.assert_close(outputs["logits"], expected.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outputs["loss"], expected.loss, rtol=1e-5, atol=1e-6)


# The card's fine-tuning path: a classifier on the pre-trained encoder, with transformers alone.
REMOTE_FINETUNE = BLOCK_OUR_PACKAGE + textwrap.dedent(
    """

    import torch
    from transformers import AutoModelForVideoClassification

    folder, work = sys.argv[1], sys.argv[2]
    model, loading = AutoModelForVideoClassification.from_pretrained(
        folder, trust_remote_code=True, num_labels=4, output_loading_info=True
    )
    model.eval()
    with torch.inference_mode():
        logits = model(torch.load(f"{work}/pixel_values.pt")).logits
    model.save_pretrained(f"{work}/classifier")
    torch.save(
        {
            "class": type(model).__name__,
            "state": model.state_dict(),
            "logits": logits,
            "loading": {name: sorted(keys) for name, keys in loading.items() if name != "error_msgs"},
        },
        f"{work}/outputs.pt",
    )
    assert not any(m == "hf_tiktokactions" or m.startswith("hf_tiktokactions.") for m in sys.modules)
    """
)


def test_a_user_without_our_package_fine_tunes_from_the_pretrained_export(run: Path, exported: Path, tmp_path) -> None:
    """The classifier transformers builds from the export starts as ours from the pre-training folder: the encoder
    loaded without its final norm, mean pooling through a new fc_norm, a new head (official fine-tuning)."""
    args = FinetuneArguments(init_from=str(run / "final"), num_frames=4, input_size=32)
    ours = build_classifier(args, ["a", "b", "c", "d"], tmp_path)[0].eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    torch.save(pixel_values, tmp_path / "pixel_values.pt")

    outputs = _run_without_our_package(REMOTE_FINETUNE, exported, tmp_path)
    theirs, expected = outputs["state"], ours.state_dict()
    assert outputs["class"] == "VideoMAEv2ForVideoClassification"
    assert outputs["loading"]["missing_keys"] == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert outputs["loading"]["unexpected_keys"] == [] and not outputs["loading"].get("mismatched_keys")
    assert theirs.keys() == expected.keys() and "encoder.norm.weight" not in theirs
    for name in expected:
        if not name.startswith("head."):  # the encoder's pre-trained weights, fc_norm's ones and zeros
            assert torch.equal(theirs[name], expected[name]), name
    assert not theirs["head.bias"].any()
    head_std = float(theirs["head.weight"].std())  # truncated normal, std 0.02 x head_init_scale, as ours
    assert head_std == pytest.approx(float(expected["head.weight"].std()), rel=0.3)
    with torch.inference_mode():
        ours.head.weight.copy_(theirs["head.weight"])
        torch.testing.assert_close(ours(pixel_values).logits, outputs["logits"], rtol=1e-5, atol=1e-5)
    saved = json.loads((tmp_path / "classifier" / "config.json").read_text())
    assert saved["use_mean_pooling"] is True and saved["add_final_norm"] is None  # AutoModel on it: no norm it lacks


def test_the_space_refuses_the_pretrained_export(exported: Path, tmp_path: Path) -> None:
    from hf_tiktokactions.hub.space import write_space

    with pytest.raises(ConfigError, match="needs a fine-tuned classifier"):
        write_space(exported, tmp_path / "space")  # it maps AutoModelForVideoClassification, but has no trained head
    assert not (tmp_path / "space").exists()


def test_export_space_refuses_a_pretrained_model_before_writing_anything(run: Path, tmp_path: Path, capsys) -> None:
    """Both command lines: no export folder is left behind, so the corrected command needs no --overwrite."""
    from hf_tiktokactions.cli import main as cli_main

    for number, command in enumerate([lambda argv: run_cli(hub_main, argv), cli_main]):
        output, space = tmp_path / f"out{number}", tmp_path / f"space{number}"
        argv = ["export", "--model", str(run / "final"), "--output", str(output), "--space", str(space)]
        capsys.readouterr()
        assert command(argv) == 2
        error = capsys.readouterr().err
        assert "--space needs a fine-tuned classifier" in error and "Traceback" not in error
        assert not output.exists() and not space.exists()


def test_push_uploads_the_pretrained_export(run: Path, exported: Path, hub_calls, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests_0123456789")
    assert hub_main(["push", "--model", str(run / "final"), "--repo-id", "me/tiny-pre"]) == 0
    (_, _, _), (_, repo_id, _, uploaded) = hub_calls
    assert repo_id == "me/tiny-pre" and uploaded == digests(exported)  # same names, same bytes


def _poison(model_dir: Path, destination: Path, tensor: str, value: float) -> Path:
    """A copy of ``model_dir`` whose ``tensor`` holds one ``value`` (NaN or inf), as a diverged run saves."""
    destination.mkdir()
    (destination / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    weights = load_file(model_dir / "model.safetensors")
    weights[tensor] = weights[tensor].clone()
    weights[tensor].view(-1)[3] = value
    save_file(weights, destination / "model.safetensors", metadata={"format": "pt"})
    return destination


def test_export_and_push_refuse_non_finite_weights(run: Path, tmp_path: Path, hub_calls, monkeypatch, capsys) -> None:
    from test_hub_export import tiny_classifier

    poisoned = _poison(run / "final", tmp_path / "nan", "decoder.head.weight", float("nan"))
    weights_file = str(poisoned / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"non-finite weights \(NaN or inf\).*decoder\.head\.weight") as error:
        export_model(poisoned, tmp_path / "out")
    assert str(error.value).startswith(weights_file) and not (tmp_path / "out").exists()

    tiny_classifier(tmp_path / "classifier")
    inf_classifier = _poison(tmp_path / "classifier", tmp_path / "inf", "encoder.blocks.0.mlp.fc1.weight", float("inf"))
    argv = ["export", "--model", str(inf_classifier), "--output", str(tmp_path / "out2")]
    capsys.readouterr()
    assert run_cli(hub_main, argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "it/s]" not in line and line.strip()]
    assert len(lines) == 1 and str(inf_classifier / "model.safetensors") in lines[0] and "fc1.weight" in lines[0]

    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests_0123456789")
    assert run_cli(hub_main, ["push", "--model", str(poisoned), "--repo-id", "me/diverged"]) == 2
    assert weights_file in capsys.readouterr().err
    assert hub_calls == []  # nothing was uploaded


def test_a_pretraining_on_other_videos_is_described_as_its_owner_says(run: Path, tmp_path: Path) -> None:
    """The pre-trained card described TikTok videos, a person filter and their ethics for any run."""
    out = tmp_path / "out"
    described = "the lab's own fitness recordings, with consent"
    argv = ["export", "--model", str(run / "final"), "--output", str(out), "--pretraining-data", described]
    assert hub_main(argv) == 0
    card = (out / "README.md").read_text()
    assert f"Pre-training used {described}, without labels" in card
    assert (out / "reconstructions.png").is_file()  # the owner's own videos: their frames may be shown
    assert "TikTok Research API" not in card and "## Ethics" not in card and "show people" not in card
