"""Multi-task intermediate training: all nine intermediate tasks as one mixture stage.

    python -m train --config configs/multitask.py --workdir /mnt/gcs/BUCKET/runs/multitask

The original study's multi-task variant: one stage trains on a mixture of every
intermediate task (one shared encoder, a head per task, each step one task's batch
drawn by rate; see docs/pipeline.md), then each XTREME-R target is trained and
evaluated as in configs/xtreme_r_sequencing.py, sharing its model, targets, seeds and
per-task hyperparameters (configs/common.py). Two paths: the baseline and the
mixture, whose path element is the task names joined by "+"
(`anli_plus+mnli+qqp+sst2+squad_v2+hellaswag+ccg+cosmosqa+commonsenseqa`).

Mixture hyperparameters (`hparams.mixture`): the rate (`xlmr_flax/data/mixture.py`)
is `capped` by default, each task weighted by its number of examples capped at
`cap` = 2**17 (ANLI+, MNLI and QQP would otherwise take 87 % of the steps);
`proportional` and `uniform` are the alternatives. Steps: EPOCHS (3) passes over
the capped examples, 3 * sum(min(examples, cap)) / batch (all examples for
`proportional`); the maximum length is the longest of its tasks' (384: SQuAD v2.0).

ARG: as every study config (configs/common.py: comma-separated `key=value` items,
a value running until the next `key=`), keys: tasks (at least two), rate, cap,
steps (the mixture's steps before steps_scale and max_steps), baseline, and seeds,
targets, model, steps_scale, max_steps, batch_size, raw_data, mesh. Example:
`configs/multitask.py:tasks=mnli,squad_v2,hellaswag,rate=uniform,seeds=1`.
"""

from __future__ import annotations

import ml_collections

from configs import common

RATES = ("capped", "proportional", "uniform")  # xlmr_flax.data.mixture.RATES
CAP = 2**17


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    keys = {
        "tasks": "the mixture's tasks (at least two), or `all`",
        "rate": f"mixture rate: {', '.join(RATES)}",
        "cap": "examples cap of the `capped` rate",
        "steps": "the mixture stage's steps (default: 3 passes over the capped examples)",
        "baseline": common.BASELINE_HELP,
        **common.OPTION_KEYS,
    }
    items = common.parse_arg(arg, keys)
    options = common.common_options(items)
    config = common.base_config(options)
    tasks = common.INTERMEDIATE_TASKS
    if "tasks" in items:
        tasks = common.task_names("tasks", items["tasks"], common.INTERMEDIATE_TASKS)
    if len(tasks) < 2 or any("+" in t for t in tasks):
        raise ValueError(f"config argument tasks: a mixture needs two or more tasks, got {tasks}")
    rate = common.choice("rate", items["rate"], RATES) if "rate" in items else "capped"
    cap = common.integer("cap", items["cap"], 1) if "cap" in items else CAP
    if "steps" in items:
        raw = common.integer("steps", items["steps"], 1)
    else:
        examples = sum(
            common.TRAIN_SIZES[t] if rate == "proportional" else min(common.TRAIN_SIZES[t], cap)
            for t in tasks
        )
        raw = common.EPOCHS * examples / options["batch_size"]
    tiny = options["model"] == "tiny"
    config.hparams.mixture = ml_collections.ConfigDict(
        dict(
            rate=rate,
            cap=cap,
            steps=common.scaled_steps(raw, options),
            max_length=max(common.max_length(t, tiny) for t in tasks),
        )
    )
    study = config.study
    study.intermediate_tasks = tasks
    study.orders = ()
    study.sequences = (("+".join(tasks),),)
    if "baseline" in items:
        study.include_baseline = common.flag("baseline", items["baseline"])
    return config
