"""Configuration of VideoMAE V2 models.

Self-contained (imports only transformers), so it can be shipped to the Hub as custom code.
"""

from __future__ import annotations

import numbers
from typing import Any

from transformers import PretrainedConfig

# Official VideoMAE V2 sizes (OpenGVLab/VideoMAEv2 `models/modeling_pretrain.py` / `models/modeling_finetune.py`;
# tests/test_modeling_presets.py holds the official numbers). Encoder: hidden, depth, heads, mlp; decoder: hidden,
# heads, mlp (depth 4 for all, the official --decoder_depth).
_PRESETS: dict[str, dict[str, Any]] = {
    "vit-tiny": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=64,
        image_size=32,
        patch_size=8,
        num_frames=4,
    ),
    # The embedded synthetic set's model: 4 blocks of 128 on 8x64x64 clips, small enough for a CPU, large
    # enough that pre-training beats scratch there (training/README.md, rows 11-12).
    "vit-mini": dict(
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=512,
        decoder_hidden_size=64,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=128,
        image_size=64,
        patch_size=8,
        num_frames=8,
    ),
    "vit-s": dict(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        intermediate_size=1536,
        decoder_hidden_size=192,
        decoder_num_attention_heads=3,
        decoder_intermediate_size=768,
    ),
    "vit-b": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        decoder_hidden_size=384,
        decoder_num_attention_heads=6,
        decoder_intermediate_size=1536,
    ),
    "vit-l": dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        decoder_hidden_size=512,
        decoder_num_attention_heads=8,
        decoder_intermediate_size=2048,
    ),
    "vit-h": dict(
        hidden_size=1280,
        num_hidden_layers=32,
        num_attention_heads=16,
        intermediate_size=5120,
        decoder_hidden_size=512,
        decoder_num_attention_heads=8,
        decoder_intermediate_size=2048,
    ),
    "vit-g": dict(
        hidden_size=1408,
        num_hidden_layers=40,
        num_attention_heads=16,
        intermediate_size=6144,  # int(1408 * 48 / 11): the official mlp_ratio=48/11
        decoder_hidden_size=512,
        decoder_num_attention_heads=8,
        decoder_intermediate_size=2234,  # int(512 * 48 / 11): the decoder shares the encoder's mlp_ratio
        patch_size=14,
    ),
}


_POSITIVE_INTEGERS = (
    "image_size", "patch_size", "num_channels", "num_frames", "tubelet_size", "hidden_size", "num_hidden_layers",
    "num_attention_heads", "intermediate_size", "decoder_hidden_size", "decoder_num_attention_heads",
    "decoder_intermediate_size",
)  # fmt: skip
# Far beyond any VideoMAE V2 (ViT-g: 40 + 4 blocks, ~1e9 parameters, 2048 tokens at 16x224 with patch 14), and
# below what would take hours to build or allocate more than a large machine holds (2e10 float32 parameters: 80 GB).
_MAX_BLOCKS, _MAX_PARAMETERS, _MAX_TOKENS = 1024, 2e10, 2**18


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class VideoMAEv2Config(PretrainedConfig):
    r"""Configuration of [`VideoMAEv2Model`], [`VideoMAEv2ForPreTraining`] and [`VideoMAEv2ForVideoClassification`].

    Defaults are the official ViT-B/16, 16 frames, 224x224, tubelet 2, pre-trained with tube masking 0.9
    and running-cell decoder masking 0.5. Use [`VideoMAEv2Config.from_preset`] for the other sizes.

    Args:
        image_size, patch_size, num_channels, num_frames, tubelet_size: input geometry. The token grid is
            (num_frames / tubelet_size, image_size / patch_size, image_size / patch_size).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: the encoder.
        hidden_act, layer_norm_eps, qkv_bias: block details; ``qkv_bias`` adds learned q and v biases
            (the k bias is always zero, as in the official code).
        hidden_dropout_prob, attention_probs_dropout_prob, drop_path_rate: regularisation; drop path
            grows linearly from 0 to ``drop_path_rate`` over the encoder blocks.
        layer_scale_init_value: LayerScale init (0 disables it, the official default).
        use_mean_pooling: classification by mean pooling + ``fc_norm`` (official); when False the
            encoder keeps its final ``norm`` and classifies from token 0 (official ``--use_cls``).
        add_pooling_layer: the bare encoder (``VideoMAEv2Model``, ``AutoModel``) ends with mean pooling +
            ``fc_norm`` and returns ``pooler_output`` (OpenGVLab's Hub encoders and their ``extract_features``).
        add_final_norm: the bare encoder applies the final ``norm``; None (default): when ``use_mean_pooling``
            is False. The export of a pre-trained model sets it, so that ``AutoModel`` returns the pre-training
            encoder's output. The other models ignore it: pre-training always applies the norm, a classifier
            follows ``use_mean_pooling`` (and clears this field, its encoder being its own).
        head_dropout: dropout before the classification head (official ``fc_drop_rate``).
        head_init_scale: the classification head is initialised with std 0.02 times this (official
            ``init_scale``).
        decoder_*: the pre-training decoder.
        mask_ratio: tube mask ratio of the encoder.
        decoder_mask_ratio: running-cell ratio of the decoder; 0 decodes every encoder-masked token
            (VideoMAE V1).
        norm_pix_loss: regress per-patch normalised pixels (official ``normlize_target``).
        initializer_range: std of truncated normal inits.
    """

    model_type = "videomaev2"

    def __init__(
        self,
        image_size: int = 224,
        patch_size: int = 16,
        num_channels: int = 3,
        num_frames: int = 16,
        tubelet_size: int = 2,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_norm_eps: float = 1e-6,
        qkv_bias: bool = True,
        layer_scale_init_value: float = 0.0,
        use_mean_pooling: bool = True,
        add_pooling_layer: bool = False,
        add_final_norm: bool | None = None,
        head_dropout: float = 0.0,
        head_init_scale: float = 0.001,
        initializer_range: float = 0.02,
        decoder_hidden_size: int = 384,
        decoder_num_hidden_layers: int = 4,
        decoder_num_attention_heads: int = 6,
        decoder_intermediate_size: int = 1536,
        mask_ratio: float = 0.9,
        decoder_mask_ratio: float = 0.5,
        norm_pix_loss: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.drop_path_rate = drop_path_rate
        self.layer_norm_eps = layer_norm_eps
        self.qkv_bias = qkv_bias
        self.layer_scale_init_value = layer_scale_init_value
        self.use_mean_pooling = use_mean_pooling
        self.add_pooling_layer = add_pooling_layer
        self.add_final_norm = add_final_norm
        self.head_dropout = head_dropout
        self.head_init_scale = head_init_scale
        self.initializer_range = initializer_range
        self.decoder_hidden_size = decoder_hidden_size
        self.decoder_num_hidden_layers = decoder_num_hidden_layers
        self.decoder_num_attention_heads = decoder_num_attention_heads
        self.decoder_intermediate_size = decoder_intermediate_size
        self.mask_ratio = mask_ratio
        self.decoder_mask_ratio = decoder_mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self._check()

    def _check(self) -> None:
        self._check_types_and_sizes()
        problems = []
        if self.image_size % self.patch_size:
            problems.append(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.num_frames % self.tubelet_size:
            problems.append(f"num_frames {self.num_frames} is not a multiple of tubelet_size {self.tubelet_size}")
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads {self.num_attention_heads}"
            )
        if self.decoder_hidden_size % self.decoder_num_attention_heads:
            problems.append(
                f"decoder_hidden_size {self.decoder_hidden_size} is not a multiple of "
                f"decoder_num_attention_heads {self.decoder_num_attention_heads}"
            )
        if not 0.0 <= self.mask_ratio < 1.0:
            problems.append(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        if self.decoder_mask_ratio != 0 and not 0 < int(4 * self.decoder_mask_ratio) < 4:
            problems.append(f"decoder_mask_ratio must be 0 or one of 0.25, 0.5, 0.75, got {self.decoder_mask_ratio}")
        if problems:
            raise ValueError("invalid VideoMAEv2Config: " + "; ".join(problems))

    def _check_types_and_sizes(self) -> None:
        """A ``config.json`` from elsewhere (a Hub repository) may hold anything: a size that is not a positive
        integer ends in a ``ValueError`` naming it, as does one so large that building the model would take hours or
        allocate far beyond any machine, before any layer is built."""
        problems = [
            f"{name} must be a positive integer, got {getattr(self, name)!r}"
            for name in _POSITIVE_INTEGERS
            if not _is_integer(getattr(self, name)) or getattr(self, name) < 1
        ]
        layers = self.decoder_num_hidden_layers
        if not _is_integer(layers) or layers < 0:
            problems.append(f"decoder_num_hidden_layers must be an integer >= 0, got {layers!r}")
        eps = self.layer_norm_eps
        if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not 0 < eps < 1:
            problems.append(f"layer_norm_eps must be a number in (0, 1), got {eps!r}")
        if not self.id2label:
            problems.append("num_labels must be at least 1 (id2label is empty)")
        if problems:
            raise ValueError("invalid VideoMAEv2Config: " + "; ".join(problems))
        blocks = (self.hidden_size, self.intermediate_size, self.num_hidden_layers), (
            self.decoder_hidden_size, self.decoder_intermediate_size, layers,
        )  # fmt: skip
        parameters = sum(depth * (4 * width**2 + 2 * width * mlp) for width, mlp, depth in blocks)
        tokens = (self.num_frames // self.tubelet_size) * (self.image_size // self.patch_size) ** 2
        if self.num_hidden_layers + layers > _MAX_BLOCKS or parameters > _MAX_PARAMETERS or tokens > _MAX_TOKENS:
            raise ValueError(
                f"invalid VideoMAEv2Config: {self.num_hidden_layers} + {layers} blocks, about {parameters:.3g} "
                f"parameters and {tokens} tokens a clip; the limits are {_MAX_BLOCKS} blocks, {_MAX_PARAMETERS:.0e} "
                f"parameters and {_MAX_TOKENS} tokens (ViT-g: 44 blocks, 1e9 parameters, 2048 tokens)"
            )

    @property
    def encoder_final_norm(self) -> bool:
        """Whether the bare encoder (``VideoMAEv2Model``, ``AutoModel``) applies the final ``norm``."""
        return self.add_final_norm if self.add_final_norm is not None else not self.use_mean_pooling

    @property
    def grid_size(self) -> tuple[int, int, int]:
        """Token grid (T', H', W') = (num_frames / tubelet, image_size / patch, image_size / patch)."""
        side = self.image_size // self.patch_size
        return self.num_frames // self.tubelet_size, side, side

    @property
    def num_patches(self) -> int:
        """Tokens per clip, N = T' * H' * W'."""
        t, h, w = self.grid_size
        return t * h * w

    @property
    def patch_dim(self) -> int:
        """Pixel values per token: tubelet * patch * patch * channels."""
        return self.tubelet_size * self.patch_size**2 * self.num_channels

    @classmethod
    def preset_names(cls) -> list[str]:
        return list(_PRESETS)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> VideoMAEv2Config:
        """A configuration of an official size (``vit-s``, ``vit-b``, ``vit-l``, ``vit-h``, ``vit-g``) or
        ``vit-tiny`` (a 2-block model on 4x32x32 clips for CPU tests) or ``vit-mini`` (4 blocks on 8x64x64 clips,
        the embedded synthetic set's model), with any field overridden."""
        key = name.lower().replace("_", "-")
        if key not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(_PRESETS)}")
        return cls(**{**_PRESETS[key], **overrides})
