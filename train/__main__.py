"""The main command: `python -m train --config configs/FILE.py[:ARG] --workdir DIR`.

Runs the study: every pending stage of the shard in dependency order, each
followed by its evaluations, then `results.jsonl` and the report. `--dry-run`
prints the stage DAG (what is done and pending) and, last, one JSON line of
counts; `--shard I/N` restricts either to a disjoint part of the DAG.
"""

from __future__ import annotations

import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from train.plan import ConfigError, build_dag, print_plan
from train.study import run_study
from xlmr_flax.sharding import initialize_distributed
from xlmr_flax.storage import local_path

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file")
_WORKDIR = flags.DEFINE_string("workdir", None, "directory for every output of the run")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "print the stage plan and counts, run nothing")
_SHARD = flags.DEFINE_string("shard", "0/1", "I/N: run the I-th of N disjoint parts of the DAG")


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: expected 0 <= I < N")
    return index, count


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # checkpoint libraries log every file at INFO
    config = _CONFIG.value
    try:
        shard = parse_shard(_SHARD.value)
        workdir = local_path(_WORKDIR.value, "--workdir")
        dag = build_dag(config)  # ConfigError: reported before anything runs
    except ValueError as err:
        raise app.UsageError(str(err)) from None
    if _DRY_RUN.value:
        print_plan(config, dag, workdir, dag.shard(*shard))
        return
    if config.get("cpu_devices"):
        # Emulated CPU devices exercise the sharded code paths without an accelerator
        # (only the CPU platform is affected; it must be set before JAX starts).
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    initialize_distributed()
    try:
        run_study(config, workdir, shard)
    except ConfigError as err:
        raise app.UsageError(str(err)) from None


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    # absl spells flags with underscores; accept the documented `--dry-run` too.
    app.run(main, argv=[a.replace("--dry-run", "--dry_run", 1) for a in sys.argv])
