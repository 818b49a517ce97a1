"""Continued multilingual masked-LM as an intermediate stage, around each task.

    python -m train --config configs/continued_mlm.py --workdir /mnt/gcs/BUCKET/runs/continued_mlm

What it tests: English intermediate-task training may pull XLM-R's representations
towards English and away from the other languages (the zero-shot targets, and
Tatoeba alignment, measure that). Continuing the multilingual masked-LM objective
(task `mlm`: plain text in `RAW/mlm/<lang>.txt`) is the obvious counterweight. The
original study ran it *during* intermediate training (a multi-task mix of the task
and MLM) and found no consistent gain; the DAG makes the sequential versions as
cheap to add, so the question becomes an ordering question of its own:

- `mlm` alone: does more MLM on its own change transfer (the control);
- `before`: `mlm > T` — a refreshed multilingual encoder, then the English task;
- `after`: `T > mlm` — English task first, then MLM to win back the other languages
  before the target is trained;
- `during`: the mixture `mlm+T` — the original study's variant: each step is an
  MLM batch or a T batch with equal probability (`uniform`), for twice T's steps,
  so T sees its usual number of batches;

each against `T` alone and the baseline, for every intermediate task T, all
XTREME-R targets, three seeds. The model, targets, seeds and per-task
hyperparameters are those of configs/xtreme_r_sequencing.py (configs/common.py);
MLM stages train for `mlm_steps` (10,000 by default, 82 M tokens at batch 32 x 256).

ARG: as every study config (configs/common.py: comma-separated `key=value` items,
a value running until the next `key=`), keys: tasks, mlm (placements: before,
after, during; default before,during), mlm_steps, singles (each task alone,
default yes), baseline, and seeds, targets, model, steps_scale, max_steps,
batch_size, raw_data, mesh. Example:
`configs/continued_mlm.py:tasks=mnli,squad_v2,mlm=before,after`.

Hyperparameters of a mixture `mlm+T` are in `hparams["mlm+T"]` (rate, steps, max
length), applied after `hparams.mixture`.
"""

from __future__ import annotations

import ml_collections

from configs import common

MLM = "mlm"
PLACEMENTS = ("before", "after", "during")


def mlm_paths(tasks, placements, singles: bool) -> tuple[tuple[str, ...], ...]:
    """(mlm,), then per task: (T,), (mlm, T), (T, mlm), (mlm+T,) as chosen."""
    paths = [(MLM,)]
    for task in tasks:
        if singles:
            paths.append((task,))
        if "before" in placements:
            paths.append((MLM, task))
        if "after" in placements:
            paths.append((task, MLM))
        if "during" in placements:
            paths.append((f"{MLM}+{task}",))
    return tuple(paths)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    keys = {
        "tasks": common.TASKS_HELP,
        "mlm": f"where MLM goes relative to each task: {', '.join(PLACEMENTS)}",
        "mlm_steps": f"steps of an MLM stage (default {common.MLM_STEPS})",
        "singles": "include each task alone: yes or no",
        "baseline": common.BASELINE_HELP,
        **common.OPTION_KEYS,
    }
    items = common.parse_arg(arg, keys)
    options = common.common_options(items)
    config = common.base_config(options)
    tasks = common.INTERMEDIATE_TASKS
    if "tasks" in items:
        tasks = common.task_names("tasks", items["tasks"], common.INTERMEDIATE_TASKS)
    if MLM in tasks or any("+" in t for t in tasks):
        raise ValueError(f"config argument tasks: single tasks other than {MLM!r}, got {tasks}")
    placements = ("before", "during")
    if "mlm" in items:
        placements = tuple(common.choice("mlm", [p], PLACEMENTS) for p in items["mlm"])
    singles = common.flag("singles", items["singles"]) if "singles" in items else True
    if "mlm_steps" in items:
        mlm_steps = common.integer("mlm_steps", items["mlm_steps"], 1)
        config.hparams.mlm.steps = common.scaled_steps(mlm_steps, options)
    tiny = options["model"] == "tiny"
    for task in tasks if "during" in placements else ():
        config.hparams[f"{MLM}+{task}"] = ml_collections.ConfigDict(
            dict(
                rate="uniform",
                steps=min(2 * config.hparams[task].steps, options["max_steps"] or 2**62),
                max_length=max(common.max_length(task, tiny), common.max_length(MLM, tiny)),
            )
        )
    study = config.study
    study.intermediate_tasks = (MLM, *tasks)
    study.orders = ()
    study.sequences = mlm_paths(tasks, placements, singles)
    if "baseline" in items:
        study.include_baseline = common.flag("baseline", items["baseline"])
    return config
