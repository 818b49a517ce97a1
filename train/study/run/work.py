"""One stage's work, the same under every executor: train the stage (the root: write
the pretrained model), then run its pending evaluation units; time each part
(goodput.py), advance its step counters (watchdog.py) and turn its own error into
a failed outcome with one line (failures.py).

The executors (in_process.py, ray_executor.py) call `stage_work` and differ only in
where and when: in this process one stage after another, or as Ray tasks.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable

import jax
from absl import logging

from train.loop import LoopClock
from train.study import layout
from train.study.layout import compilation_cache_dir
from train.study.plan.dag import StageDag
from train.study.run.failures import (
    DONE,
    FAILED,
    StageOutcome,
    clear_failed,
    one_line,
    storage_error,
)
from train.study.run.goodput import StageTimes
from train.study.run.training import pretrained_root, train_stage
from train.study.run.units import evaluate_stage, pending_units
from train.study.run.watchdog import StepCounters, watch


def enable_compilation_cache(workdir: str) -> None:
    """Stages of one task share their compiled train and eval steps across stages and
    across restarts (the step's program depends on shapes, not on weights)."""
    if jax.config.jax_compilation_cache_dir:
        return  # a cache chosen by JAX_COMPILATION_CACHE_DIR stays
    jax.config.update("jax_compilation_cache_dir", compilation_cache_dir(workdir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def stall_after_s(config) -> float:
    """`config.executor.stall_after_s`: seconds without train-step progress before a
    stage is stopped and retried (default 1800; 0: never)."""
    value = (config.get("executor") or {}).get("stall_after_s", 1800.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"config.executor.stall_after_s: expected seconds >= 0, got {value!r}")
    return float(value)


def has_work(config, dag: StageDag, stage_id: str, workdir: str, evaluate: bool = True) -> bool:
    """Whether the stage (the root: the pretrained model) has anything left to do."""
    if stage_id == dag.root:
        if not os.path.exists(layout.pretrained_done(workdir, dag.root)):
            return True
    elif not layout.is_done(workdir, stage_id):
        return True
    return evaluate and bool(pending_units(config, dag, stage_id, workdir))


def stage_work(
    config,
    dag: StageDag,
    stage_id: str,
    workdir: str,
    mesh,
    *,
    run_id: str,
    ready_at: float,
    evaluate: bool = True,
    label: str = "",
    on_stall: Callable[[str], None] | None = None,
    counters: StepCounters | None = None,
) -> StageOutcome:
    """Trains the stage (or writes the pretrained model, for the root) and runs its
    pending units (`evaluate`); `ready_at` is when it could have started (time.time()).
    A storage error is raised (the study stops); any other error fails the stage.
    A stage with nothing left to do writes nothing (a finished study stays as it is).
    `counters`: the try's step counters when its caller started them (and their
    watchdog, `on_stall` then unused) before the backend started."""
    if not has_work(config, dag, stage_id, workdir, evaluate):
        clear_failed(workdir, stage_id)
        return StageOutcome(stage_id, DONE, None, None, 0, time.time())
    own_counters = counters is None
    counters = counters or StepCounters(workdir, stage_id, run_id)
    stage = dag.stages.get(stage_id)
    times = StageTimes(stage_id, stage.task if stage else "pretrained", attempts=counters.attempt)
    times.queue = max(0.0, counters.first_started - ready_at)
    times.retries = counters.started - counters.first_started
    watched = on_stall is not None and own_counters
    stop = watch(counters, stall_after_s(config), on_stall) if watched else None
    evaluated = 0
    try:
        clear_failed(workdir, stage_id)
        if stage is None:
            counters.phase("restore")
            began = time.perf_counter()
            pretrained_root(config, workdir, dag.root)
            times.restore += time.perf_counter() - began
        elif not layout.is_done(workdir, stage_id):
            counters.phase("train")
            _train(config, dag, stage, workdir, mesh, label, counters, times)
        if evaluate:
            counters.phase("evaluate")
            began = time.perf_counter()
            evaluated = len(evaluate_stage(config, dag, stage_id, workdir, mesh, counters.unit))
            times.evaluation += time.perf_counter() - began
        counters.phase("done")
        return StageOutcome(stage_id, DONE, None, times, evaluated, time.time())
    except Exception as err:
        if storage_error(err) is not None:
            raise
        line = one_line(err)
        logging.error("stage %s failed: %s", stage_id, traceback.format_exc())
        counters.phase("failed")  # the study driver writes its FAILED record
        return StageOutcome(stage_id, FAILED, line, times, evaluated, time.time())
    finally:
        if stop is not None:
            stop.set()


def _train(config, dag, stage, workdir, mesh, label, counters, times: StageTimes) -> None:
    clock = LoopClock(on_step=counters.step)
    began = time.perf_counter()
    train_stage(config, dag, stage, workdir, mesh, label=label, clock=clock)
    ended = time.perf_counter()
    if clock.started is None:  # failed or finished before its loop: all of it restore
        times.restore += ended - began
        return
    times.restore += clock.started - began
    times.compile += clock.compile_s
    times.train += clock.steps_s
    times.checkpoint += clock.saves_s
    times.other += ended - clock.ended  # publishing the model
