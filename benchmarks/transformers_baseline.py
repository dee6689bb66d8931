"""transformers' VideoMAE of the same size as one of our configs: the baseline the benchmarks time in the same run."""

from __future__ import annotations

import transformers

from hf_tiktokactions.modeling import VideoMAEv2Config


def videomae_config(config: VideoMAEv2Config, **overrides) -> transformers.VideoMAEConfig:
    """A ``transformers.VideoMAEConfig`` with ``config``'s sizes (encoder and decoder); ``overrides`` win."""
    sizes = dict(
        image_size=config.image_size,
        patch_size=config.patch_size,
        num_frames=config.num_frames,
        tubelet_size=config.tubelet_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        decoder_hidden_size=config.decoder_hidden_size,
        decoder_num_hidden_layers=config.decoder_num_hidden_layers,
        decoder_num_attention_heads=config.decoder_num_attention_heads,
        decoder_intermediate_size=config.decoder_intermediate_size,
        layer_norm_eps=config.layer_norm_eps,
    )
    return transformers.VideoMAEConfig(**{**sizes, **overrides})
