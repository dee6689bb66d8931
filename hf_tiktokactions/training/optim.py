"""Optimizer parameter groups: no weight decay on norms, biases, the mask token and other 1-D parameters."""

from __future__ import annotations

from torch import nn

NO_DECAY_NAMES = ("mask_token", "position_embeddings", "q_bias", "v_bias")


def decays(name: str, param) -> bool:
    """Whether weight decay applies: only to matrices and kernels, never to norms, biases or tokens."""
    return param.ndim > 1 and not name.endswith(".bias") and not any(n in name for n in NO_DECAY_NAMES)


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups, ``decay`` and ``no_decay``, over the trainable parameters of ``model``."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (decay if decays(name, param) else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]
