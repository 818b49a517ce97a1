"""The jitted, sharded train step and the state it updates.

One `jax.jit` with explicit in/out shardings and a donated state: parameters
and optimizer state live sharded on the mesh as their logical axes say; the
batch is split over the data-parallel axes; gradient accumulation runs inside
the step (`lax.scan` over micro-batches). Dropout keys derive from
(seed, step, micro-batch), so a step can be replayed exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from xlmr_flax.heads import TaskModel
from xlmr_flax.sharding import DEFAULT_RULES, is_cpu, param_shardings, replicated, to_mesh


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training must not go on from this state."""


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: dict[str, Any]
    opt_state: Any


def init_train_state(
    model: TaskModel,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    rules: Mapping[str, Any] = DEFAULT_RULES,
) -> tuple[nnx.GraphDef, TrainState]:
    """Places the model's parameters on the mesh and builds the optimizer state there."""
    graphdef, state = nnx.split(model)
    shardings = param_shardings(nnx.state(model, nnx.Param), mesh, rules)
    if jax.process_count() == 1:
        params = jax.device_put(nnx.to_pure_dict(state), shardings)
    else:  # each process holds the whole model and fills the shards of its devices
        params = jax.tree.map(to_mesh, nnx.to_pure_dict(state), shardings)
    abstract_opt_state = jax.eval_shape(optimizer.init, params)
    opt_shardings = optimizer_shardings(abstract_opt_state, shardings, mesh)
    opt_state = jax.jit(optimizer.init, out_shardings=opt_shardings)(params)
    step = jax.device_put(jnp.zeros((), jnp.int32), replicated(mesh))
    return graphdef, TrainState(step=step, params=params, opt_state=opt_state)


def _path_keys(path) -> tuple:
    return tuple(getattr(k, "key", getattr(k, "idx", getattr(k, "name", None))) for k in path)


def optimizer_shardings(abstract_opt_state: Any, shardings: Any, mesh: Mesh) -> Any:
    """Optimizer-state leaves that mirror a parameter (Adam's moments) take its sharding;
    the rest (step counts) are replicated."""
    by_path = {
        _path_keys(path): s for path, s in jax.tree_util.tree_flatten_with_path(shardings)[0]
    }

    def pick(path, leaf):
        keys = _path_keys(path)
        for start in range(len(keys)):
            if keys[start:] in by_path:
                return by_path[keys[start:]]
        return replicated(mesh)

    return jax.tree_util.tree_map_with_path(pick, abstract_opt_state)


def state_shardings(state: TrainState):
    return jax.tree.map(lambda x: x.sharding, state)


def micro_batches(batch: Mapping[str, jax.Array], count: int) -> dict[str, jax.Array]:
    """[B, ...] → [count, B / count, ...], taking every `count`-th example so that each
    device's shard of the batch contributes to every micro-batch (no resharding)."""

    def split(x):
        if x.shape[0] % count:
            raise ValueError(f"batch of {x.shape[0]} does not split into {count} micro-batches")
        return x.reshape(x.shape[0] // count, count, *x.shape[1:]).swapaxes(0, 1)

    return {k: split(v) for k, v in batch.items()}


def make_train_step(
    graphdef: nnx.GraphDef,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: optax.Schedule,
    state: TrainState,
    mesh: Mesh,
    *,
    seed: int = 0,
    accumulation_steps: int = 1,
) -> Callable[[TrainState, Mapping[str, jax.Array]], tuple[TrainState, dict[str, jax.Array]]]:
    """Returns `step(state, batch) -> (state, metrics)`; `state` is donated."""
    program = make_step_program(
        graphdef, loss_fn, optimizer, schedule, state, mesh, accumulation_steps=accumulation_steps
    )
    return bind_seed(program, seed, mesh)


def make_step_program(
    graphdef: nnx.GraphDef,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: optax.Schedule,
    state: TrainState,
    mesh: Mesh,
    *,
    accumulation_steps: int = 1,
) -> Callable:
    """The jitted `program(state, batch, seed)`: the seed is an argument, not a constant,
    so stages that differ only in seed (or parent) share one compilation."""

    def summed_loss(params, batch, rng):
        return loss_fn(nnx.merge(graphdef, params), batch, rng)

    grad_fn = jax.value_and_grad(summed_loss, has_aux=True)

    def step(state: TrainState, batch, seed):
        rng = jax.random.fold_in(jax.random.key(seed), state.step)
        if accumulation_steps == 1:
            (loss_sum, weight), grads = grad_fn(state.params, batch, rng)
        else:

            def accumulate(carry, xs):
                index, micro = xs
                (loss, w), g = grad_fn(state.params, micro, jax.random.fold_in(rng, index))
                sums = jax.tree.map(jnp.add, carry, (loss, w, g))
                return sums, None

            zeros = (0.0, 0.0, jax.tree.map(jnp.zeros_like, state.params))
            steps = (jnp.arange(accumulation_steps), micro_batches(batch, accumulation_steps))
            (loss_sum, weight, grads), _ = jax.lax.scan(accumulate, zeros, steps)
        weight = jnp.maximum(weight, 1.0)
        grads = jax.tree.map(lambda g: g / weight, grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        new_state = TrainState(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
        )
        metrics = {
            "loss": loss_sum / weight,
            "grad_norm": optax.global_norm(grads),
            "learning_rate": schedule(state.step),
        }
        return new_state, metrics

    shardings = state_shardings(state)
    return jax.jit(
        step,
        in_shardings=(shardings, None, replicated(mesh)),  # the batch arrives sharded
        out_shardings=(shardings, replicated(mesh)),
        donate_argnums=0,
    )


def bind_seed(program: Callable, seed: int, mesh: Mesh) -> Callable:
    """`step(state, batch)` of a step program for one seed (waiting for each step on CPU)."""
    seed_array = jax.device_put(jnp.asarray(seed, jnp.uint32), replicated(mesh))
    wait = is_cpu()

    def bound(state, batch):
        state, metrics = program(state, batch, seed_array)
        if wait:  # emulated CPU devices deadlock when sharded steps are queued back to back
            jax.block_until_ready(metrics["loss"])
        return state, metrics

    return bound


def check_finite(metrics: Mapping[str, Any], step: int) -> None:
    loss = float(metrics["loss"])
    if not np.isfinite(loss):
        raise NonFiniteLossError(f"step {step}: loss is {loss}; stopping without applying it")
