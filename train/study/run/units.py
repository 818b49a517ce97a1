"""Evaluating a stage: each of its units (train/study/plan/evaluations.py) with its
own file.

After a stage trains, its model is restored once and each pending unit runs with
its evaluator (a target's and Tatoeba's: `zero_shot`; `dev-<task>`: `dev`, the
task's own head from its stage on this stage's encoder: forgetting). A target is scored on the split
`eval.scoring.gold.plan_evaluation` chooses (config
`eval.split`, per target: `auto`, `test` or `dev`) with gold from the raw folder or
the labels folder `eval.labels`; every test language found is also predicted and
written as a submission file, `stages/<id>/submission/<task>/test-<lang>.<ext>`, in
the layout XTREME's `evaluate.py` reads. A split without gold is never scored.

Every unit writes `stages/<id>/eval/<unit>-<key>.json` (records without path and
seed) after its per-example statistics, atomically, so a unit is either complete or
redone. Its key covers what its numbers depend on besides the stage: the scored
split, the bytes of the data and gold files read, and the evaluation options, so a
changed raw folder, labels folder or option is evaluated anew, never mistaken for
the old result. `results.jsonl` is then rebuilt from the unit files (results.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from eval.analysis.records import Kind
from eval.evaluators import EvalModel, EvalUnit, get_evaluator, open_model
from train.study import layout
from train.study.plan.dag import StageDag, stable_hash
from train.study.plan.evaluations import units
from train.study.run.training import model_dir
from xlmr_flax import faults
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import is_primary

# Evaluation options that change no number (how many rows a batch holds).
_UNKEYED_OPTIONS = ("batch_size",)


def labels_dir(config) -> str:
    return (config.get("eval") or {}).get("labels", "") or ""


def unit_key(config, unit: EvalUnit) -> str:
    """A hash of what a unit's numbers depend on besides its stage's weights (its
    name, as every workdir keys it, not its typed fields)."""
    options = {k: v for k, v in dict(config.get("eval") or {}).items() if k not in _UNKEYED_OPTIONS}
    options.pop("split", None)
    options.pop("labels", None)
    evaluator = get_evaluator(unit.evaluator)
    data = evaluator.inputs(unit.task, config.raw_data, labels_dir(config), unit.split)
    return stable_hash([unit.name, data, json.loads(json.dumps(options, default=list))])


def unit_file(config, workdir: str, stage_id: str, unit: EvalUnit) -> str:
    """The unit's records file under the current key."""
    return layout.unit_file(workdir, stage_id, unit.name, unit_key(config, unit))


def evaluate_unit(
    model: EvalModel, unit: EvalUnit, stage_id: str, config, workdir: str, key: str
) -> list[dict[str, Any]]:
    """The records of one unit: zero-shot on every scored language of a target (and
    its test submission files), or dev-<task>."""
    # Zero-shot test predictions are submitted for the study's targets (Tatoeba's
    # alignment unit is one only where Tatoeba is a target).
    submit = unit.kind == Kind.ZERO_SHOT and unit.task in config.study.targets
    scores = get_evaluator(unit.evaluator).run(
        model, unit.task, config.raw_data, labels_dir(config), unit.split,
        examples_dir=layout.unit_examples_dir(workdir, stage_id, unit.name, key),
        submission_dir=layout.submission_dir(workdir, stage_id) if submit else None,
    )  # fmt: skip
    return [
        dict(
            target=s.task,
            lang=s.lang,
            split=s.split,
            gold=s.gold,
            metric=metric,
            value=value,
            examples=os.path.relpath(s.examples, workdir),
        )
        for s in scores
        for metric, value in s.values().items()
    ]


def pending_units(config, dag: StageDag, stage_id: str, workdir: str) -> dict[EvalUnit, str]:
    """The stage's units not written yet under their current keys (unit -> key)."""
    keys = {u: unit_key(config, u) for u in units(config, dag, stage_id)}
    return {
        u: k
        for u, k in keys.items()
        if not os.path.exists(layout.unit_file(workdir, stage_id, u.name, k))
    }


def evaluate_stage(
    config, dag: StageDag, stage_id: str, workdir: str, mesh,
    done: Callable[[EvalUnit], None] | None = None,
) -> list[EvalUnit]:  # fmt: skip
    """Runs the stage's pending units (restoring its model once); returns those it ran.
    `done(unit)` is told after each unit's file is written (a progress counter)."""
    keys = pending_units(config, dag, stage_id, workdir)
    pending = list(keys)
    if not pending:
        return []
    own = open_model(
        model_dir(workdir, dag, stage_id), mesh, config.get("eval"), layout.features_dir(workdir)
    )
    for unit in pending:
        model = own
        if unit.kind == Kind.DEV and unit.task != dag.stages[stage_id].task:
            # An earlier task of the path: its own stage's head on this encoder.
            ancestor = _ancestor_with_task(dag, stage_id, unit.task)
            model = own.with_head_of(layout.stage_model_dir(workdir, ancestor))
        records = evaluate_unit(model, unit, stage_id, config, workdir, keys[unit])
        if is_primary():
            path = layout.unit_file(workdir, stage_id, unit.name, keys[unit])
            write_file(path, json.dumps({"records": records}))
        faults.reached(f"eval:{stage_id}:{unit.name}")
        if done:
            done(unit)
    return pending


def _ancestor_with_task(dag: StageDag, stage_id: str, task: str) -> str:
    while dag.stages[stage_id].task != task:
        stage_id = dag.stages[stage_id].parent
    return stage_id
