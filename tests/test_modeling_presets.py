"""Every official-size preset builds the official model's shapes, encoder and decoder.

The numbers below are written from OpenGVLab/VideoMAEv2 ``models/modeling_pretrain.py`` (the functions
``pretrain_videomae_{small,base,large,huge}_patch16_224`` and ``pretrain_videomae_giant_patch14_224``: encoder /
decoder embed dims, depths, heads, ``mlp_ratio`` shared by encoder and decoder, ``decoder_num_classes``) and
``models/modeling_finetune.py`` (``vit_{small,base,large,huge}_patch16_224``, ``vit_giant_patch14_224``: the same
encoders). The MLP width is ``int(dim * mlp_ratio)`` (official ``Block``); the decoder depth is 4, the official
``--decoder_depth`` of every pre-training script. Models are built on the meta device: shapes, no memory.
"""

from __future__ import annotations

import pytest
import torch

from hf_tiktokactions.modeling.configuration_videomaev2 import VideoMAEv2Config
from hf_tiktokactions.modeling.modeling_videomaev2 import VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification

# preset: (patch, embed_dim, depth, heads, mlp_ratio, decoder_embed_dim, decoder_heads, decoder_num_classes)
OFFICIAL = {
    "vit-s": (16, 384, 12, 6, 4, 192, 3, 1536),  # pretrain_videomae_small_patch16_224 / vit_small_patch16_224
    "vit-b": (16, 768, 12, 12, 4, 384, 6, 1536),  # pretrain_videomae_base_patch16_224 / vit_base_patch16_224
    "vit-l": (16, 1024, 24, 16, 4, 512, 8, 1536),  # pretrain_videomae_large_patch16_224 / vit_large_patch16_224
    "vit-h": (16, 1280, 32, 16, 4, 512, 8, 1536),  # pretrain_videomae_huge_patch16_224 / vit_huge_patch16_224
    "vit-g": (14, 1408, 40, 16, 48 / 11, 512, 8, 1176),  # pretrain_videomae_giant_patch14_224 / vit_giant_patch14_224
}
DECODER_DEPTH = 4


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("preset", sorted(OFFICIAL))
def test_pretraining_preset_has_the_official_shapes(preset):
    patch, dim, depth, heads, mlp_ratio, dec_dim, dec_heads, dec_out = OFFICIAL[preset]
    config = VideoMAEv2Config.from_preset(preset)
    with torch.device("meta"):
        shapes = _shapes(VideoMAEv2ForPreTraining(config))
    mlp, dec_mlp = int(dim * mlp_ratio), int(dec_dim * mlp_ratio)

    assert shapes["encoder.patch_embed.proj.weight"] == (dim, 3, 2, patch, patch)
    assert sum(k.startswith("encoder.blocks.") and k.endswith(".mlp.fc1.weight") for k in shapes) == depth
    assert shapes["encoder.blocks.0.attn.qkv.weight"] == (3 * dim, dim)
    assert shapes[f"encoder.blocks.{depth - 1}.mlp.fc1.weight"] == (mlp, dim)
    assert shapes[f"encoder.blocks.{depth - 1}.mlp.fc2.weight"] == (dim, mlp)
    assert config.num_attention_heads == heads

    assert shapes["encoder_to_decoder.weight"] == (dec_dim, dim)
    assert shapes["mask_token"] == (1, 1, dec_dim)
    assert sum(k.startswith("decoder.blocks.") and k.endswith(".mlp.fc1.weight") for k in shapes) == DECODER_DEPTH
    assert shapes["decoder.blocks.0.attn.qkv.weight"] == (3 * dec_dim, dec_dim)
    assert shapes["decoder.blocks.0.mlp.fc1.weight"] == (dec_mlp, dec_dim)
    assert shapes["decoder.blocks.0.mlp.fc2.weight"] == (dec_dim, dec_mlp)
    assert shapes["decoder.head.weight"] == (dec_out, dec_dim)
    assert config.decoder_num_attention_heads == dec_heads


def test_vit_g_decoder_mlp_is_2234_wide():
    """The official ViT-g decoder MLP keeps the encoder's ratio 48/11: int(512 * 48 / 11), not 4 x 512."""
    assert VideoMAEv2Config.from_preset("vit-g").decoder_intermediate_size == 2234


@pytest.mark.parametrize("preset", sorted(OFFICIAL))
def test_classification_preset_has_the_official_encoder(preset):
    patch, dim, depth, heads, mlp_ratio, *_ = OFFICIAL[preset]
    with torch.device("meta"):
        shapes = _shapes(VideoMAEv2ForVideoClassification(VideoMAEv2Config.from_preset(preset, num_labels=400)))
    assert shapes["encoder.patch_embed.proj.weight"] == (dim, 3, 2, patch, patch)
    assert sum(k.endswith(".mlp.fc1.weight") for k in shapes) == depth
    assert shapes["encoder.blocks.0.mlp.fc1.weight"] == (int(dim * mlp_ratio), dim)
    assert shapes["fc_norm.weight"] == (dim,)
    assert shapes["head.weight"] == (400, dim)
