"""AdamW with linear warm-up and linear decay, global-norm clipping, no decay on
biases and LayerNorm (the original study's recipe)."""

from __future__ import annotations

import jax
import optax

NO_DECAY = ("bias", "scale")  # bias vectors and LayerNorm scales


def linear_warmup_decay(peak: float, total_steps: int, warmup_steps: int) -> optax.Schedule:
    """0 → peak over `warmup_steps`, then peak → 0 at `total_steps`."""
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps={warmup_steps} must be within [0, {total_steps}]")
    return optax.join_schedules(
        [
            optax.linear_schedule(0.0, peak, max(warmup_steps, 1)),
            optax.linear_schedule(peak, 0.0, max(total_steps - warmup_steps, 1)),
        ],
        [warmup_steps],
    )


def decay_mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: getattr(path[-1], "key", None) not in NO_DECAY, params
    )


def make_optimizer(
    learning_rate: float,
    total_steps: int,
    *,
    warmup_fraction: float = 0.1,
    weight_decay: float = 0.01,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    clip_norm: float = 1.0,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    schedule = linear_warmup_decay(learning_rate, total_steps, int(warmup_fraction * total_steps))
    optimizer = optax.chain(
        optax.clip_by_global_norm(clip_norm),
        optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask),
    )
    return optimizer, schedule
