"""The full ordering study: XLM-R Large, nine intermediate tasks, all XTREME-R targets.

    python -m train --config configs/xtreme_r_sequencing.py \\
        --workdir /mnt/gcs/BUCKET/runs/xtreme_r_sequencing
    python -m train --config 'configs/xtreme_r_sequencing.py:tasks=mnli,squad_v2,order=2' \\
        --workdir runs/two_tasks --dry-run

By default: the nine intermediate tasks of the original study (ANLI+, MNLI, QQP,
SST-2, SQuAD v2.0, HellaSwag, CCG, Cosmos QA, CommonsenseQA), the baseline (no
intermediate task), every task alone and every ordered pair (1 + 9 + 72 = 82
paths), all ten XTREME-R targets and three seeds: 7,296 stage runs if every
sequence trained its own prefix, 2,457 unique stages.

This is configs/base.py's config as it is; the argument narrows it.
ARG: comma-separated `key=value` items, a value running until the next `key=`
(configs/base.py), e.g. `tasks=mnli,squad_v2,hellaswag,order=3,seeds=1`.
Keys: those of KEYS below (tasks, order, paths, baseline) and base.OPTIONS (seeds,
targets, model, steps_scale, max_steps, batch_size, raw_data, checkpoint, mesh).
`model=` takes any size of the model table (xlmr_flax/config.py: large, base, small,
tiny) with its eval layer; `model=tiny` is the local branch: a tiny random model, the
bundled tokenizer and sample data, 8 steps per stage, 8 emulated CPU devices; `small`
is a random model with the bundled tokenizer on `raw_data`.
"""

from __future__ import annotations

import ml_collections

from configs import base

KEYS = dict(
    tasks=tuple,  # intermediate tasks (registry names), or `all`
    order=int,  # longest path: every ordered k-tuple of distinct tasks for k = 1..order
    paths=tuple,  # explicit paths instead of order, tasks joined by `>` (`mnli>squad_v2`)
    baseline=bool,  # include the path without intermediate task
)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config, items, _ = base.study_config(arg, **KEYS)
    study = config.study
    if "tasks" in items:
        study.intermediate_tasks = base.tasks_arg(items["tasks"])
    if "paths" in items:
        if "order" in items or "tasks" in items:
            raise base.ArgError("config argument: give either paths or tasks/order, not both")
        study.sequences = tuple(tuple(t.strip() for t in p.split(">")) for p in items["paths"])
        if not all(all(path) for path in study.sequences):
            raise base.ArgError(f"config argument paths={','.join(items['paths'])}: an empty task")
        study.intermediate_tasks = tuple(dict.fromkeys(t for p in study.sequences for t in p))
    elif "order" in items:
        if items["order"] > len(study.intermediate_tasks):
            raise base.ArgError(
                f"config argument order={items['order']}: more than the "
                f"{len(study.intermediate_tasks)} tasks {', '.join(study.intermediate_tasks)}"
            )
        study.orders = tuple(range(1, items["order"] + 1))
    study.include_baseline = items.get("baseline", True)
    if not study.include_baseline and not study.sequences and not study.orders:
        raise base.ArgError("config argument: order=0 with baseline=no leaves no path to train")
    return config
