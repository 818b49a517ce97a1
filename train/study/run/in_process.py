"""The in-process executor (the default): every stage of the shard in this process,
in dependency order, each followed by its evaluations (work.py `stage_work`).

A stage that fails is recorded and its descendants are skipped (blocked); every
other subtree runs to the end. A lost process is not retried here: running the same
command again resumes (every stage from its last checkpoint). No watchdog stops a
hung stage: a process cannot kill what hangs in itself and go on, so a hung
in-process run is stopped by hand and run again (the Ray executor does it alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from train.progress import overall_line
from train.study.layout import is_done
from train.study.plan.dag import Stage, StageDag
from train.study.run.failures import BLOCKED, DONE, StageOutcome, blocked_by
from train.study.run.goodput import stage_line
from train.study.run.work import enable_compilation_cache, stage_work
from xlmr_flax.sharding import make_mesh


def run_in_process(
    config,
    dag: StageDag,
    stages: list[Stage],
    workdir: str,
    *,
    run_id: str,
    evaluate_root: bool,
    started: float,
    say: Callable[[str], None],
) -> list[StageOutcome]:
    """Runs the root (the pretrained model; its evaluations with `evaluate_root`) and
    then `stages`; returns one outcome per stage, the root's first."""
    enable_compilation_cache(workdir)
    mesh = make_mesh(tuple(config.get("mesh", (-1, 1, 1))))
    root = stage_work(
        config, dag, dag.root, workdir, mesh, run_id=run_id, ready_at=time.time(),
        evaluate=evaluate_root,
    )  # fmt: skip
    outcomes, failed = [root], set() if root.status == DONE else {dag.root}
    total = len(stages)
    for number, stage in enumerate(stages, 1):
        ancestor = blocked_by(dag, stage.id, failed)
        if ancestor is not None:
            failed.add(stage.id)
            outcomes.append(StageOutcome(stage.id, BLOCKED, f"stage {ancestor} failed"))
            continue
        if not is_done(workdir, stage.id):
            what = f"training {stage.task} (seed {stage.seed}) {stage.id}"
            say(overall_line(number - 1, total, started, what))
        outcome = stage_work(
            config, dag, stage.id, workdir, mesh, run_id=run_id, ready_at=time.time(),
            label=f"{number}/{total} {stage.task}",
        )  # fmt: skip
        outcomes.append(outcome)
        if outcome.status != DONE:
            failed.add(stage.id)
            say(f"stage {stage.id} ({stage.task}, seed {stage.seed}) failed: {outcome.error}")
        elif (
            outcome.times
            and outcome.times.held_s >= 0.05
            and (outcome.times.train or outcome.evaluated)
        ):
            say(stage_line(outcome.times))
    return outcomes
