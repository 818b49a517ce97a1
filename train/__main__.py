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

Exit codes: 0 done; 2 the command, config, data or workdir cannot be used
(nothing was trained; one line on stderr says why); 3 the workdir is in use by
another run (train/study/run/lock.py); 4 a storage error during the run (disk full,
read-only or unwritable folder: one line naming the file; what was written stays
good and the same command resumes); 1 anything else (with a traceback).
"""

from __future__ import annotations

import errno
import re
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from train.study.plan.cost import DEFAULT_TOPOLOGIES, print_cost
from train.study.plan.plan import ConfigError, build_dag, print_plan
from train.study.plan.power import print_power
from train.study.run.data_check import print_data_check
from train.study.run.lock import WorkdirLocked
from train.study.run.rounds import design_values, run_adaptive_study
from train.study.run.runner import run_study
from train.study.run.workdir import needs_migration
from xlmr_flax.sharding import initialize_distributed
from xlmr_flax.storage import local_path

EXIT_USAGE, EXIT_LOCKED, EXIT_STORAGE = 2, 3, 4

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file")
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for every output of the run")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "print the stage plan and counts, run nothing")
_SHARD = flags.DEFINE_string("shard", "0/1", "I/N: run the I-th of N disjoint parts of the DAG")
_MIGRATE = flags.DEFINE_bool(
    "migrate", False, "take over a workdir of the older id scheme (see docs/pipeline.md)"
)
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
    "compile_filter", None, "--compile-only: only programs whose name matches this regex"
)
_MFU = flags.DEFINE_float("mfu", None, "--dry-run: model FLOPs utilisation to assume")
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
    where = err.filename or workdir
    return f"{where}: {what}; free space or fix the folder, then run the same command again"


DASHED_FLAGS = ("--dry-run", "--compile-only", "--compile-filter", "--break-lock", "--check-data")


def absl_spelling(arg: str) -> str:
    """absl spells flags with underscores; the documented `--dry-run` style works too."""
    name, equals, value = arg.partition("=")
    if name in DASHED_FLAGS:
        name = name.replace("-", "_").replace("__", "--", 1)
    return name + equals + value


def compile_only(config, dag, topologies: list[str], only: str | None, workdir: str) -> None:
    """Compiles on this machine's CPU for another topology (no accelerator used)."""
    from train.study.plan.compile import ProgramFailed, compile_study, write_compiled
    from train.study.plan.targets import CompilerMissing, parse_target
    from train.study.run.layout import compiled_file

    if len(topologies) != 1:
        fail("--compile-only needs one --topology, e.g. --topology v4-32", EXIT_USAGE)
    try:
        target = parse_target(topologies[0])
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    if target.platform == "cpu":
        jax.config.update("jax_num_cpu_devices", target.devices)
    jax.config.update("jax_platforms", "cpu")  # the target's compiler runs without its chips
    try:
        results = compile_study(config, dag, target, only=only)
    except (ProgramFailed, CompilerMissing) as err:
        sys.exit(f"compile-only: {err}")
    if workdir:
        write_compiled(compiled_file(workdir, target.name), target, results)


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
    config = _CONFIG.value
    try:
        shard = parse_shard(_SHARD.value)
        dag = build_dag(config)  # ConfigError: reported before anything runs
        if _CHECK_DATA.value:  # needs no workdir
            sys.exit(0 if print_data_check(config, dag) else EXIT_USAGE)
        if _COMPILE_ONLY.value:  # needs no workdir; with one, the results are kept there
            workdir = _WORKDIR.value and local_path(_WORKDIR.value, "--workdir")
            compile_only(config, dag, _TOPOLOGY.value, _COMPILE_FILTER.value, workdir)
            return
        if not _WORKDIR.value:
            raise ValueError("--workdir is required (except with --compile-only)")
        workdir = local_path(_WORKDIR.value, "--workdir")
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    if _DRY_RUN.value:
        if needs_migration(workdir):
            print(f"{workdir} holds results of id scheme 1: a run needs --migrate or a new workdir")
        print_cost(
            config, dag, _TOPOLOGY.value or DEFAULT_TOPOLOGIES, mfu=_MFU.value, workdir=workdir
        )
        if config.get("design"):  # seeds for power, adaptive chip-hours (docs/adaptive.md)
            try:
                print_power(config, dag, _TOPOLOGY.value or DEFAULT_TOPOLOGIES, mfu=_MFU.value)
            except ValueError as err:
                fail(str(err), EXIT_USAGE)
        print_plan(config, dag, workdir, dag.shard(*shard))  # its counts line comes last
        return
    if config.get("cpu_devices"):
        # Emulated CPU devices exercise the sharded code paths without an accelerator
        # (only the CPU platform is affected; it must be set before JAX starts).
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    initialize_distributed()
    sys.excepthook = quiet_closed_event_loops(sys.excepthook)
    run = run_adaptive_study if design_values(config) else run_study  # docs/adaptive.md
    try:
        run(config, workdir, shard, migrate=_MIGRATE.value, break_lock=_BREAK_LOCK.value)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    except WorkdirLocked as err:
        fail(str(err), EXIT_LOCKED)
    except Exception as err:
        storage = storage_error(err)
        if storage is None:
            raise
        fail(storage_message(storage, workdir), EXIT_STORAGE)


STORAGE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
STORAGE_TEXTS = {"No space left on device": errno.ENOSPC, "Read-only file system": errno.EROFS}


def storage_error(err: BaseException) -> OSError | None:
    """The storage failure behind `err`, if any: an OSError with a storage errno in
    its chain, or the same message inside a checkpoint library's own exception."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in STORAGE_ERRORS:
            return err
        for text, code in STORAGE_TEXTS.items():
            if text in str(err):
                named = re.search(r'"(/[^"]+)"', str(err))  # TensorStore quotes the file
                return OSError(code, text, named.group(1) if named else None)
        err = err.__cause__ or err.__context__
    return None


if __name__ == "__main__":
    flags.mark_flags_as_required(["config"])
    app.run(main, argv=[absl_spelling(a) for a in sys.argv])
