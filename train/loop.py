"""The training loop: steps over batches, metrics fetched in groups, checkpoints on
a cadence. A study's stages, the benchmark and the tests all train through it.

Fetching metrics syncs the host with the devices, so they stay on the devices for
`log_every` steps and are then fetched together; every fetched loss is checked
before anything is saved, so a checkpoint never holds a state past a non-finite
loss. A checkpoint is saved every `save_every` steps and after `final_step`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax

from train.step import TrainState, check_finite

StepFn = Callable[[TrainState, Mapping[str, jax.Array]], tuple[TrainState, dict[str, Any]]]
# (step number after the step, metrics on the host, the task of a multi-task step)
Logged = tuple[int, dict[str, Any], str | None]


@dataclasses.dataclass
class LoopClock:
    """Where a loop's wall time went (seconds), for goodput: the first step of each
    step function (its compilation, or its load from the compilation cache), the
    other steps with their input and metric fetches (productive), and checkpoint
    saves. `on_step(next_step)` is told of every finished step (a step counter),
    `on_save(next_step)` of every checkpoint just before it is started (the timings
    then cover the steps it holds); `first_step` is where the loop began (the step a
    checkpoint restored)."""

    compile_s: float = 0.0
    steps_s: float = 0.0
    saves_s: float = 0.0
    steps: int = 0
    started: float | None = None  # time.perf_counter() at the loop's start and end
    ended: float | None = None
    on_step: Callable[[int], None] | None = None
    on_save: Callable[[int], None] | None = None
    first_step: int = 0


def train_loop(
    step: StepFn | Mapping[str, StepFn],
    state: TrainState,
    batches: Iterable[Any],
    *,
    first_step: int = 0,
    final_step: int | None = None,
    log_every: int = 1,
    save_every: int = 0,
    save: Callable[[TrainState, int], None] | None = None,
    log: Callable[[list[Logged]], None] | None = None,
    after_step: Callable[[int], None] | None = None,
    clock: LoopClock | None = None,
) -> TrainState:
    """Runs one step per batch from `first_step` on and returns the final state.

    `step`: one step function, or one per task (a mixture), when each batch is a
    `(task, batch)` pair. `log` receives the fetched metrics of each group of steps,
    `save(state, next_step)` writes a checkpoint, `after_step(next_step)` runs after
    each step (and its checkpoint). A non-finite loss raises `NonFiniteLossError`
    naming its step, before any later checkpoint is saved. `clock` is filled in.
    """
    clock = clock if clock is not None else LoopClock()
    per_task = isinstance(step, Mapping)
    pending: list[tuple[int, Any, str | None]] = []

    def flush() -> None:
        fetched, good = jax.device_get(pending), []
        pending.clear()
        try:
            for done, metrics, name in fetched:
                check_finite(metrics, done)
                good.append((done, metrics, name))
        finally:  # the steps before a non-finite one are logged all the same
            if log and good:
                log(good)

    done, compiled = first_step, set()
    clock.first_step = first_step
    clock.started = mark = time.perf_counter()
    for item in batches:  # the batch's own reading and transfer count as its step
        name, batch = item if per_task else (None, item)
        state, metrics = (step[name] if per_task else step)(state, batch)
        done += 1
        pending.append((done, metrics, name))
        due = save is not None and ((save_every and done % save_every == 0) or done == final_step)
        if due or len(pending) >= log_every:
            flush()
        now = time.perf_counter()
        if name in compiled:
            clock.steps_s += now - mark
        else:  # the first call of a step function compiles it (or loads it from the cache)
            compiled.add(name)
            clock.compile_s += now - mark
        if due:
            if clock.on_save:
                clock.on_save(done)
            save(state, done)
            clock.saves_s += time.perf_counter() - now
        clock.steps += 1
        if clock.on_step:
            clock.on_step(done)
        if after_step:
            after_step(done)
        mark = time.perf_counter()
    flush()
    clock.ended = time.perf_counter()
    clock.steps_s += clock.ended - mark
    return state
