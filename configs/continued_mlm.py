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
hyperparameters are those of configs/xtreme_r_sequencing.py (configs/base.py);
MLM stages train for `mlm_steps` (10,000 by default, 82 M tokens at batch 32 x 256).

ARG: as every study config (configs/base.py: comma-separated `key=value` items,
a value running until the next `key=`), keys: tasks, mlm (placements: before,
after, during; default before,during), mlm_steps, singles (each task alone,
default yes), baseline, and seeds, targets, model, steps_scale, max_steps,
batch_size, raw_data, checkpoint, mesh. Example:
`configs/continued_mlm.py:tasks=mnli,squad_v2,mlm=before,after`.

Hyperparameters of a mixture `mlm+T` are in `hparams["mlm+T"]` (rate, steps, max
length), applied after `hparams.mixture`.
"""

from __future__ import annotations

import ml_collections

from configs import base

MLM = "mlm"
PLACEMENTS = ("before", "after", "during")

KEYS = dict(
    tasks=tuple,  # intermediate tasks (registry names), or `all`
    mlm=tuple,  # where MLM goes relative to each task: before, after, during
    mlm_steps=int,  # steps of an MLM stage (default base.MLM_STEPS)
    singles=bool,  # include each task alone
    baseline=bool,  # include the path without intermediate task
)


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
    config, items, length = base.study_config(arg, **KEYS)
    tasks = base.tasks_arg(items.get("tasks", ("all",)))
    if MLM in tasks or any("+" in t for t in tasks):
        raise base.ArgError(f"config argument tasks: single tasks other than {MLM!r}, got {tasks}")
    placements = tuple(base.one_of("mlm", p, PLACEMENTS) for p in items.get("mlm", ()))
    placements = placements or ("before", "during")
    if "mlm_steps" in items:
        config.hparams.mlm.steps = length.steps(items["mlm_steps"])
    for task in tasks if "during" in placements else ():
        config.hparams[f"{MLM}+{task}"] = ml_collections.ConfigDict(
            dict(
                rate="uniform",
                steps=min(2 * config.hparams[task].steps, length.max_steps or 2**62),
                max_length=max(length.max_length(task), length.max_length(MLM)),
            )
        )
    study = config.study
    study.intermediate_tasks = (MLM, *tasks)
    study.orders = ()
    study.sequences = mlm_paths(tasks, placements, items.get("singles", True))
    study.include_baseline = items.get("baseline", True)
    return config
