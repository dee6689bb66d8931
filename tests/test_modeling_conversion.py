"""``python -m hf_tiktokactions.convert`` on official-format checkpoints built here from the documented key layout."""

import argparse
import json
import subprocess
import sys

import pytest
import torch

from hf_tiktokactions import (
    VideoMAEv2Config,
    VideoMAEv2ForPreTraining,
    VideoMAEv2ForVideoClassification,
    VideoMAEv2Model,
)
from hf_tiktokactions.errors import CheckpointError
from hf_tiktokactions.modeling.conversion import convert
from hf_tiktokactions.modeling.modeling_videomaev2 import sinusoid_position_table


class NotAllowListed:
    """A class a weights_only unpickler must refuse."""


def tiny_config(**overrides) -> VideoMAEv2Config:
    return VideoMAEv2Config.from_preset("vit-tiny", **overrides)


def random_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {k: torch.randn(v.shape, generator=generator) * 0.1 for k, v in model.state_dict().items()}


def official_pretraining_checkpoint(path, prefix: str = "") -> dict[str, torch.Tensor]:
    """An official pre-training checkpoint: {'model': {encoder.*, encoder_to_decoder.weight, mask_token,
    decoder.*}, 'args': Namespace}; returns the state dict in our names."""
    state = random_state(VideoMAEv2ForPreTraining(tiny_config()))
    args = argparse.Namespace(model="pretrain_videomae_tiny", num_frames=4, input_size=32, tubelet_size=2)
    torch.save({"model": {prefix + k: v for k, v in state.items()}, "args": args, "epoch": 3}, path)
    return state


def official_finetuned_checkpoint(path, num_labels: int = 6) -> dict[str, torch.Tensor]:
    """An official fine-tuned checkpoint: {'module': {patch_embed.*, blocks.*, fc_norm.*, head.*}}, with the
    fixed position table that such files can carry."""
    state = random_state(VideoMAEv2ForVideoClassification(tiny_config(num_labels=num_labels)))
    official = {k.removeprefix("encoder."): v for k, v in state.items()}
    official["pos_embed"] = sinusoid_position_table(32, 64)
    torch.save({"module": official, "args": argparse.Namespace(num_frames=4, input_size=32)}, path)
    return state


def load_official(path) -> dict:
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, weights_only=True)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions.convert", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def convert_here(capfd, *args: str) -> subprocess.CompletedProcess:
    """What :func:`run_cli` runs (``hf_tiktokactions.convert.main``), in this process: for the CLI's errors, where a
    fresh process is not the point (the test above runs ``python -m hf_tiktokactions.convert``)."""
    from hf_tiktokactions.convert import main

    code = main([str(arg) for arg in args])
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_cli_converts_an_official_pretraining_checkpoint(tmp_path):
    state = official_pretraining_checkpoint(tmp_path / "pretrain.pth", prefix="_orig_mod.")
    result = run_cli(tmp_path / "pretrain.pth", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task"] == "pretraining" and report["architecture"] == "VideoMAEv2ForPreTraining"
    model = VideoMAEv2ForPreTraining.from_pretrained(tmp_path / "out")
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key
    assert json.loads((tmp_path / "out" / "conversion.json").read_text()) == report


def test_official_finetuned_checkpoint_gives_the_same_logits(tmp_path):
    state = official_finetuned_checkpoint(tmp_path / "finetuned.pth")
    report = convert(tmp_path / "finetuned.pth", tmp_path / "out")
    assert report["task"] == "classification"
    assert report["dropped_keys"] == ["pos_embed"]
    reference = VideoMAEv2ForVideoClassification(tiny_config(num_labels=6)).eval()
    reference.load_state_dict(state)
    converted = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "out").eval()
    x = torch.randn(2, 4, 3, 32, 32)
    torch.testing.assert_close(converted(x).logits, reference(x).logits, atol=0, rtol=0)


def test_pretraining_checkpoint_to_classification_keeps_the_encoder(tmp_path):
    state = official_pretraining_checkpoint(tmp_path / "pretrain.pth")
    report = convert(tmp_path / "pretrain.pth", tmp_path / "out", task="classification", num_labels=5)
    model = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "out")
    assert model.config.num_labels == 5 and model.config.use_mean_pooling
    assert torch.equal(model.encoder.blocks[1].attn.q_bias, state["encoder.blocks.1.attn.q_bias"])
    assert "decoder.head.weight" in report["dropped_keys"] and "encoder.norm.weight" in report["dropped_keys"]


def test_a_pretrained_export_converts_to_its_encoder_with_the_norm_and_to_a_classifier_without(tmp_path):
    """A pre-trained model's export records ``add_final_norm``: its encoder keeps the norm, a classifier does not."""
    pretrained = VideoMAEv2ForPreTraining(tiny_config(add_final_norm=True))
    pretrained.save_pretrained(tmp_path / "export")
    report = convert(tmp_path / "export", tmp_path / "encoder", task="encoder")
    assert "encoder.norm.weight" not in report["dropped_keys"]
    encoder = VideoMAEv2Model.from_pretrained(tmp_path / "encoder")
    assert torch.equal(encoder.norm.weight, pretrained.encoder.norm.weight)

    report = convert(tmp_path / "export", tmp_path / "classifier", task="classification", num_labels=3)
    assert "encoder.norm.weight" in report["dropped_keys"]
    config = json.loads((tmp_path / "classifier" / "config.json").read_text())
    assert config["add_final_norm"] is None and config["use_mean_pooling"] is True


def test_missing_q_bias_is_an_error_not_a_zero(tmp_path, capfd):
    state = official_finetuned_checkpoint(tmp_path / "finetuned.pth")
    checkpoint = load_official(tmp_path / "finetuned.pth")
    del checkpoint["module"]["blocks.1.attn.q_bias"]
    torch.save(checkpoint, tmp_path / "broken.pth")
    result = convert_here(capfd, tmp_path / "broken.pth", tmp_path / "out")
    assert result.returncode == 2
    assert "missing ['encoder.blocks.1.attn.q_bias']" in result.stderr
    assert "Traceback" not in result.stderr
    assert state  # the intact checkpoint was valid; only the deletion broke it


def test_unexpected_keys_are_an_error(tmp_path):
    official_finetuned_checkpoint(tmp_path / "finetuned.pth")
    checkpoint = load_official(tmp_path / "finetuned.pth")
    checkpoint["module"]["blocks.0.attn.k_bias"] = torch.ones(64)
    torch.save(checkpoint, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match=r"unexpected \['encoder.blocks.0.attn.k_bias'\]"):
        convert(tmp_path / "extra.pth", tmp_path / "out")


def test_a_folder_whose_config_is_hostile_is_a_checkpoint_error_naming_it(tmp_path):
    """convert (and so finetune --init_from) of a folder whose config.json is refused ended in a ValueError
    traceback; it is the one-line error of a bad checkpoint, naming the folder."""
    folder = tmp_path / "from_the_hub"
    VideoMAEv2ForVideoClassification(VideoMAEv2Config.from_preset("vit-tiny", num_labels=3)).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 100_000}))
    with pytest.raises(CheckpointError, match=f"^{folder}: invalid VideoMAEv2Config: 100000 \\+ 1 blocks"):
        convert(folder, tmp_path / "out")


def test_a_finetuned_checkpoint_cannot_become_a_pretraining_model(tmp_path):
    official_finetuned_checkpoint(tmp_path / "finetuned.pth")
    with pytest.raises(CheckpointError, match="no decoder"):
        convert(tmp_path / "finetuned.pth", tmp_path / "out", task="pretraining")


def test_pickles_are_loaded_with_weights_only(tmp_path):
    state = random_state(VideoMAEv2ForVideoClassification(tiny_config(num_labels=2)))
    torch.save({"module": state, "args": NotAllowListed()}, tmp_path / "unsafe.pth")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        convert(tmp_path / "unsafe.pth", tmp_path / "out")


def test_explicit_preset_and_bad_paths(tmp_path, capfd):
    official_pretraining_checkpoint(tmp_path / "pretrain.pth")
    assert convert(tmp_path / "pretrain.pth", tmp_path / "out", preset="vit-tiny")["preset"] == "vit-tiny"
    # the shapes win over a preset's sizes, but no shape shows the heads: vit-b's 12 on these weights, silently
    does_not_fit = r"--model-preset vit-b does not fit these weights: hidden_size 768 \(the weights: 64\)"
    with pytest.raises(CheckpointError, match=does_not_fit):
        convert(tmp_path / "pretrain.pth", tmp_path / "wrong", preset="vit-b")
    assert not (tmp_path / "wrong").exists()
    result = convert_here(capfd, tmp_path / "nope.pth", tmp_path / "out2")
    assert result.returncode == 2 and "nope.pth does not exist" in result.stderr
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        convert(tmp_path / "junk.pth", tmp_path / "out3")


def test_the_preprocessing_an_official_run_recorded_reaches_the_export(tmp_path):
    """An SSv2 checkpoint's args say segment sampling, stride 2, 2x3 test views: the export's processor took the
    dense defaults (stride 4, 5x3), and pipeline() fed the model clips it was never trained on."""
    from hf_tiktokactions.hub.export import export_model

    state = random_state(VideoMAEv2ForVideoClassification(tiny_config(num_labels=3)))
    args = argparse.Namespace(
        num_frames=4, input_size=32, data_set="SSV2", sampling_rate=2, short_side_size=32, test_num_segment=2,
        test_num_crop=3,
    )  # fmt: skip
    torch.save({"module": {k.removeprefix("encoder."): v for k, v in state.items()}, "args": args}, tmp_path / "s.pth")
    report = convert(tmp_path / "s.pth", tmp_path / "converted")
    expected = {"sampling_rate": 2, "short_side": 32, "num_views": 2, "num_crops": 3, "segment_based": True}
    assert report["preprocessing"] == expected
    export_model(tmp_path / "converted", tmp_path / "export")
    processor = json.loads((tmp_path / "export" / "video_preprocessor_config.json").read_text())
    assert (processor["segment_based"], processor["sampling_rate"], processor["num_views"], processor["num_crops"]) == (
        True,
        2,
        2,
        3,
    )
    official_finetuned_checkpoint(tmp_path / "k400.pth")  # args without data_set: nothing said, the defaults stay
    assert convert(tmp_path / "k400.pth", tmp_path / "k400")["preprocessing"] == {}


def test_a_recognised_preset_is_not_held_against_a_model_of_its_own_mlp_size(tmp_path):
    """The preset check is for one the user passed: a vit-tiny-wide model with another MLP size (recognised as
    vit-tiny by width and depth) was refused for a --model-preset nobody gave. An SSv2-style sparse Kinetics run
    (``--sparse_sample``) samples segments too."""
    from hf_tiktokactions.modeling.conversion import preprocessing_from_args

    state = random_state(VideoMAEv2ForVideoClassification(tiny_config(num_labels=3, intermediate_size=96)))
    torch.save({"module": {k.removeprefix("encoder."): v for k, v in state.items()}}, tmp_path / "own.pth")
    convert(tmp_path / "own.pth", tmp_path / "own")
    assert VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "own").config.intermediate_size == 96
    assert preprocessing_from_args({"data_set": "Kinetics-400", "sparse_sample": True})["segment_based"] is True
    assert preprocessing_from_args({"data_set": "Kinetics-400", "sparse_sample": False})["segment_based"] is False
