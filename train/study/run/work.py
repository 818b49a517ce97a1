"""One stage's work, the same under every executor: train the stage (the root: write
the pretrained model), then run its pending evaluation units; time each part
(attempts.py, goodput.py), advance its step counters (watchdog.py) and turn its own error into
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
from train.study.run.attempts import ENDED_DONE, ENDED_FAILED, AttemptLog
from train.study.run.failures import (
    DONE,
    FAILED,
    StageOutcome,
    clear_failed,
    one_line,
    storage_error,
)
from train.study.run.goodput import stage_times
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


def mesh_chips(mesh) -> int:
    """The chips (devices) of a mesh: what a stage in process holds."""
    return int(mesh.devices.size)


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
    chips: int | None = None,
    held_from: float | None = None,
    counters: StepCounters | None = None,
) -> StageOutcome:
    """Trains the stage (or writes the pretrained model, for the root) and runs its
    pending units (`evaluate`); `ready_at` is when it could have started, `held_from`
    when its `chips` became its own (time.time(); default: now, and the mesh's
    devices). A storage error is raised (the study stops); any other error fails the
    stage. A stage with nothing left to do writes nothing (a finished study stays as
    it is). `counters`: the try's step counters when its caller started them (and
    their watchdog, `on_stall` then unused) before the backend started."""
    if not has_work(config, dag, stage_id, workdir, evaluate):
        clear_failed(workdir, stage_id)
        return StageOutcome(stage_id, DONE, None, None, 0, time.time())
    own_counters = counters is None
    counters = counters or StepCounters(workdir, stage_id, run_id)
    stage = dag.stages.get(stage_id)
    task = stage.task if stage else "pretrained"
    log = AttemptLog(
        workdir, stage_id, run_id, chips=mesh_chips(mesh) if chips is None else chips,
        held_from=time.time() if held_from is None else held_from, ready_at=ready_at,
    )  # fmt: skip
    watched = on_stall is not None and own_counters
    stop = watch(counters, stall_after_s(config), on_stall) if watched else None
    evaluated = 0

    def unit_written(unit) -> None:
        counters.unit(unit)
        log.unit(unit)

    try:
        clear_failed(workdir, stage_id)
        if stage is None:
            counters.phase("restore")
            began = time.perf_counter()
            pretrained_root(config, workdir, dag.root)
            log.add("restore", time.perf_counter() - began)
        elif not layout.is_done(workdir, stage_id):
            counters.phase("train")
            _train(config, dag, stage, workdir, mesh, label, counters, log)
        if evaluate:
            counters.phase("evaluate")
            log.evaluating()
            began = time.perf_counter()
            evaluated = len(evaluate_stage(config, dag, stage_id, workdir, mesh, unit_written))
            log.add("evaluation", time.perf_counter() - began)
        counters.phase("done")
        times = stage_times(log.end(ENDED_DONE), task)
        return StageOutcome(stage_id, DONE, None, times, evaluated, time.time())
    except Exception as err:
        if storage_error(err) is not None:
            raise
        line = one_line(err)
        logging.error("stage %s failed: %s", stage_id, traceback.format_exc())
        counters.phase("failed")  # the study driver writes its FAILED record
        times = stage_times(log.end(ENDED_FAILED), task)
        return StageOutcome(stage_id, FAILED, line, times, evaluated, time.time())
    finally:
        log.close()
        if stop is not None:
            stop.set()


def _train(config, dag, stage, workdir, mesh, label, counters, log: AttemptLog) -> None:
    def on_step(next_step: int) -> None:
        counters.step(next_step)
        log.step(next_step)

    clock = LoopClock(on_step=on_step, on_save=log.save)
    log.training(clock)
    began, finished = time.perf_counter(), False
    try:
        train_stage(config, dag, stage, workdir, mesh, label=label, clock=clock)
        finished = True
    finally:
        log.training_ended(clock, began, time.perf_counter(), finished)
