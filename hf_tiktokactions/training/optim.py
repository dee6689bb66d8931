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


def layer_id(name: str, num_layers: int) -> int:
    """Depth of a classifier parameter for layer-wise lr decay (official ``get_num_layer_for_vit``).

    The embeddings (``encoder.patch_embed``, position table, mask/cls tokens) are layer 0, ``encoder.blocks.{i}``
    is layer ``i + 1``, everything after the blocks (``fc_norm``, ``head``, a final ``norm``) is ``num_layers + 1``.
    ``torch.compile``'s ``_orig_mod.`` is ignored: Trainer builds the optimizer from the compiled model under FSDP
    with ``--torch_compile``, where every name would otherwise read as the head's (no layer decay at all).
    """
    core = name.replace("_orig_mod.", "")
    core = core[len("encoder.") :] if core.startswith("encoder.") else core
    if core.startswith(("patch_embed", "position_embeddings", "cls_token", "mask_token", "pos_embed")):
        return 0
    if core.startswith("blocks."):
        return int(core.split(".")[1]) + 1
    return num_layers + 1


def layer_decay_groups(model: nn.Module, weight_decay: float, layer_decay: float, num_layers: int) -> list[dict]:
    """AdamW groups keyed by (depth, decay or not); each carries ``lr_scale = layer_decay ** (num_layers + 1 - depth)``.

    The head trains at the full lr and the embeddings at ``layer_decay ** (num_layers + 1)`` of it; weight decay
    follows ``decays`` (never on norms, biases or tokens). Multiply each group's lr by its ``lr_scale``.
    """
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        depth, decay = layer_id(name, num_layers), decays(name, param)
        group = groups.setdefault(
            (depth, decay),
            {
                "params": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": layer_decay ** (num_layers + 1 - depth),
                "name": f"layer_{depth}_{'decay' if decay else 'no_decay'}",
            },
        )
        group["params"].append(param)
    return [groups[key] for key in sorted(groups)]
