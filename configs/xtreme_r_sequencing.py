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

ARG: comma-separated `key=value` items, a value running until the next `key=`
(configs/common.py), e.g. `tasks=mnli,squad_v2,hellaswag,order=3,seeds=1`.
Keys (see KEYS below): tasks, order, paths, baseline, seeds, targets, model,
steps_scale, max_steps, batch_size, raw_data, mesh. `model=tiny` is the local
branch: a tiny random model, the bundled tokenizer and sample data, 8 steps per
stage, 8 emulated CPU devices.

Hyperparameters and training lengths (3 epochs of each task's English training
set at a global batch of 32) are those of configs/common.py, shared by every
study config.
"""

from __future__ import annotations

import ml_collections

from configs.common import (
    BASELINE_HELP,
    INTERMEDIATE_TASKS,
    OPTION_KEYS,
    TASKS_HELP,
    base_config,
    common_options,
    flag,
    integer,
    parse_arg,
    path_list,
    task_names,
)

KEYS = {
    "tasks": TASKS_HELP,
    "order": "longest path: every ordered k-tuple of distinct tasks for k = 1..order",
    "paths": "explicit paths instead of order, tasks joined by `>` (`mnli>squad_v2`)",
    "baseline": BASELINE_HELP,
    **OPTION_KEYS,
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    items = parse_arg(arg, KEYS)
    options = common_options(items)
    config = base_config(options)
    study = config.study
    tasks = task_names("tasks", items["tasks"], INTERMEDIATE_TASKS) if "tasks" in items else None
    study.intermediate_tasks = tasks or INTERMEDIATE_TASKS
    if "paths" in items:
        if "order" in items or tasks:
            raise ValueError("config argument: give either paths or tasks/order, not both")
        study.sequences = path_list(items["paths"])
        study.intermediate_tasks = tuple(dict.fromkeys(t for p in study.sequences for t in p))
    elif "order" in items:
        order = integer("order", items["order"], 0)
        if order > len(study.intermediate_tasks):
            raise ValueError(
                f"config argument order={order}: more than the "
                f"{len(study.intermediate_tasks)} tasks {', '.join(study.intermediate_tasks)}"
            )
        study.orders = tuple(range(1, order + 1))
    if "baseline" in items:
        study.include_baseline = flag("baseline", items["baseline"])
    if not study.include_baseline and not study.sequences and not study.orders:
        raise ValueError("config argument: order=0 with baseline=no leaves no path to train")
    return config
