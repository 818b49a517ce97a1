"""Multi-task intermediate training: all nine intermediate tasks as one mixture stage.

    python -m train --config configs/multitask.py --workdir /mnt/gcs/BUCKET/runs/multitask

The original study's multi-task variant: one stage trains on a mixture of every
intermediate task (one shared encoder, a head per task, each step one task's batch
drawn by rate; see docs/pipeline.md), then each XTREME-R target is trained and
evaluated as in configs/xtreme_r_sequencing.py, sharing its model, targets, seeds and
per-task hyperparameters (configs/base.py). Two paths: the baseline and the
mixture, whose path element is the task names joined by "+"
(`anli_plus+mnli+qqp+sst2+squad_v2+hellaswag+ccg+cosmosqa+commonsenseqa`).

Mixture hyperparameters (`hparams.mixture`): the rate (`xlmr_flax/data/mixture.py`)
is `capped` by default, each task weighted by its number of examples capped at
`cap` = 2**17 (ANLI+, MNLI and QQP would otherwise take 87 % of the steps);
`proportional` and `uniform` are the alternatives. Steps: EPOCHS (3) passes over
the capped examples, 3 * sum(min(examples, cap)) / batch (all examples for
`proportional`); the maximum length is the longest of its tasks' (384: SQuAD v2.0).

ARG: as every study config (configs/base.py: comma-separated `key=value` items,
a value running until the next `key=`), keys: tasks (at least two), rate, cap,
steps (the mixture's steps before steps_scale and max_steps), baseline, and seeds,
targets, model, steps_scale, max_steps, batch_size, raw_data, checkpoint, mesh. Example:
`configs/multitask.py:tasks=mnli,squad_v2,hellaswag,rate=uniform,seeds=1`.
"""

from __future__ import annotations

import ml_collections

from configs import base
from xlmr_flax.tasks import get_task

RATES = ("capped", "proportional", "uniform")  # xlmr_flax.data.mixture.RATES
CAP = 2**17

KEYS = dict(
    tasks=tuple,  # the mixture's tasks (at least two), or `all`
    rate=str,  # mixture rate: capped, proportional or uniform
    cap=int,  # examples cap of the `capped` rate
    steps=int,  # the mixture stage's steps (default: 3 passes over the capped examples)
    baseline=bool,  # include the path without intermediate task
)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config, items, length = base.study_config(arg, **KEYS)
    tasks = base.tasks_arg(items.get("tasks", ("all",)))
    if len(tasks) < 2 or any("+" in t for t in tasks):
        raise base.ArgError(f"config argument tasks: a mixture needs two or more, got {tasks}")
    rate = base.one_of("rate", items.get("rate", "capped"), RATES)
    cap = items.get("cap", CAP)
    if "steps" in items:
        raw = items["steps"]
    else:
        sizes = [get_task(t).train_examples for t in tasks]
        if None in sizes:
            untrained = tasks[sizes.index(None)]
            raise base.ArgError(f"config argument tasks: {untrained!r} has no training set")
        examples = sum(n if rate == "proportional" else min(n, cap) for n in sizes)
        raw = base.EPOCHS * examples / length.batch_size
    config.hparams.mixture = ml_collections.ConfigDict(
        dict(
            rate=rate,
            cap=cap,
            steps=length.steps(raw),
            max_length=max(length.max_length(t) for t in tasks),
        )
    )
    study = config.study
    study.intermediate_tasks = tasks
    study.orders = ()
    study.sequences = (("+".join(tasks),),)
    study.include_baseline = items.get("baseline", True)
    return config
