"""A whole study: checks, the workdir's lock and record, then the plan handed to an
executor (in_process.py, the default, or ray_executor.py), then results.jsonl,
failed.json, goodput.json and the report.

Everything is keyed by content (stage ids, evaluation unit files), so running the
same command again after any interruption — SIGKILL included — continues where
the first run stopped and ends with the same files; a stage that failed is tried
again.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from typing import Any

import jax

from configs.cluster.render import offered_accelerators
from eval.analysis.trained import DEFAULT_MARGIN, KEEP
from eval.report import format_summary, write_report
from train.progress import overall_line
from train.study import layout
from train.study.plan.dag import StageDag
from train.study.plan.fit import (
    does_not_fit,
    fit_summary,
    read_peaks,
    resolve_micro_batches,
    stage_micro_batches,
    study_fits,
)
from train.study.plan.plan import ConfigError, build_dag, check_batches
from train.study.plan.targets import parse_target
from train.study.plan.timing import cluster_refusal, compiled_name
from train.study.run.attempts import read_attempts
from train.study.run.data_check import check_study_data
from train.study.run.failures import (
    DONE,
    FAILED,
    clear_failed,
    record_failures,
    study_failures,
    write_failed,
)
from train.study.run.goodput import (
    HeldTime,
    StageTimes,
    goodput_text,
    stage_times,
    study_goodput,
    study_line,
)
from train.study.run.held_chips import ClusterChips
from train.study.run.lock import workdir_lock
from train.study.run.resources import stage_shape
from train.study.run.results import result_records, write_results
from train.study.run.work import stall_after_s
from train.study.run.workdir import (
    check_workdir,
    check_workdir_path,
    open_workdir,
    prepare_workdir,
)
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import is_primary, sync_processes
from xlmr_flax.storage import local_path

EXECUTORS = ("in-process", "ray")


@dataclasses.dataclass(frozen=True)
class ExecutorOptions:
    """How the study runs: in this process, or on Ray (`address`: a running cluster's;
    None: a local instance) with each stage shaped by `layout` on `topology`."""

    name: str = "in-process"
    address: str | None = None
    layout: str = "chip"
    topology: str | None = None


def run_study(
    config,
    workdir: str,
    shard: tuple[int, int] = (0, 1),
    out=print,
    *,
    break_lock: bool = False,
    executor: ExecutorOptions = ExecutorOptions(),
    sequences: set[tuple[tuple[str, ...], str, int]] | None = None,
) -> dict[str, Any]:
    """Trains and evaluates the shard's part of the study; returns a summary (its
    `failed`: the stages that failed, with their line). The workdir is locked for the
    run (train/study/run/lock.py) and records the study (train/study/run/workdir.py).
    `sequences`: (path, target, seed) runs to train, the others are left pending (an
    adaptive round, rounds.py)."""
    started = time.time()
    config, workdir, shape = check_options(config, workdir, shard, executor)
    dag = build_dag(config, resolve=True)
    if shape is not None and executor.topology:
        fit_to_chips(config, dag, workdir, executor, shape.chips, out)
    stages = dag.shard(*shard)
    if sequences is not None:  # an adaptive round: only these runs' stages (rounds.py)
        wanted = {
            i for s in dag.sequences if (s.path, s.target, s.seed) in sequences for i in s.stages
        }
        stages = [s for s in stages if s.id in wanted]
    check_study_data(config, dag)
    prepare_workdir(workdir)
    with workdir_lock(workdir, shard, break_lock):
        notes = open_workdir(config, dag, workdir)
        say = out if is_primary() else (lambda *_: None)
        for note in notes:
            say(note)
        # Reading every unit file drops the corrupt ones, so they are evaluated again.
        sum(1 for _ in result_records(config, dag, workdir))
        sync_processes("study: corrupt units dropped")
        run_id = f"{started:.0f}-{uuid.uuid4().hex[:8]}"
        held_chips = None
        if executor.name == "ray":
            from train.study.run.ray_driver import StudyStopped
            from train.study.run.ray_executor import run_on_ray

            held_chips = ClusterChips()
            try:
                outcomes = run_on_ray(
                    config, dag, stages, workdir, run_id=run_id, shape=shape,
                    address=executor.address, say=say, held_chips=held_chips,
                )  # fmt: skip
            except StudyStopped as stopped:  # what ended before is summed up, then exit 4
                _finish(
                    config, dag, workdir, stages, stopped.outcomes, started, "ray", run_id, say,
                    held_chips,
                )  # fmt: skip
                raise stopped.error from None
        else:
            from train.study.run.in_process import run_in_process

            outcomes = run_in_process(
                config, dag, stages, workdir, run_id=run_id, evaluate_root=shard[0] == 0,
                started=started, say=say,
            )  # fmt: skip
        return _finish(
            config, dag, workdir, stages, outcomes, started, executor.name, run_id, say,
            held_chips,
        )  # fmt: skip


def check_options(
    config, workdir: str, shard: tuple[int, int], executor: ExecutorOptions
) -> tuple[Any, str, Any]:
    """The run's checks of its paths and executor settings: (the config with its
    references resolved and `raw_data` local, the local workdir, the stage shape of a
    Ray run or None). ConfigError, one line naming the flag or key."""
    try:
        workdir = local_path(workdir, "--workdir")
        config = config.copy_and_resolve_references()
        config.raw_data = local_path(config.raw_data, "config.raw_data")
        return config, workdir, _check_executor(config, executor, shard)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_before_training(
    config,
    dag: StageDag,
    workdir: str,
    devices: int,
    shard: tuple[int, int] = (0, 1),
    executor: ExecutorOptions = ExecutorOptions(),
) -> list[str]:
    """Every check a run makes before it trains, writing nothing: the dry run's.
    Raises ConfigError (WorkdirError) where the run would stop; returns notes to show.
    `devices`: what the run's data-parallel axes split over (jax.device_count()).
    Without a raw-data folder (planning a study on another machine) the data check is
    a note; with one it is the run's check. The dag's ids are those of a dry run (a
    hub checkpoint not yet cached gives provisional ones, docs/pipeline.md)."""
    config, workdir, _ = check_options(config, workdir, shard, executor)
    check_batches(config, dag, devices)
    notes = []
    if os.path.isdir(config.raw_data):
        check_study_data(config, dag)
    else:
        notes.append(
            f"config.raw_data {config.raw_data}: no such folder; the run stops at the "
            "data check (--check-data) until it is there"
        )
    check_workdir_path(workdir)
    return notes + check_workdir(config, dag, workdir)


def _check_executor(config, executor: ExecutorOptions, shard: tuple[int, int]):
    """The stage shape of a Ray run (None in process); errors name the flag or key."""
    stall_after_s(config)
    if executor.name not in EXECUTORS:
        raise ValueError(f"--executor {executor.name!r}: expected one of {', '.join(EXECUTORS)}")
    if executor.name != "ray":
        return None
    from train.study.run.ray_executor import check_shape, executor_settings

    executor_settings(config)
    if shard != (0, 1):
        raise ValueError("--shard: Ray schedules the whole study; leave --shard out with it")
    target = parse_target(executor.topology) if executor.topology else None
    shape = stage_shape(executor.layout, target)
    check_shape(shape)
    if target is not None and executor.address:  # a real cluster: its file says what it has
        refused = cluster_refusal(target, executor.layout, offered_accelerators())
        if refused:
            raise ValueError(f"--layout {executor.layout} --topology {target.name}: {refused}")
    return shape


def fit_to_chips(config, dag, workdir: str, executor: ExecutorOptions, chips: int, say) -> None:
    """Every train step in the least micro-batches that fit one stage's `chips` (where
    the config leaves `micro_batches` 0), from the compiled peaks the workdir
    holds, else the estimate (train/study/plan/fit.py); ConfigError, before anything
    trains, if a step fits at no count."""
    target = parse_target(executor.topology)
    name = compiled_name(target, chips)
    peaks = read_peaks(layout.compiled_file(workdir, name) if name else None, chips)
    fits = study_fits(config, dag, chips, target.device_memory, peaks)
    refused = does_not_fit(fits, target)
    if refused:
        raise ConfigError(f"--layout {executor.layout} --topology {target.name}: {refused}")
    resolve_micro_batches(config, dag, stage_micro_batches(dag, fits))
    summary = fit_summary(fits)
    if summary and is_primary():
        say(f"micro-batches on {chips} chip(s) of {target.name}: {summary}")


def _finish(config, dag, workdir, stages, outcomes, started, executor, run_id, say, held_chips):
    sync_processes("study: every unit written")  # process 0 writes them
    errors = {o.stage: o.error or "" for o in outcomes if o.status == FAILED}
    if is_primary():
        for outcome in outcomes:
            if outcome.status == FAILED:
                write_failed(workdir, outcome.stage, errors[outcome.stage], run_id)
            elif outcome.status == DONE:
                clear_failed(workdir, outcome.stage)
        record_failures(workdir, study_failures(dag, errors))
    records = write_results(config, dag, workdir)
    total = len(stages)
    say(overall_line(total, total, started, f"{records} records in results.jsonl"))
    times = [t for t in (_stage_times(dag, workdir, o, run_id) for o in outcomes) if t]
    summary: dict[str, Any] = {
        "stages": total,
        "evaluations_run": sum(o.evaluated for o in outcomes),
        "records": records,
        "failed": dict(errors),
        "blocked": sorted(o.stage for o in outcomes if o.status not in (DONE, FAILED)),
    }
    wall = time.time() - started
    if held_chips is None:  # in process: every device of the mesh, for the whole run
        chips = jax.device_count()
        held = HeldTime(chips, chips * wall, None, wall)
    else:
        held = held_chips.held()
    goodput = study_goodput(times, held, wall, executor)
    summary["goodput"] = goodput["study"]
    if is_primary():
        write_file(layout.goodput_file(workdir), goodput_text(goodput))
        if times:
            say(study_line(goodput))
    for stage_id, error in errors.items():
        say(f"failed: stage {stage_id}: {error}")
    if is_primary() and records:
        options = config.get("report") or {}
        report = write_report(
            workdir,
            n_boot=options.get("n_boot", 1000),
            seed=options.get("seed", 0),
            test_one_seed=options.get("test_one_seed", False),
            primary_class=options.get("primary_class", ""),
            plots=options.get("plots", "auto"),
            failed_runs=options.get("failed_runs", KEEP),
            failure_margin=options.get("failure_margin", DEFAULT_MARGIN),
        )
        say(format_summary(report))
        summary["report"] = report["report"]
    return summary


def _stage_times(dag, workdir: str, outcome, run_id: str) -> StageTimes | None:
    """A stage's goodput in this run: as its last try measured it, or, where no try
    ended itself (Ray gave up on it), from the tries it left on disk."""
    if outcome.times is not None:
        return outcome.times
    record = read_attempts(workdir, outcome.stage, run_id)
    if record is None or not record.attempts:
        return None
    stage = dag.stages.get(outcome.stage)
    return stage_times(record, stage.task if stage else "pretrained")
