"""Per-step learning-rate and weight-decay schedules of the official VideoMAE V2 code."""

from __future__ import annotations

import math
import warnings


def cosine_with_warmup(
    step: int, total_steps: int, base_value: float, final_value: float, warmup_steps: int = 0, warmup_start: float = 0.0
) -> float:
    """Linear warm-up from ``warmup_start`` to ``base_value`` over ``warmup_steps`` steps, then a cosine from
    ``base_value`` to ``final_value`` over the remaining steps (held at ``final_value`` past the end)."""
    if step < warmup_steps:
        return warmup_start + (base_value - warmup_start) * step / max(warmup_steps - 1, 1)
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return final_value + 0.5 * (base_value - final_value) * (1 + math.cos(math.pi * progress))


def warn_if_warmup_outlasts(warmup_steps: int, total_steps: int) -> None:
    """Warn when the warm-up is longer than the run: the lr never reaches its peak (the official code's schedule
    assertion stops such a run; a short test run of a full recipe is the usual cause, so it is not refused)."""
    if warmup_steps > total_steps:
        warnings.warn(
            f"the warm-up ({warmup_steps} steps) is longer than the run ({total_steps} steps): the lr never reaches "
            "its peak; shorten --warmup_epochs / --warmup_steps or train longer",
            stacklevel=2,
        )
