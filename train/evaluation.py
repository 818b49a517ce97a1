"""The evaluations of a study, each a unit with its own file, and results.jsonl.

After a stage trains, its model is restored once and evaluated on:
- every target task whose sequences end at this stage (zero-shot, every language);
- Tatoeba-style retrieval on the encoder (cross-lingual alignment of every stage;
  also Tatoeba's zero-shot score where an intermediate path ends here);
- the English dev set of each intermediate task on the path so far, with that
  task's own head on this stage's encoder (forgetting: how much of A survives B).

Every unit writes `stages/<id>/eval/<unit>.json` (records without path and seed)
after its per-example statistics, atomically, so a unit is either complete or
redone. `results.jsonl` is then rebuilt from the unit files in the DAG's
sequence order: a resumed or sharded run writes exactly the same file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from eval.example_files import SUFFIX as EXAMPLES_SUFFIX
from eval.example_files import write_examples
from eval.metrics import example_stats, metric_from_stats
from eval.predict import PredictOptions, Predictor, load_on_mesh
from eval.submission import gold_from_raw
from train import faults
from train.dag import StageDag
from train.plan import MIXTURE, stage_dir
from xlmr_flax.atomic import write_file
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.sharding import is_primary
from xlmr_flax.tasks import get_task

ALIGNMENT = "tatoeba"
DEV_FORMATS = (
    "classification",
    "multiple_choice",
    "span_extraction",
    "token_tagging",
)  # the unit every stage's encoder is measured on


def stage_path(dag: StageDag, stage_id: str) -> list[str]:
    """The tasks trained from the pretrained model up to and including `stage_id`."""
    tasks = []
    while stage_id != dag.root:
        stage = dag.stages[stage_id]
        tasks.append(stage.task)
        stage_id = stage.parent
    return tasks[::-1]


def intermediate_stages(dag: StageDag) -> set[str]:
    return {i for s in dag.sequences for i in s.stages[: len(s.path)]}


def units(dag: StageDag, stage_id: str) -> list[str]:
    """The evaluation units of a stage (or of the root: the pretrained model)."""
    targets = {s.target for s in dag.sequences if (s.evaluated_stage or dag.root) == stage_id}
    found = {ALIGNMENT} | targets
    if stage_id in intermediate_stages(dag):
        found |= {f"dev-{task}" for task in stage_path(dag, stage_id) if has_dev_score(task)}
    return sorted(found)


def has_dev_score(task: str) -> bool:
    """Single tasks with a head of their own and a dev split (not mixtures, MLM)."""
    return (
        MIXTURE not in task
        and get_task(task).format in DEV_FORMATS
        and "dev" in get_task(task).splits
    )


def unit_file(workdir: str, stage_id: str, unit: str) -> str:
    return os.path.join(stage_dir(workdir, stage_id), "eval", f"{unit}.json")


def model_dir(workdir: str, dag: StageDag, stage_id: str, pretrained: str) -> str:
    return (
        pretrained if stage_id == dag.root else os.path.join(stage_dir(workdir, stage_id), "model")
    )


def _head_from(encoder_model: PretrainedModel, head_dir: str) -> PretrainedModel:
    """`encoder_model`'s encoder under the head saved in `head_dir`."""
    _, head, head_kwargs, params = load_model_dir(head_dir)
    params = {**params, "encoder": encoder_model.params["encoder"]}
    return PretrainedModel(encoder_model.config, params, head, head_kwargs, encoder_model.tokenizer)


def _score(task: str, predictions, gold, lang: str, examples_stem: str, workdir: str):
    """The unit's records for one language, after writing its per-example statistics
    (`<examples_stem>.npy`, read by the report's bootstrap)."""
    ids, stats = example_stats(task, predictions, gold, lang=lang)
    examples_rel = examples_stem + EXAMPLES_SUFFIX
    write_examples(os.path.join(workdir, examples_rel), ids, stats)
    return [
        dict(lang=lang, metric=m, value=metric_from_stats(m, np.asarray(v)), examples=examples_rel)
        for m, v in sorted(stats.items())
    ]


def evaluate_unit(
    predictor: Predictor, unit: str, stage_id: str, config, workdir: str
) -> list[dict[str, Any]]:
    """The records of one unit: zero-shot on every language of a target, or dev-<task>."""
    rel = os.path.relpath(os.path.dirname(unit_file(workdir, stage_id, unit)), workdir)
    records = []
    if unit.startswith("dev-"):
        task = unit.removeprefix("dev-")
        predictions = predictor.predict(task, "en", config.raw_data, split="dev")
        gold = gold_from_raw(task, "en", config.raw_data, "dev")
        for r in _score(task, predictions, gold, "en", f"{rel}/{unit}/en", workdir):
            records.append(dict(target=task, **r))
        return records
    for lang, predictions in predictor.predict_all(unit, raw_dir=config.raw_data).items():
        gold = gold_from_raw(unit, lang, config.raw_data)
        for r in _score(unit, predictions, gold, lang, f"{rel}/{unit}/{lang}", workdir):
            records.append(dict(target=unit, **r))
    return records


_EXECUTABLES: dict = {}  # compiled forward passes, shared by every stage of the run


def evaluate_stage(
    config, dag: StageDag, stage_id: str, workdir: str, mesh, pretrained: str
) -> list[str]:
    """Runs the stage's pending units (restoring its model once); returns those it ran."""
    pending = [
        u for u in units(dag, stage_id) if not os.path.exists(unit_file(workdir, stage_id, u))
    ]
    if not pending:
        return []
    model = load_on_mesh(model_dir(workdir, dag, stage_id, pretrained), mesh)
    options = PredictOptions.create(config.get("eval"), cache_dir=os.path.join(workdir, "features"))

    def predictor(unit_model: PretrainedModel) -> Predictor:
        return Predictor(unit_model, mesh, options, executables=_EXECUTABLES)

    own = predictor(model)
    for unit in pending:
        task = unit.removeprefix("dev-")
        if unit.startswith("dev-") and task != dag.stages[stage_id].task:
            # An earlier task of the path: its own stage's head on this encoder.
            ancestor = _ancestor_with_task(dag, stage_id, task)
            unit_predictor = predictor(
                _head_from(model, os.path.join(stage_dir(workdir, ancestor), "model"))
            )
        else:
            unit_predictor = own
        records = evaluate_unit(unit_predictor, unit, stage_id, config, workdir)
        if is_primary():
            write_file(unit_file(workdir, stage_id, unit), json.dumps({"records": records}))
        faults.reached(f"eval:{stage_id}:{unit}")
    return pending


def _ancestor_with_task(dag: StageDag, stage_id: str, task: str) -> str:
    while dag.stages[stage_id].task != task:
        stage_id = dag.stages[stage_id].parent
    return stage_id


def _unit_records(workdir: str, stage_id: str, unit: str) -> list[dict] | None:
    path = unit_file(workdir, stage_id, unit)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)["records"]


def result_records(config, dag: StageDag, workdir: str) -> Iterator[dict[str, Any]]:
    """Every record whose unit is evaluated, in a fixed order (sequences as the DAG
    lists them, then alignment and dev records stage by stage)."""

    def tagged(kind, path, seed, stage_id, records, target=None):
        for r in records:
            yield {
                "kind": kind,
                "path": path,
                "target": target or r["target"],
                "lang": r["lang"],
                "seed": seed,
                "metric": r["metric"],
                "value": r["value"],
                "stage": None if stage_id == dag.root else stage_id,
                "examples": r["examples"],
            }

    for s in dag.sequences:
        stage_id = s.evaluated_stage or dag.root
        records = _unit_records(workdir, stage_id, s.target)
        if records is not None:
            yield from tagged("zero_shot", list(s.path), s.seed, stage_id, records)
    for seed in config.study.seeds:
        records = _unit_records(workdir, dag.root, ALIGNMENT)
        if records is not None:
            yield from tagged("alignment", [], seed, dag.root, records, "alignment")
    for stage in dag.in_order():
        path = stage_path(dag, stage.id)
        for unit in units(dag, stage.id):
            kind = "dev" if unit.startswith("dev-") else "alignment" if unit == ALIGNMENT else None
            records = _unit_records(workdir, stage.id, unit) if kind else None
            if records is not None:
                target = "alignment" if kind == "alignment" else None
                yield from tagged(kind, path, stage.seed, stage.id, records, target)


def write_results(config, dag: StageDag, workdir: str) -> int:
    """Rewrites `results.jsonl` whole; returns the number of records."""
    lines = [json.dumps(r, ensure_ascii=False) for r in result_records(config, dag, workdir)]
    if is_primary():
        write_file(os.path.join(workdir, "results.jsonl"), "".join(f"{x}\n" for x in lines))
    return len(lines)
