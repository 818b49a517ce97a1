"""The main command: `python -m train --config configs/FILE.py[:ARG] --workdir DIR`.

Runs the study: every pending stage of the shard in dependency order, each
followed by its evaluations, then `results.jsonl` and the report. `--dry-run`
prints the stage DAG (what is done and pending) and, last, one JSON line of
counts; `--shard I/N` restricts either to a disjoint part of the DAG.

Exit codes: 0 done; 2 the command, config, data or workdir cannot be used
(nothing was trained; one line on stderr says why); 3 the workdir is in use by
another run (train/lock.py); 4 a storage error during the run (disk full,
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

from train.lock import WorkdirLocked
from train.plan import ConfigError, build_dag, print_plan
from train.study import run_study
from train.workdir import needs_migration
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
        workdir = local_path(_WORKDIR.value, "--workdir")
        dag = build_dag(config)  # ConfigError: reported before anything runs
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    if _DRY_RUN.value:
        if needs_migration(workdir):
            print(f"{workdir} holds results of id scheme 1: a run needs --migrate or a new workdir")
        print_plan(config, dag, workdir, dag.shard(*shard))
        return
    if config.get("cpu_devices"):
        # Emulated CPU devices exercise the sharded code paths without an accelerator
        # (only the CPU platform is affected; it must be set before JAX starts).
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    initialize_distributed()
    sys.excepthook = quiet_closed_event_loops(sys.excepthook)
    try:
        run_study(config, workdir, shard, migrate=_MIGRATE.value, break_lock=_BREAK_LOCK.value)
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
    flags.mark_flags_as_required(["config", "workdir"])
    # absl spells flags with underscores; accept the documented `--dry-run` too.
    app.run(main, argv=[a.replace("--dry-run", "--dry_run", 1) for a in sys.argv])
