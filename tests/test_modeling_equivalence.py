"""Equivalence with someone else's code: transformers' VideoMAE, converted into our classes."""

import pytest
import torch
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEForVideoClassification, VideoMAEModel

from hf_tiktokactions import VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification, VideoMAEv2Model
from hf_tiktokactions.modeling import tube_mask
from hf_tiktokactions.modeling.conversion import convert

SMALL = dict(
    image_size=32,
    patch_size=8,
    num_frames=4,
    tubelet_size=2,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=128,
    decoder_hidden_size=32,
    decoder_num_hidden_layers=2,
    decoder_num_attention_heads=2,
    decoder_intermediate_size=64,
    layer_norm_eps=1e-6,
    qv_bias=True,
)


def randomise(model: torch.nn.Module) -> torch.nn.Module:
    """Give every parameter (q/v biases and LayerNorms included) non-trivial random values, so a
    dropped or misplaced tensor cannot go unnoticed."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("attention.key.bias"):
                # VideoMAE has no key bias; transformers releases that store one as a parameter (5.17) keep it
                # at zero, and the converter refuses a non-zero one
                param.zero_()
                continue
            is_norm_scale = "norm" in name and name.endswith("weight")
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2 + (1.0 if is_norm_scale else 0.0))
    return model.eval()


def clip(batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("masked", [False, True])
def test_encoder_matches_transformers_videomae_model(tmp_path, masked):
    theirs = randomise(VideoMAEModel(VideoMAEConfig(**SMALL, use_mean_pooling=False)))
    theirs.save_pretrained(tmp_path / "theirs")
    report = convert(tmp_path / "theirs", tmp_path / "ours", task="classification", num_labels=3)
    assert report["source_format"] == "transformers"
    ours = VideoMAEv2Model.from_pretrained(tmp_path / "ours", use_mean_pooling=False).eval()
    x = clip()
    mask = tube_mask(2, 2, 16, 0.75, torch.Generator().manual_seed(2)) if masked else None
    with torch.no_grad():
        expected = theirs(x, bool_masked_pos=mask).last_hidden_state
        got = ours(x, bool_masked_pos=mask).last_hidden_state
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("use_mean_pooling", [True, False])
def test_classifier_matches_transformers_videomae_classifier(tmp_path, use_mean_pooling):
    # use_mean_pooling=False is how MCG-NJU/videomae-base is configured, so what its fine-tuning tutorial gives:
    # the final layernorm, then token 0
    config = VideoMAEConfig(**SMALL, use_mean_pooling=use_mean_pooling, num_labels=5)
    theirs = randomise(VideoMAEForVideoClassification(config))
    theirs.save_pretrained(tmp_path / "theirs")
    convert(tmp_path / "theirs", tmp_path / "ours")
    ours = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "ours").eval()
    assert ours.config.use_mean_pooling == use_mean_pooling
    x = clip()
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, theirs(x).logits, atol=1e-5, rtol=0)


def test_pretraining_loss_matches_transformers_with_decoder_ratio_zero(tmp_path):
    """transformers' VideoMAE is V1: its decoder reconstructs every masked token. The converted folder says so (it
    converted with V2's running-cell ratio 0.5, and reconstructed 16 of the 28 masked tokens of a random draw)."""
    theirs = randomise(VideoMAEForPreTraining(VideoMAEConfig(**SMALL, use_mean_pooling=False, norm_pix_loss=True)))
    theirs.save_pretrained(tmp_path / "theirs")
    convert(tmp_path / "theirs", tmp_path / "ours")
    ours = VideoMAEv2ForPreTraining.from_pretrained(tmp_path / "ours", mask_ratio=0.75).eval()
    assert ours.config.decoder_mask_ratio == 0.0
    x = clip(3)
    mask = tube_mask(3, 2, 16, 0.75, torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = theirs(x, bool_masked_pos=mask)
        got = ours(x, bool_masked_pos=mask)
    assert torch.equal(got.decoder_masked_pos, ~mask)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-5, rtol=1e-5)


def test_a_pretraining_folder_without_the_encoders_final_norm_is_named(tmp_path):
    """transformers' default (use_mean_pooling=True) leaves the encoder without a final LayerNorm: the pre-training
    model cannot be rebuilt (the error only said a key was missing); its encoder still converts."""
    from hf_tiktokactions.errors import CheckpointError

    theirs = randomise(VideoMAEForPreTraining(VideoMAEConfig(**SMALL, use_mean_pooling=True)))
    theirs.save_pretrained(tmp_path / "theirs")
    with pytest.raises(CheckpointError, match=r"no final LayerNorm .*use_mean_pooling=True.*--task encoder"):
        convert(tmp_path / "theirs", tmp_path / "ours")
    assert convert(tmp_path / "theirs", tmp_path / "encoder", task="encoder")["task"] == "encoder"


def test_a_hub_repository_with_pickled_weights_only_converts_by_its_id(tmp_path):
    """Repositories from before safetensors hold pytorch_model.bin (read with weights_only), converted by repo id
    from the Hub cache. (Online, resolve_source now also asks for pytorch_model.bin when a repository has no
    safetensors; offline, the cached snapshot holds every file, so this test cannot tell the two apart.)"""
    import os
    import subprocess
    import sys

    from test_convert_released_checkpoints import hub_cache_with

    theirs = randomise(VideoMAEForVideoClassification(VideoMAEConfig(**SMALL, num_labels=5)))
    theirs.config.save_pretrained(tmp_path / "theirs")  # the layout transformers 4 wrote by default before 4.35
    torch.save(theirs.state_dict(), tmp_path / "theirs" / "pytorch_model.bin")
    files = {name: tmp_path / "theirs" / name for name in ("config.json", "pytorch_model.bin")}
    hub_cache_with(tmp_path / "hub", "MCG-NJU/videomae-old", files)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "hf_tiktokactions", "convert", "MCG-NJU/videomae-old", str(tmp_path / "ours")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    ours = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "ours").eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(clip()).logits, theirs(clip()).logits, atol=1e-5, rtol=0)
