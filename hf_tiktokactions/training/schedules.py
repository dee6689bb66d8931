"""Per-step learning-rate and weight-decay schedules of the official VideoMAE V2 code."""

from __future__ import annotations

import math


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
