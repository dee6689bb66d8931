"""VideoMAE V2 (Wang et al., CVPR 2023) in transformers style: encoder, dual-masking pre-training, classification.

The math follows the official OpenGVLab/VideoMAEv2 code: Conv3d tubelet embedding plus a fixed sinusoid
table, pre-norm ViT blocks with separate q/v biases (k bias zero), tube masking for the encoder,
running-cell masking for the decoder, and a loss on per-patch normalised pixels averaged over tokens
that are both encoder-masked and decoder-kept. Parameter names match the official checkpoints, so
conversion is a renaming of prefixes only.

Self-contained apart from two sibling files (configuration and masking), so the folder can be shipped to
the Hub as custom code and loaded with ``trust_remote_code=True`` without this package.

Shapes: B batch, T frames, C channels, H x W pixels, p patch, t tubelet, N = (T/t)(H/p)(W/p) tokens,
D hidden size.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling, ImageClassifierOutput
from transformers.utils import ModelOutput

from .configuration_videomaev2 import VideoMAEv2Config
from .masking import decoder_mask as draw_decoder_mask
from .masking import kept_token_counts as count_kept_tokens
from .masking import num_visible_tokens, tube_mask

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def sinusoid_position_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed sin/cos table of VideoMAE: (1, num_positions, dim), float32.

    Entry (n, j) is sin (j even) or cos (j odd) of ``n / 10000 ** (2 * (j // 2) / dim)``.
    """
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    exponent = 2 * (torch.arange(dim) // 2).to(torch.float64) / dim
    angle = position / torch.pow(10000.0, exponent)[None, :]
    table = torch.where(torch.arange(dim) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32).unsqueeze(0)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens by index with static shapes: (B, N, D) and (B, K) -> (B, K, D)."""
    return tokens.gather(1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def unmasked_index(mask: torch.Tensor, num_kept: int | None = None) -> torch.Tensor:
    """Ascending positions of the False entries of a bool (B, N) mask: (B, K), K equal for all rows.

    A stable argsort puts the False (0) positions first, in order; no boolean indexing. With ``num_kept``
    given the shape is static and nothing is read back from the device (what ``torch.compile`` and CUDA
    graphs need); without it K is counted on the host, which also checks that all rows agree.
    """
    if num_kept is None:
        num_kept = num_visible_tokens(mask)
    return torch.argsort(mask.to(torch.uint8), dim=1, stable=True)[:, :num_kept]


def check_kept_count(mask: torch.Tensor, num_kept: int, name: str) -> None:
    """Raise unless every row of the bool (B, N) ``mask`` keeps (is False at) exactly ``num_kept`` tokens.

    On the host for a CPU mask in eager mode; otherwise as a device-side assertion, which does not wait
    for the device (the error surfaces at the next synchronisation) and does not break a compiled graph.
    """
    if mask.device.type == "cpu" and not torch.compiler.is_compiling():
        counts = (~mask).sum(dim=1)
        if not bool((counts == num_kept).all()):
            raise ValueError(
                f"{name} keeps {sorted(set(counts.tolist()))} tokens per sample, but the config's mask ratios "
                f"give {num_kept}; draw masks with the config's ratios (or change the config)"
            )
    else:
        torch._assert_async(((~mask).sum(dim=1) == num_kept).all(), f"{name} does not match the config's mask ratios")


def patchify(pixel_values: torch.Tensor, patch_size: int, tubelet_size: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, N, t*p*p, C), tokens in (t, h, w) order, pixels in (t, p, p) order."""
    b, t, c, h, w = pixel_values.shape
    x = pixel_values.reshape(
        b, t // tubelet_size, tubelet_size, c, h // patch_size, patch_size, w // patch_size, patch_size
    )
    x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)
    return x.reshape(b, -1, tubelet_size * patch_size * patch_size, c)


def unpatchify(patches: torch.Tensor, config: VideoMAEv2Config) -> torch.Tensor:
    """Inverse of ``patchify`` for a full set of tokens: (B, N, t*p*p*C) -> (B, T, C, H, W)."""
    p, t, c = config.patch_size, config.tubelet_size, config.num_channels
    gt, gh, gw = config.grid_size
    x = patches.reshape(patches.shape[0], gt, gh, gw, t, p, p, c)
    x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)
    return x.reshape(patches.shape[0], gt * t, c, gh * p, gw * p)


def reconstruction_target(
    pixel_values: torch.Tensor, config: VideoMAEv2Config, index: torch.Tensor | None = None
) -> torch.Tensor:
    """Regression target of pre-training: (B, T, C, H, W) ImageNet-normalised -> (B, N, t*p*p*C) float32,
    or (B, K, t*p*p*C) for the K tokens of ``index`` (B, K).

    Pixels are un-normalised to [0, 1]; with ``norm_pix_loss`` each token's pixels are then standardised
    per channel (mean and unbiased std over the t*p*p pixels, +1e-6), as the official ``normlize_target``.
    """
    x = pixel_values.float()
    if config.num_channels == 3:
        mean = x.new_tensor(IMAGENET_MEAN)[None, None, :, None, None]
        std = x.new_tensor(IMAGENET_STD)[None, None, :, None, None]
        x = x * std + mean
    patches = patchify(x, config.patch_size, config.tubelet_size)  # (B, N, t*p*p, C)
    if index is not None:
        patches = patches.gather(1, index[:, :, None, None].expand(-1, -1, *patches.shape[2:]))
    if config.norm_pix_loss:
        patches = (patches - patches.mean(dim=-2, keepdim=True)) / (
            patches.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
        )
    return patches.flatten(2)


def _eager_inference(module: nn.Module) -> bool:
    """Eval mode, no autograd, not being traced by ``torch.compile``: in-place arithmetic on fresh tensors is safe."""
    return not module.training and not torch.is_grad_enabled() and not torch.compiler.is_compiling()


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """Stochastic-depth rates of ``depth`` blocks, linear from 0 to ``rate`` (upstream's ``torch.linspace``)."""
    return [rate * i / max(depth - 1, 1) for i in range(depth)]


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero a residual branch per sample with probability ``rate``; (B, ...) -> (B, ...)."""
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class VideoMAEv2PatchEmbed(nn.Module):
    """Tubelet embedding: (B, T, C, H, W) -> (B, N, D) with a Conv3d of kernel = stride = (t, p, p).

    Given token indices (B, K), only those K tokens are embedded: their pixels are gathered and multiplied
    by the flattened Conv3d weight. With 90% of the tokens masked this skips 90% of the embedding's
    FLOPs in forward and backward, with the same parameters (and the same ``proj`` state-dict keys).
    """

    def __init__(self, config: VideoMAEv2Config) -> None:
        super().__init__()
        kernel = (config.tubelet_size, config.patch_size, config.patch_size)
        self.proj = nn.Conv3d(config.num_channels, config.hidden_size, kernel_size=kernel, stride=kernel)

    def forward(self, pixel_values: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        if index is None:
            x = self.proj(pixel_values.transpose(1, 2))  # (B, D, T/t, H/p, W/p)
            # packed (B, N, D): a transposed view would pass its layout on to every residual add of every block,
            # and each LayerNorm and Linear would copy it back (measured: 49 extra copies a ViT-B forward)
            return x.flatten(2).transpose(1, 2).contiguous()
        t, p = self.proj.kernel_size[0], self.proj.kernel_size[1]
        b, frames, c, h, w = pixel_values.shape
        x = pixel_values.reshape(b, frames // t, t, c, h // p, p, w // p, p)
        x = x.permute(0, 1, 4, 6, 3, 2, 5, 7).reshape(b, -1, c * t * p * p)  # (B, N, C*t*p*p), Conv3d weight order
        x = gather_tokens(x, index)  # (B, K, C*t*p*p)
        return F.linear(x, self.proj.weight.flatten(1), self.proj.bias)


class VideoMAEv2Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection, learned q and v biases (k bias zero),
    computed by ``scaled_dot_product_attention`` (flash / memory-efficient kernels where available)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, attn_dropout: float, proj_dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_dropout = attn_dropout
        self.proj = nn.Linear(dim, dim)
        self.proj_dropout = nn.Dropout(proj_dropout)

    def qkv_bias(self) -> torch.Tensor | None:
        """The fused (3 D,) bias ``[q_bias, 0, v_bias]``, built at every call: a few thousand numbers, against a
        projection of every token. (A copy kept between calls went stale when the biases were changed through
        ``.data``, as DeepSpeed's and some averaging code's weight copies do: nothing tells such a change.)"""
        if self.q_bias is None:
            return None
        return torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D)."""
        b, length, dim = x.shape
        qkv = F.linear(x, self.qkv.weight, self.qkv_bias())
        qkv = qkv.view(b, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, L, D/heads) each
        dropout = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)  # (B, heads, L, D/heads)
        out = out.transpose(1, 2).reshape(b, length, dim)
        return self.proj_dropout(self.proj(out))


class VideoMAEv2MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, act: str, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = ACT2FN[act]
        self.exact_gelu = act == "gelu"
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D)."""
        hidden = self.fc1(x)  # (B, L, hidden)
        if self.exact_gelu and _eager_inference(self):
            # inference: GELU in place on the fresh fc1 output (no second (B, L, hidden) tensor to allocate)
            return self.fc2(torch.ops.aten.gelu_(hidden))
        return self.drop(self.fc2(self.act(hidden)))  # official Mlp: dropout after fc2 only


class VideoMAEv2Block(GradientCheckpointingLayer):
    """Pre-norm transformer block (official ``Block``): x + attn(norm1(x)), then x + mlp(norm2(x)),
    each branch optionally scaled by LayerScale (``gamma_1``, ``gamma_2``) and dropped per sample."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_hidden: int,
        config: VideoMAEv2Config,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attn = VideoMAEv2Attention(
            dim, num_heads, config.qkv_bias, config.attention_probs_dropout_prob, config.hidden_dropout_prob
        )
        self.norm2 = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.mlp = VideoMAEv2MLP(dim, mlp_hidden, config.hidden_act, config.hidden_dropout_prob)
        self.drop_path_rate = drop_path_rate
        if config.layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(torch.full((dim,), config.layer_scale_init_value))
            self.gamma_2 = nn.Parameter(torch.full((dim,), config.layer_scale_init_value))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D)."""
        if _eager_inference(self):
            return self._forward_inference(hidden_states)
        attn = self.attn(self.norm1(hidden_states))
        if self.gamma_1 is not None:
            attn = self.gamma_1 * attn
        x = hidden_states + drop_path(attn, self.drop_path_rate, self.training)
        mlp = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            mlp = self.gamma_2 * mlp
        return x + drop_path(mlp, self.drop_path_rate, self.training)

    def _forward_inference(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """The same block without autograd in eval mode: LayerScale and the residual adds run in place on the
        fresh branch outputs, never on ``hidden_states``, so no (B, L, D) temporaries are allocated (about 4% of
        a ViT-B block's CPU time at 1568 tokens, docs/BENCHMARKS.md)."""
        x = _add_branch_(hidden_states, self.attn(self.norm1(hidden_states)), self.gamma_1)
        return _add_branch_(x, self.mlp(self.norm2(x)), self.gamma_2)


def _add_branch_(residual: torch.Tensor, branch: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
    """``residual + gamma * branch``, written into ``branch`` (a fresh tensor) when every dtype agrees; under
    autocast the branch is half precision and the residual float32, so the sum is computed out of place and
    promoted exactly as in training."""
    if branch.dtype != residual.dtype or (gamma is not None and gamma.dtype != branch.dtype):
        return residual + (branch if gamma is None else gamma * branch)
    if gamma is not None:
        branch.mul_(gamma)
    return branch.add_(residual)


class VideoMAEv2PreTrainedModel(PreTrainedModel):
    config: VideoMAEv2Config
    config_class = VideoMAEv2Config
    base_model_prefix = "encoder"
    main_input_name = "pixel_values"
    input_modalities = "video"
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoMAEv2Block"]
    _supports_sdpa = True

    if not hasattr(PreTrainedModel, "activation_checkpointing_enable"):
        # transformers before the rename (5.17 has only the older name): one spelling for every supported version
        def activation_checkpointing_enable(self, activation_checkpointing_kwargs=None) -> None:
            self.gradient_checkpointing_enable(gradient_checkpointing_kwargs=activation_checkpointing_kwargs)

    # How linears start: "xavier" (official pre-training model) or "trunc_normal" (official fine-tuning model)
    linear_init = "xavier"

    def _init_weights(self, module: nn.Module) -> None:
        """The official inits. Pre-training (``modeling_pretrain.py``): xavier-uniform linears, except
        ``encoder_to_decoder``, which keeps PyTorch's default, and the mask token, truncated normal within one
        std. Fine-tuning from scratch (``modeling_finetune.py``): truncated-normal linears (std 0.02), the head
        scaled by ``head_init_scale``. Both: zero biases, unit LayerNorms, PyTorch's default for the patch
        embedding's Conv3d (neither official model touches it).

        transformers calls this once per module, with ``self`` the nearest enclosing model (a classifier's encoder
        is initialised by the encoder), and never for a module of our code without parameters of its own (the
        classifier itself, the patch embedding): the head is therefore set here, as a ``Linear`` of ``self``."""
        if isinstance(module, nn.Linear):
            if module is getattr(self, "encoder_to_decoder", None):
                init.kaiming_uniform_(module.weight, a=math.sqrt(5))  # nn.Linear's own default
            elif self.linear_init == "trunc_normal":
                scale = self.config.head_init_scale if module is getattr(self, "head", None) else 1.0
                init.trunc_normal_(module.weight, std=self.config.initializer_range * scale)
            else:
                init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Conv3d):  # nn.Conv3d's own default, also for weights a checkpoint lacks
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(module.weight[0].numel())
            init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, VideoMAEv2Attention) and module.q_bias is not None:
            init.zeros_(module.q_bias)
            init.zeros_(module.v_bias)
        elif isinstance(module, VideoMAEv2Block) and module.gamma_1 is not None:
            init.constant_(module.gamma_1, self.config.layer_scale_init_value)
            init.constant_(module.gamma_2, self.config.layer_scale_init_value)
        if isinstance(module, VideoMAEv2Model):
            init.copy_(module.position_embeddings, sinusoid_position_table(*module.position_embeddings.shape[1:]))
        elif isinstance(module, VideoMAEv2ForPreTraining):
            std = self.config.initializer_range
            init.trunc_normal_(module.mask_token, std=std, a=-std, b=std)  # upstream truncates at one std
            init.copy_(
                module.decoder_position_embeddings,
                sinusoid_position_table(*module.decoder_position_embeddings.shape[1:]),
            )


class VideoMAEv2Model(VideoMAEv2PreTrainedModel):
    """The VideoMAE V2 encoder.

    ``add_final_norm`` decides whether the last LayerNorm (``norm``) is applied; by default as the config says
    (``config.encoder_final_norm``: ``add_final_norm``, else when ``use_mean_pooling`` is False). Pre-training
    always uses it; official fine-tuning does not. A pre-trained model's export sets ``add_final_norm``, so this
    encoder loaded from it returns the pre-training encoder's output. ``add_pooling_layer`` (default
    ``config.add_pooling_layer``) adds ``fc_norm``: ``pooler_output`` is then ``fc_norm(mean over tokens)``,
    OpenGVLab's ``extract_features``.
    """

    # Loading a pre-training folder: the encoder is all of it that is used here.
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.", r"^encoder_to_decoder\.", r"^mask_token$"]

    def __init__(
        self,
        config: VideoMAEv2Config,
        add_final_norm: bool | None = None,
        add_pooling_layer: bool | None = None,
        linear_init: str | None = None,
    ) -> None:
        super().__init__(config)
        if linear_init is not None:  # a classifier's encoder starts as the official fine-tuning model does
            self.linear_init = linear_init
        self.patch_embed = VideoMAEv2PatchEmbed(config)
        self.register_buffer(
            "position_embeddings", sinusoid_position_table(config.num_patches, config.hidden_size), persistent=False
        )
        self.pos_drop = nn.Dropout(config.hidden_dropout_prob)
        self.blocks = nn.ModuleList(
            VideoMAEv2Block(config.hidden_size, config.num_attention_heads, config.intermediate_size, config, rate)
            for rate in drop_path_rates(config.drop_path_rate, config.num_hidden_layers)
        )
        if add_final_norm is None:
            add_final_norm = config.encoder_final_norm
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if add_final_norm else None
        if add_pooling_layer is None:
            add_pooling_layer = getattr(config, "add_pooling_layer", False)
        self.fc_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.patch_embed

    def _check_geometry(self, pixel_values: torch.Tensor) -> None:
        """The fixed position table fits one clip geometry: another one either fails deep inside or, where the
        token count happens to match, runs on with every token at another place (as upstream's PatchEmbed, an
        error instead)."""
        config = self.config
        expected = (config.num_frames, config.num_channels, config.image_size, config.image_size)
        if pixel_values.dim() != 5 or tuple(pixel_values.shape[1:]) != expected:
            transposed = pixel_values.dim() == 5 and tuple(pixel_values.transpose(1, 2).shape[1:]) == expected
            hint = " (a (B, C, T, H, W) clip, as upstream's code takes: pass pixel_values.transpose(1, 2))"
            raise ValueError(
                f"pixel_values of shape {tuple(pixel_values.shape)}: this model takes (batch, frames, channels, "
                f"height, width) = (B, {', '.join(map(str, expected))}){hint if transposed else ''}"
            )

    def encode(
        self, pixel_values: torch.Tensor, visible_index: torch.Tensor | None = None, output_hidden_states: bool = False
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """(B, T, C, H, W) -> (B, K, D) for the K tokens in ``visible_index`` (B, K) (all N when None),
        plus the hidden states after the embedding and after each block when asked for."""
        self._check_geometry(pixel_values)
        x = self.patch_embed(pixel_values, visible_index)
        position = self.position_embeddings.to(dtype=x.dtype)
        if visible_index is not None:
            position = gather_tokens(position.expand(x.shape[0], -1, -1), visible_index)
        x = self.pos_drop(x + position)
        hidden_states = (x,) if output_hidden_states else None
        for block in self.blocks:
            x = block(x)
            if output_hidden_states:
                hidden_states += (x,)
        if self.norm is not None:
            x = self.norm(x)
        return x, hidden_states

    def forward(
        self,
        pixel_values: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        r"""
        Args:
            pixel_values: (B, T, C, H, W), ImageNet-normalised.
            bool_masked_pos: optional bool (B, N), True = token hidden from the encoder; every sample must
                hide the same number of tokens.

        Returns:
            ``BaseModelOutputWithPooling`` with ``last_hidden_state`` (B, N_visible, D) and, when the encoder has
            an ``fc_norm``, ``pooler_output`` (B, D) = ``fc_norm`` of the mean over the tokens.
        """
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        visible = unmasked_index(bool_masked_pos) if bool_masked_pos is not None else None
        x, hidden_states = self.encode(pixel_values, visible, output_hidden_states)
        pooled = self.fc_norm(x.mean(dim=1)) if self.fc_norm is not None else None
        if not return_dict:
            return (x,) + ((pooled,) if pooled is not None else ()) + ((hidden_states,) if hidden_states else ())
        return BaseModelOutputWithPooling(last_hidden_state=x, pooler_output=pooled, hidden_states=hidden_states)


class VideoMAEv2Decoder(nn.Module):
    """Pre-training decoder: blocks, then ``norm`` and ``head`` on the last ``num_predicted`` tokens."""

    def __init__(self, config: VideoMAEv2Config) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            VideoMAEv2Block(
                config.decoder_hidden_size,
                config.decoder_num_attention_heads,
                config.decoder_intermediate_size,
                config,
                rate,
            )
            for rate in drop_path_rates(config.drop_path_rate, config.decoder_num_hidden_layers)  # as upstream
        )
        self.norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.decoder_hidden_size, config.patch_dim)

    def forward(self, x: torch.Tensor, num_predicted: int) -> torch.Tensor:
        """(B, L, D_dec) -> (B, num_predicted, t*p*p*C)."""
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, -num_predicted:]))


@dataclass
class VideoMAEv2ForPreTrainingOutput(ModelOutput):
    r"""
    loss: scalar, MSE over tokens that are encoder-masked and decoder-kept.
    logits: (B, N_dec, t*p*p*C), predictions for the decoder-kept tokens in ascending token order,
        pixels in (t, p, p, C) order (normalised per patch when ``norm_pix_loss``).
    bool_masked_pos: bool (B, N), the encoder mask used (True = hidden from the encoder).
    decoder_masked_pos: bool (B, N), the decoder mask used (True = not reconstructed).
    hidden_states: encoder hidden states, when asked for.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    bool_masked_pos: torch.Tensor | None = None
    decoder_masked_pos: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class VideoMAEv2ForPreTraining(VideoMAEv2PreTrainedModel):
    """VideoMAE V2 masked autoencoder with dual masking (tube mask for the encoder, running cell for the decoder)."""

    def __init__(self, config: VideoMAEv2Config) -> None:
        super().__init__(config)
        self.encoder = VideoMAEv2Model(config, add_final_norm=True, add_pooling_layer=False)
        self.encoder.pos_drop = nn.Identity()  # the official pre-training encoder has no dropout after the table
        self.encoder_to_decoder = nn.Linear(config.hidden_size, config.decoder_hidden_size, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        self.register_buffer(
            "decoder_position_embeddings",
            sinusoid_position_table(config.num_patches, config.decoder_hidden_size),
            persistent=False,
        )
        self.decoder = VideoMAEv2Decoder(config)
        self.post_init()

    @property
    def kept_token_counts(self) -> tuple[int, int]:
        """(encoder-visible, decoder-kept) tokens per sample under the config's mask ratios; masks given to
        ``forward`` must keep these many, which keeps every shape static."""
        gt, gh, gw = self.config.grid_size
        return count_kept_tokens(gt, gh, gw, self.config.mask_ratio, self.config.decoder_mask_ratio)

    def draw_masks(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder and decoder masks from the config's ratios: two bool (B, N) on the model's device."""
        gt, gh, gw = self.config.grid_size
        encoder = tube_mask(batch_size, gt, gh * gw, self.config.mask_ratio, generator)
        decoder = draw_decoder_mask(encoder, gt, gh, gw, self.config.decoder_mask_ratio, generator)
        return encoder.to(self.device), decoder.to(self.device)

    def forward(
        self,
        pixel_values: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        decoder_masked_pos: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> VideoMAEv2ForPreTrainingOutput | tuple:
        r"""
        Args:
            pixel_values: (B, T, C, H, W), ImageNet-normalised.
            bool_masked_pos: bool (B, N), True = hidden from the encoder (official ``bool_masked_pos``).
            decoder_masked_pos: bool (B, N), True = not reconstructed (official ``decode_masked_pos``).
                Drawn from the config's ratios when not given (both, or only the decoder's for a given
                encoder mask). Given masks must keep as many tokens per sample as the config's ratios do
                (``kept_token_counts``): that fixes every shape, so nothing is read back from the device.
            generator: the random source for masks that are drawn here.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        batch_size = pixel_values.shape[0]
        if bool_masked_pos is None:
            bool_masked_pos, drawn_decoder = self.draw_masks(batch_size, generator)
            decoder_masked_pos = drawn_decoder if decoder_masked_pos is None else decoder_masked_pos
        elif decoder_masked_pos is None:
            gt, gh, gw = self.config.grid_size
            decoder_masked_pos = draw_decoder_mask(
                bool_masked_pos, gt, gh, gw, self.config.decoder_mask_ratio, generator
            )
        bool_masked_pos = bool_masked_pos.to(device=pixel_values.device, dtype=torch.bool)
        decoder_masked_pos = decoder_masked_pos.to(device=pixel_values.device, dtype=torch.bool)

        num_visible, num_decoded = self.kept_token_counts
        check_kept_count(bool_masked_pos, num_visible, "bool_masked_pos")
        check_kept_count(decoder_masked_pos, num_decoded, "decoder_masked_pos")
        visible = unmasked_index(bool_masked_pos, num_visible)  # (B, N_vis)
        decoded = unmasked_index(decoder_masked_pos, num_decoded)  # (B, N_dec)
        encoded, hidden_states = self.encoder.encode(pixel_values, visible, output_hidden_states)
        x_vis = self.encoder_to_decoder(encoded)  # (B, N_vis, D_dec)
        # The table in the input's dtype, as upstream's ``type_as(x)``: under autocast the sums are float32, so the
        # decoder's residual stream stays float32 (the encoder's is in the autocast dtype, as upstream's).
        position = self.decoder_position_embeddings.to(dtype=pixel_values.dtype).expand(batch_size, -1, -1)
        # Visible tokens first, then one mask token per decoder-kept position (official order).
        x = torch.cat(
            [
                x_vis + gather_tokens(position, visible),
                self.mask_token + gather_tokens(position, decoded),
            ],
            dim=1,
        )
        logits = self.decoder(x, decoded.shape[1])  # (B, N_dec, t*p*p*C)

        with torch.no_grad():
            target = reconstruction_target(pixel_values, self.config, decoded)
            weight = bool_masked_pos.gather(1, decoded).to(torch.float32)  # encoder-masked among decoded
        per_token = (logits.float() - target).pow(2).mean(dim=-1)
        loss = (per_token * weight).sum() / weight.sum().clamp(min=1.0)

        if not return_dict:
            return (loss, logits, bool_masked_pos, decoder_masked_pos)
        return VideoMAEv2ForPreTrainingOutput(
            loss=loss,
            logits=logits,
            bool_masked_pos=bool_masked_pos,
            decoder_masked_pos=decoder_masked_pos,
            hidden_states=hidden_states,
        )


class VideoMAEv2ForVideoClassification(VideoMAEv2PreTrainedModel):
    """Official fine-tuning model: encoder without final norm, mean over tokens, ``fc_norm``, dropout, ``head``.

    With ``use_mean_pooling=False`` (official ``--use_cls``; transformers' ``VideoMAEForVideoClassification``
    with ``use_mean_pooling=False``, as ``MCG-NJU/videomae-base`` is configured) the encoder keeps its final
    ``norm`` and the head reads token 0, as both do (there is no CLS token: it is the first patch of the first
    tubelet), so their fine-tuned checkpoints convert to the same predictions.
    """

    # Loading a pre-training folder: its decoder and final encoder norm are not used here.
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.", r"^encoder_to_decoder\.", r"^mask_token$", r"^encoder\.norm\."]

    linear_init = "trunc_normal"

    def __init__(self, config: VideoMAEv2Config) -> None:
        if config.add_final_norm is not None:
            # The pre-training encoder's final norm is not used (official fine-tuning); the field is cleared so that
            # the saved config describes this classifier's encoder, what AutoModel then loads from its folder. On a
            # copy: the caller's config may be another model's.
            config = copy.deepcopy(config)
            config.add_final_norm = None
        super().__init__(config)
        self.num_labels = config.num_labels
        self.encoder = VideoMAEv2Model(
            config, add_final_norm=not config.use_mean_pooling, add_pooling_layer=False, linear_init=self.linear_init
        )
        self.fc_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.use_mean_pooling else None
        self.head_dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ImageClassifierOutput | tuple:
        r"""
        Args:
            pixel_values: (B, T, C, H, W), ImageNet-normalised.
            labels: (B,) class indices, or (B, num_labels) soft targets (mixup / cutmix / label smoothing).

        Returns:
            ``ImageClassifierOutput`` with ``logits`` (B, num_labels) and the cross-entropy ``loss``.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        x, hidden_states = self.encoder.encode(pixel_values, None, output_hidden_states)
        pooled = self.fc_norm(x.mean(dim=1)) if self.fc_norm is not None else x[:, 0]
        logits = self.head(self.head_dropout(pooled))

        loss = None
        if labels is not None:
            if labels.dtype.is_floating_point and labels.shape == logits.shape:
                loss = torch.sum(-labels * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
            else:
                loss = F.cross_entropy(logits.float(), labels.long())
        if not return_dict:
            output = (logits,) + ((hidden_states,) if hidden_states is not None else ())
            return ((loss,) + output) if loss is not None else output
        return ImageClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)
