"""A whole study: every pending stage of the shard in dependency order, each
followed by its evaluations, then results.jsonl and the report.

Everything is keyed by content (stage ids, evaluation unit files), so running the
same command again after any interruption — SIGKILL included — continues where
the first run stopped and ends with the same files.
"""

from __future__ import annotations

import time
from typing import Any

import jax

from eval.report import format_summary, write_report
from train.progress import overall_line
from train.study.plan.plan import ConfigError, build_dag
from train.study.run.data_check import check_study_data
from train.study.run.layout import compilation_cache_dir, is_done
from train.study.run.lock import workdir_lock
from train.study.run.results import result_records, write_results
from train.study.run.stages import pretrained_root, train_stage
from train.study.run.units import evaluate_stage
from train.study.run.workdir import open_workdir, prepare_workdir
from xlmr_flax.sharding import is_primary, make_mesh, sync_processes
from xlmr_flax.storage import local_path


def enable_compilation_cache(workdir: str) -> None:
    """Stages of one task share their compiled train and eval steps across stages and
    across restarts (the step's program depends on shapes, not on weights)."""
    if jax.config.jax_compilation_cache_dir:
        return  # a cache chosen by JAX_COMPILATION_CACHE_DIR stays
    jax.config.update("jax_compilation_cache_dir", compilation_cache_dir(workdir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def run_study(
    config,
    workdir: str,
    shard: tuple[int, int] = (0, 1),
    out=print,
    *,
    migrate: bool = False,
    break_lock: bool = False,
    sequences: set[tuple[tuple[str, ...], str, int]] | None = None,
) -> dict[str, Any]:
    """Trains and evaluates the shard's part of the study; returns a summary. The
    workdir is locked for the run (train/study/run/lock.py) and records the study
    (train/study/run/workdir.py; `migrate`: take over a workdir of id scheme 1;
    `sequences`: (path, target, seed) runs to train, the others are left pending)."""
    started = time.time()
    try:
        workdir = local_path(workdir, "--workdir")
        config = config.copy_and_resolve_references()
        config.raw_data = local_path(config.raw_data, "config.raw_data")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    dag = build_dag(config, resolve=True)
    stages = dag.shard(*shard)
    if sequences is not None:  # an adaptive round: only these runs' stages (rounds.py)
        wanted = {
            i for s in dag.sequences if (s.path, s.target, s.seed) in sequences for i in s.stages
        }
        stages = [s for s in stages if s.id in wanted]
    check_study_data(config, dag)
    prepare_workdir(workdir)
    with workdir_lock(workdir, shard, break_lock):
        notes = open_workdir(config, dag, workdir, migrate)
        return _run_study(config, dag, stages, workdir, shard, started, out, notes)


def _run_study(config, dag, stages, workdir, shard, started, out, notes) -> dict[str, Any]:
    enable_compilation_cache(workdir)
    mesh = make_mesh(tuple(config.get("mesh", (-1, 1, 1))))
    pretrained_root(config, workdir, dag.root)  # converted once, before any stage
    say = out if is_primary() else (lambda *_: None)
    for note in notes:
        say(note)

    # Reading every unit file drops the corrupt ones, so they are evaluated again below.
    sum(1 for _ in result_records(config, dag, workdir))
    sync_processes("study: corrupt units dropped")
    ran = 0
    if shard[0] == 0:  # the pretrained model's own evaluations belong to the first shard
        ran += len(evaluate_stage(config, dag, dag.root, workdir, mesh))
    total = len(stages)
    for number, stage in enumerate(stages, 1):
        if not is_done(workdir, stage.id):
            what = f"training {stage.task} (seed {stage.seed}) {stage.id}"
            say(overall_line(number - 1, total, started, what))
            train_stage(config, dag, stage, workdir, mesh, label=f"{number}/{total} {stage.task}")
        ran += len(evaluate_stage(config, dag, stage.id, workdir, mesh))
    sync_processes("study: every unit written")  # process 0 writes them
    records = write_results(config, dag, workdir)
    say(overall_line(total, total, started, f"{records} records in results.jsonl"))
    summary = {"stages": total, "evaluations_run": ran, "records": records}
    if is_primary() and records:
        options = config.get("report") or {}
        report = write_report(
            workdir,
            n_boot=options.get("n_boot", 1000),
            seed=options.get("seed", 0),
            test_one_seed=options.get("test_one_seed", False),
            plots=options.get("plots", "auto"),
        )
        say(format_summary(report))
        summary["report"] = report["report"]
    return summary
