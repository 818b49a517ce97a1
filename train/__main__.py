"""The main command: `python -m train --config configs/FILE.py[:ARG] --workdir DIR`.

Runs the study: every pending stage of the shard in dependency order, each
followed by its evaluations, then `results.jsonl` and the report. `--dry-run`
prints the stage DAG (what is done and pending) and, last, one JSON line of
counts; `--shard I/N` restricts either to a disjoint part of the DAG. `--dry-run` also
prints what the study costs (train/study/plan/cost.py) on `--topology` (default: v4-32 and
v5litepod-16) for each execution layout. `--compile-only --topology v4-32`
compiles every program of the study for that topology (train/study/plan/compile.py).
`--check-data` prints every split the study reads from its raw-data folder
(`--config.raw_data=DIR` to check another) and what is missing or broken.

`--executor ray` runs the same plan as Ray tasks (`--ray-address ADDR`, default: a
local instance; `--layout chip|host` and `--topology` shape each stage's chips;
train/study/run/ray_executor.py).

Exit codes: 0 done; 2 the command, config, data or workdir cannot be used
(nothing was trained; one line on stderr says why); 3 the workdir is in use by
another run (train/study/run/lock.py); 4 a storage error during the run (disk full,
read-only or unwritable folder, a stale bucket mount: one line naming the file; what
was written stays good and the same command resumes); 5 finished, but some stages
failed (each named with its one-line error; every other stage finished; the same
command tries them again); 1 anything else (with a traceback).
"""

from __future__ import annotations

import errno
import functools
import sys

import jax
from absl import app, flags, logging

from configs.cluster.render import offered_accelerators
from train.study.layout import failed_file, is_done
from train.study.plan.config_file import load_config, split_overrides
from train.study.plan.cost import DEFAULT_TOPOLOGIES, print_cost
from train.study.plan.plan import ConfigError, build_dag, check_batches, print_plan
from train.study.plan.power import print_power
from train.study.run.data_check import print_data_check
from train.study.run.failures import storage_error
from train.study.run.lock import WorkdirLocked
from train.study.run.replacements import run_replacing_failed_runs
from train.study.run.rounds import design_values, run_adaptive_study
from train.study.run.runner import (
    EXECUTORS,
    ExecutorOptions,
    check_before_training,
)
from xlmr_flax.platforms import select_platforms
from xlmr_flax.sharding import initialize_distributed
from xlmr_flax.storage import local_path

EXIT_USAGE, EXIT_LOCKED, EXIT_STORAGE, EXIT_FAILED_STAGES = 2, 3, 4, 5

_CONFIG = flags.DEFINE_string(
    "config", None, "experiment config: configs/FILE.py[:ARG], values overridden by --config.KEY=V"
)
OVERRIDES: list[tuple[str, str]] = []  # the `--config.KEY=VALUE` arguments, taken before absl
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for every output of the run")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "print the stage plan and counts, run nothing")
_SHARD = flags.DEFINE_string("shard", "0/1", "I/N: run the I-th of N disjoint parts of the DAG")
_BREAK_LOCK = flags.DEFINE_bool(
    "break_lock", False, "break the workdir's lock: only when the run holding it is gone"
)
_COMPILE_ONLY = flags.DEFINE_bool(
    "compile_only", False, "compile every program of the study for --topology, run nothing"
)
_TOPOLOGY = flags.DEFINE_list(
    "topology",
    [],
    "targets (v4-32, v5litepod-16, v5p-32, v6e-16, h100x8, cpu-8) to compile "
    "for or to cost (--dry-run; default v4-32,v5litepod-16)",
)
_COMPILE_FILTER = flags.DEFINE_string(
    "compile_filter",
    None,
    "--compile-only: only programs whose name matches this regex ('^train ': the train steps)",
)
_MFU = flags.DEFINE_float("mfu", None, "--dry-run: model FLOPs utilisation to assume")
_EXECUTOR = flags.DEFINE_enum(
    "executor", "in-process", EXECUTORS, "run the stages in this process, or as Ray tasks"
)
_RAY_ADDRESS = flags.DEFINE_string(
    "ray_address", None, "--executor ray: a running Ray cluster (default: start a local one)"
)
_LAYOUT = flags.DEFINE_enum(
    "layout",
    None,
    ("chip", "host", "slice"),
    "the chips of one stage: --executor ray (default chip), --compile-only (default slice: "
    "the whole topology)",
)
_CHECK_DATA = flags.DEFINE_bool(
    "check_data", False, "print what the study reads from config.raw_data and lacks; run nothing"
)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: expected 0 <= I < N")
    return index, count


def fail(message: str, code: int) -> None:
    """One line on stderr and the exit code (no traceback, no usage text)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def storage_message(err: OSError, workdir: str = "the workdir") -> str:
    what = "disk full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else err.strerror or err
    if err.errno == errno.ESTALE:
        what = "stale file handle (the bucket mount changed under the run)"
    where = err.filename or workdir
    return f"{where}: {what}; free space or fix the folder, then run the same command again"


DASHED_FLAGS = (
    "--dry-run", "--compile-only", "--compile-filter", "--break-lock", "--check-data",
    "--ray-address",
)  # fmt: skip


def absl_spelling(arg: str) -> str:
    """absl spells flags with underscores; the documented `--dry-run` style works too."""
    name, equals, value = arg.partition("=")
    if name in DASHED_FLAGS:
        name = name.replace("-", "_").replace("__", "--", 1)
    return name + equals + value


def compile_only(
    config, dag, topologies: list[str], only: str | None, workdir: str, layout: str = "slice"
) -> None:
    """Compiles on this machine's CPU for one stage's chips of another topology under
    `layout` (no accelerator used); with a workdir the results are kept there."""
    from train.study.layout import compiled_file
    from train.study.plan.compile import ProgramFailed, compile_study
    from train.study.plan.fit import chips_per_stage
    from train.study.plan.targets import CompilerMissing, parse_target
    from train.study.plan.timing import compiled_name

    if len(topologies) != 1:
        fail("--compile-only needs one --topology, e.g. --topology v4-32", EXIT_USAGE)
    try:
        target = parse_target(topologies[0])
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    if target.platform == "cpu":
        jax.config.update("jax_num_cpu_devices", target.devices)
    jax.config.update("jax_platforms", "cpu")  # the target's compiler runs without its chips
    # The record is named by the topology one stage compiles as (v4-2: one v4 chip).
    stage_topology = compiled_name(target, chips_per_stage(target, layout)) or target.name
    path = compiled_file(workdir, stage_topology) if workdir else None
    try:
        compile_study(config, dag, target, only=only, layout=layout, path=path)
    except (ProgramFailed, CompilerMissing) as err:
        sys.exit(f"compile-only: {err}")


def quiet_closed_event_loops(hook):
    """An excepthook without the trace that each of Orbax's asyncio callbacks prints
    after a failed asynchronous save ("Event loop is closed", dozens of them): the
    failure itself is reported once, in one line."""

    def excepthook(kind, value, traceback):
        if kind is RuntimeError and str(value) == "Event loop is closed":
            return
        hook(kind, value, traceback)

    return excepthook


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments: {argv[1:]}", EXIT_USAGE)
    logging.set_verbosity(logging.WARNING)  # checkpoint libraries log every file at INFO
    try:
        config = load_config(_CONFIG.value, OVERRIDES)
        shard = parse_shard(_SHARD.value)
        dag = build_dag(config)  # ConfigError: reported before anything runs
        if _CHECK_DATA.value:  # needs no workdir
            sys.exit(0 if print_data_check(config, dag) else EXIT_USAGE)
        if _COMPILE_ONLY.value:  # needs no workdir; with one, the results are kept there
            workdir = _WORKDIR.value and local_path(_WORKDIR.value, "--workdir")
            compile_only(
                config,
                dag,
                _TOPOLOGY.value,
                _COMPILE_FILTER.value,
                workdir,
                _LAYOUT.value or "slice",
            )
            return
        if not _WORKDIR.value:
            raise ValueError("--workdir is required (except with --compile-only)")
        workdir = local_path(_WORKDIR.value, "--workdir")
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    if config.get("cpu_devices"):
        # Emulated CPU devices exercise the sharded code paths without an accelerator
        # (only the CPU platform is affected; it must be set before JAX starts).
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    if _EXECUTOR.value == "ray":
        # The driver only schedules: the stages' workers own the chips, which a driver
        # on a TPU host would otherwise hold from its first JAX call.
        jax.config.update("jax_platforms", "cpu")
    executor = ExecutorOptions(  # no --layout: a stage per chip (compile-only: the topology)
        _EXECUTOR.value, _RAY_ADDRESS.value, _LAYOUT.value or "chip", (_TOPOLOGY.value or [None])[0]
    )
    if _DRY_RUN.value:  # the run's checks (this process's devices), then the plan
        try:
            notes = check_before_training(config, dag, workdir, jax.device_count(), shard, executor)
        except ConfigError as err:
            fail(str(err), EXIT_USAGE)
        for note in notes:
            print(note)
        print_cost(
            config,
            dag,
            _TOPOLOGY.value or DEFAULT_TOPOLOGIES,
            mfu=_MFU.value,
            workdir=workdir,
            cluster=offered_accelerators(),
        )
        if config.get("design"):  # seeds for power, adaptive chip-hours (docs/adaptive.md)
            try:
                print_power(config, dag, _TOPOLOGY.value or DEFAULT_TOPOLOGIES, mfu=_MFU.value)
            except ValueError as err:
                fail(str(err), EXIT_USAGE)
        done = functools.partial(is_done, workdir)
        print_plan(config, dag, done, dag.shard(*shard))  # its counts line comes last
        return
    try:
        initialize_distributed()  # SLURM, Open MPI, TPU slices, or explicit JAX_* settings
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    try:  # the devices are known now: every stage's batch must split over them
        check_batches(config, dag, jax.device_count())
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    sys.excepthook = quiet_closed_event_loops(sys.excepthook)
    # docs/adaptive.md; a fixed study replaces failed runs under config.report.failed_runs
    run = run_adaptive_study if design_values(config) else run_replacing_failed_runs
    try:
        summary = run(config, workdir, shard, break_lock=_BREAK_LOCK.value, executor=executor)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    except WorkdirLocked as err:
        fail(str(err), EXIT_LOCKED)
    except Exception as err:
        storage = storage_error(err)
        if storage is None:
            raise
        fail(storage_message(storage, workdir), EXIT_STORAGE)
    failed = summary.get("failed")  # none when an adaptive study had no round left to run
    if failed:
        fail(
            f"{len(failed)} stage(s) failed ({', '.join(failed)}), "
            f"{len(summary['blocked'])} not run below them; every other stage finished; "
            f"{failed_file(workdir)} lists them; the same command tries them again",
            EXIT_FAILED_STAGES,
        )


if __name__ == "__main__":
    select_platforms()  # before JAX probes plugins this run will not use (CUDA, libtpu)
    flags.mark_flags_as_required(["config"])
    try:
        argv, overrides = split_overrides(sys.argv)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    OVERRIDES.extend(overrides)
    app.run(main, argv=[absl_spelling(a) for a in argv])
