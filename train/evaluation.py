"""The evaluations of a study, each a unit with its own file, and results.jsonl.

After a stage trains, its model is restored once and evaluated on:
- every target task whose sequences end at this stage (zero-shot, every language);
- Tatoeba-style retrieval on the encoder (cross-lingual alignment of every stage;
  also Tatoeba's zero-shot score where an intermediate path ends here);
- the English dev set of each intermediate task on the path so far, with that
  task's own head on this stage's encoder (forgetting: how much of A survives B).

A target is scored on the split `eval.gold.plan_evaluation` chooses (config
`eval.split`, per target: `auto`, `test` or `dev`) with gold from the raw folder or
the labels folder `eval.labels`; every test language found is also predicted and
written as a submission file, `stages/<id>/submission/<task>/test-<lang>.<ext>`, in
the layout XTREME's `evaluate.py` reads. A split without gold is never scored.

Every unit writes `stages/<id>/eval/<unit>-<key>.json` (records without path and
seed) after its per-example statistics, atomically, so a unit is either complete or
redone. Its key covers what its numbers depend on besides the stage: the scored
split, the bytes of the data and gold files read, and the evaluation options, so a
changed raw folder, labels folder or option is evaluated anew, never mistaken for
the old result. `results.jsonl` is then rebuilt from the unit files in the DAG's
sequence order: a resumed or sharded run writes exactly the same file.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from absl import logging

from eval.example_files import SUFFIX as EXAMPLES_SUFFIX
from eval.example_files import write_examples
from eval.gold import AUTO, GoldSource, file_states, plan_evaluation
from eval.metrics import example_stats, metric_from_stats
from eval.predict import PredictOptions, Predictor, load_on_mesh
from eval.submission import write_predictions
from train import faults
from train.dag import StageDag, stable_hash
from train.plan import MIXTURE, stage_dir
from xlmr_flax.atomic import write_file
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.data.cache import files_fingerprint
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


# Evaluation options that change no number (how many rows a batch holds).
_UNKEYED_OPTIONS = ("batch_size",)


def eval_split_choice(config, task: str) -> str:
    """The config's evaluation split for `task` (`eval.split.<task>`, default auto)."""
    return (config.get("eval") or {}).get("split", {}).get(task, AUTO)


def labels_dir(config) -> str:
    return (config.get("eval") or {}).get("labels", "") or ""


def _eval_plan(config, unit: str):
    if unit.startswith("dev-"):
        return None
    choice = eval_split_choice(config, unit)
    return plan_evaluation(unit, config.raw_data, labels_dir(config), choice)


def unit_key(config, unit: str) -> str:
    """A hash of what a unit's numbers depend on besides its stage's weights."""
    options = {k: v for k, v in dict(config.get("eval") or {}).items() if k not in _UNKEYED_OPTIONS}
    options.pop("split", None)
    options.pop("labels", None)
    if unit.startswith("dev-"):
        task = get_task(unit.removeprefix("dev-"))
        data = [["dev", "en", files_fingerprint(task.files(config.raw_data, "dev", "en"))]]
    else:
        plan = _eval_plan(config, unit)
        task = get_task(unit)
        data = [plan.split, sorted(plan.unscored)]
        data += [[s.lang, s.origin, _fingerprint(s.files)] for _, s in sorted(plan.scored.items())]
        data += [
            [lang, _fingerprint(tuple(task.files(config.raw_data, "test", lang)))]
            for lang in plan.test_langs
        ]
    return stable_hash([unit, data, json.loads(json.dumps(options, default=list))])


def _fingerprint(files: tuple[str, ...]) -> str:
    return _hash_files(files, file_states(list(files)))


@functools.lru_cache(maxsize=4096)
def _hash_files(files: tuple[str, ...], _states: tuple) -> str:
    return files_fingerprint(list(files))


def unit_file(workdir: str, stage_id: str, unit: str, key: str) -> str:
    return os.path.join(stage_dir(workdir, stage_id), "eval", f"{unit}-{key}.json")


def submission_dir(workdir: str, stage_id: str) -> str:
    """The stage's submission folder (`<task>/test-<lang>.<ext>`, as `evaluate.py`'s
    `--prediction_folder`)."""
    return os.path.join(stage_dir(workdir, stage_id), "submission")


def model_dir(workdir: str, dag: StageDag, stage_id: str, pretrained: str) -> str:
    return (
        pretrained if stage_id == dag.root else os.path.join(stage_dir(workdir, stage_id), "model")
    )


def _head_from(encoder_model: PretrainedModel, head_dir: str) -> PretrainedModel:
    """`encoder_model`'s encoder under the head saved in `head_dir`."""
    _, head, head_kwargs, params = load_model_dir(head_dir)
    params = {**params, "encoder": encoder_model.params["encoder"]}
    return PretrainedModel(encoder_model.config, params, head, head_kwargs, encoder_model.tokenizer)


def _score(task: str, predictions, source: GoldSource, raw_dir: str, rel: str, workdir: str):
    """Scores one language after writing its per-example statistics to
    `rel/<split>-<lang>.npy` (read by the report's bootstrap)."""
    gold = source.load(task, raw_dir)
    ids, stats = example_stats(task, predictions, gold, lang=source.lang)
    examples_rel = f"{rel}/{source.split}-{source.lang}{EXAMPLES_SUFFIX}"
    write_examples(os.path.join(workdir, examples_rel), ids, stats)
    return [
        dict(
            target=task,
            lang=source.lang,
            split=source.split,
            gold=source.origin,
            metric=m,
            value=metric_from_stats(m, np.asarray(v)),
            examples=examples_rel,
        )
        for m, v in sorted(stats.items())
    ]


def evaluate_unit(
    predictor: Predictor, unit: str, stage_id: str, config, workdir: str, key: str
) -> list[dict[str, Any]]:
    """The records of one unit: zero-shot on every scored language of a target (and
    its test submission files), or dev-<task>."""
    rel = os.path.relpath(unit_file(workdir, stage_id, unit, key), workdir).removesuffix(".json")
    raw = config.raw_data
    if unit.startswith("dev-"):
        task = get_task(unit.removeprefix("dev-"))
        layout, files = task.locate(raw, "dev", "en") or (None, [])
        if layout is None or task.gold(raw, "dev", "en") is not None:
            return []  # forgetting is measured on dev gold only
        source = GoldSource("dev", "en", f"raw:{layout.name}", tuple(files))
        predictions = predictor.predict(task.name, "en", raw, split="dev")
        return _score(task.name, predictions, source, raw, rel, workdir)
    plan = _eval_plan(config, unit)
    records, test_predictions = [], {}
    for lang, source in plan.scored.items():
        predictions = predictor.predict(unit, lang, raw, split=plan.split)
        records += _score(unit, predictions, source, raw, rel, workdir)
        if plan.split == "test":
            test_predictions[lang] = predictions
    if unit != ALIGNMENT or _is_zero_shot_target(config, unit):
        for lang in plan.test_langs:
            if lang not in test_predictions:
                test_predictions[lang] = predictor.predict(unit, lang, raw, split="test")
            if is_primary():
                write_predictions(
                    submission_dir(workdir, stage_id), unit, lang, test_predictions[lang], "test"
                )
    return records


def _is_zero_shot_target(config, task: str) -> bool:
    return task in config.study.targets


_EXECUTABLES: dict = {}  # compiled forward passes, shared by every stage of the run


def evaluate_stage(
    config, dag: StageDag, stage_id: str, workdir: str, mesh, pretrained: str
) -> list[str]:
    """Runs the stage's pending units (restoring its model once); returns those it ran."""
    keys = {u: unit_key(config, u) for u in units(dag, stage_id)}
    pending = [u for u, k in keys.items() if not os.path.exists(unit_file(workdir, stage_id, u, k))]
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
        records = evaluate_unit(unit_predictor, unit, stage_id, config, workdir, keys[unit])
        if is_primary():
            path = unit_file(workdir, stage_id, unit, keys[unit])
            write_file(path, json.dumps({"records": records}))
        faults.reached(f"eval:{stage_id}:{unit}")
    return pending


def _ancestor_with_task(dag: StageDag, stage_id: str, task: str) -> str:
    while dag.stages[stage_id].task != task:
        stage_id = dag.stages[stage_id].parent
    return stage_id


def _unit_records(config, workdir: str, stage_id: str, unit: str) -> list[dict] | None:
    """A unit's records; None if it is not written yet. A unit file that does not
    read back (cut short, damaged) is removed with a warning naming it, so the unit
    runs again."""
    path = unit_file(workdir, stage_id, unit, unit_key(config, unit))
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            records = json.load(f)["records"]
        if isinstance(records, list) and all(isinstance(r, dict) for r in records):
            return records
        problem = "its records are not a list of objects"
    except (ValueError, KeyError, TypeError) as err:
        problem = f"{type(err).__name__}: {err}"
    logging.warning("evaluation unit %s is corrupt (%s); it runs again", path, problem)
    if is_primary():
        os.unlink(path)
    return None


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
                "split": r["split"],
                "gold": r["gold"],
                "seed": seed,
                "metric": r["metric"],
                "value": r["value"],
                "stage": None if stage_id == dag.root else stage_id,
                "examples": r["examples"],
            }

    for s in dag.sequences:
        stage_id = s.evaluated_stage or dag.root
        records = _unit_records(config, workdir, stage_id, s.target)
        if records is not None:
            yield from tagged("zero_shot", list(s.path), s.seed, stage_id, records)
    for seed in config.study.seeds:
        records = _unit_records(config, workdir, dag.root, ALIGNMENT)
        if records is not None:
            yield from tagged("alignment", [], seed, dag.root, records, "alignment")
    for stage in dag.in_order():
        path = stage_path(dag, stage.id)
        for unit in units(dag, stage.id):
            kind = "dev" if unit.startswith("dev-") else "alignment" if unit == ALIGNMENT else None
            records = _unit_records(config, workdir, stage.id, unit) if kind else None
            if records is not None:
                target = "alignment" if kind == "alignment" else None
                yield from tagged(kind, path, stage.seed, stage.id, records, target)


def write_results(config, dag: StageDag, workdir: str) -> int:
    """Rewrites `results.jsonl` whole; returns the number of records."""
    lines = [json.dumps(r, ensure_ascii=False) for r in result_records(config, dag, workdir)]
    if is_primary():
        write_file(os.path.join(workdir, "results.jsonl"), "".join(f"{x}\n" for x in lines))
    return len(lines)
