"""Divergence: the error every training loop stops with, the weights check before a checkpoint is called good, and
JSON records that never carry NaN or infinity."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import TikTokActionsError

# No parameter of a sane ViT reaches this (they stay within a few units); a run whose weights do has diverged
# even while they are still finite (an absurd lr gives weights of 1e22 one step before the loss turns NaN).
MAX_SANE_WEIGHT = 1e6


class TrainingDiverged(TikTokActionsError):
    """The loss, the gradient or the weights became NaN, infinite or absurdly large."""


def largest_weight(model: torch.nn.Module) -> torch.Tensor:
    """Largest absolute parameter value of the parameters this process holds (its shards under FSDP), as a 0-d
    float tensor: NaN when any parameter is NaN, inf when any is infinite."""
    values = []
    for param in model.parameters():
        local = param.detach()
        local = local.to_local() if hasattr(local, "to_local") else local  # a DTensor shard under FSDP2
        if local.numel():
            values.append(local.abs().amax().float())
    if not values:
        return torch.zeros(())
    return torch.stack(values).max()  # NaN propagates through amax and max


def is_sharded(model: torch.nn.Module) -> bool:
    """True when ``model``'s parameters are FSDP2 shards (DTensors): each rank holds a different part."""
    return any(hasattr(param, "to_local") for param in model.parameters())


def max_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The largest of every rank's 0-d ``value`` (NaN if any is NaN), on every rank: a collective."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    gathered = [torch.zeros_like(value) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, value)
    return torch.stack(gathered).max()


def largest_weight_of_model(model: torch.nn.Module) -> torch.Tensor:
    """:func:`largest_weight` over the whole model: over all ranks' shards under FSDP (a collective then)."""
    largest = largest_weight(model)
    return max_over_ranks(largest) if is_sharded(model) else largest


def weights_problem(largest: float) -> str | None:
    """Why weights whose largest absolute value is ``largest`` are not good, or None."""
    if not math.isfinite(largest):
        return f"the weights are not finite (largest absolute value {largest})"
    if largest > MAX_SANE_WEIGHT:
        return f"the weights reach {largest:.3g} (above {MAX_SANE_WEIGHT:.0e})"
    return None


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (also inside lists and dicts) replaced by None, so that
    ``json.dumps(..., allow_nan=False)`` writes valid JSON (``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value
