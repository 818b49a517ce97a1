"""`WORKDIR/results.jsonl`: every evaluated unit's records, tagged with the run they
belong to (kind, path, seed, stage), in the record format `eval.analysis.records`
defines and the report reads.

The file is rebuilt whole from the unit files in a fixed order (sequences as the
DAG lists them, then alignment and dev records stage by stage), from the current
unit keys only: a resumed or sharded run writes exactly the same file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator

from absl import logging

from eval.analysis.records import Kind, Record, record_line
from eval.analysis.trained import DEFAULT_MARGIN, failed_runs
from eval.evaluators import EvalUnit
from train.study import layout
from train.study.plan.dag import StageDag
from train.study.plan.evaluations import alignment_unit, stage_path, target_unit, units
from train.study.run.units import unit_file
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import is_primary


def unit_records(config, workdir: str, stage_id: str, unit: EvalUnit) -> list[dict] | None:
    """A unit's records; None if it is not written yet. A unit file that does not
    read back (cut short, damaged) is removed with a warning naming it, so the unit
    runs again."""
    path = unit_file(config, workdir, stage_id, unit)
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


def result_records(config, dag: StageDag, workdir: str) -> Iterator[Record]:
    """Every record whose unit is evaluated, in a fixed order (sequences as the DAG
    lists them, then alignment and dev records stage by stage)."""

    def tagged(kind, path, seed, stage_id, records, target=None):
        for r in records:
            yield Record(
                kind=kind,
                path=tuple(path),
                target=target or r["target"],
                lang=r["lang"],
                split=r["split"],
                gold=r["gold"],
                seed=seed,
                metric=r["metric"],
                value=r["value"],
                stage=None if stage_id == dag.root else stage_id,
                examples=r["examples"],
            )

    alignment = alignment_unit(config)
    for s in dag.sequences:
        stage_id = s.evaluated_stage or dag.root
        records = unit_records(config, workdir, stage_id, target_unit(config, s.target))
        if records is not None:
            yield from tagged(Kind.ZERO_SHOT, s.path, s.seed, stage_id, records)
    for seed in config.study.seeds:
        records = unit_records(config, workdir, dag.root, alignment)
        if records is not None:
            yield from tagged(Kind.ALIGNMENT, [], seed, dag.root, records, Kind.ALIGNMENT.value)
    for stage in dag.in_order():
        path = stage_path(dag, stage.id)
        for unit in units(config, dag, stage.id):
            # Zero-shot units are filed above, by sequence; the alignment unit and the
            # per-stage kinds (dev) here, by stage.
            kind = Kind.ALIGNMENT if unit == alignment else unit.kind
            if kind == Kind.ZERO_SHOT:
                continue
            records = unit_records(config, workdir, stage.id, unit)
            if records is not None:
                target = Kind.ALIGNMENT.value if kind == Kind.ALIGNMENT else None
                yield from tagged(kind, path, stage.seed, stage.id, records, target)


def loss_change(workdir: str, stage_id: str | None) -> str:
    """The stage's training loss, mean of its first and of its last quarter of logged
    steps ("" when it logged none): evidence beside the score, never the test itself
    (a short stage's loss is noisy)."""
    if not stage_id:
        return ""
    losses = []
    try:
        with open(layout.stage_files(workdir, stage_id).metrics, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if isinstance(row.get("loss"), int | float):
                    losses.append(float(row["loss"]))
    except (OSError, ValueError):
        return ""
    if not losses:
        return ""
    quarter = max(1, len(losses) // 4)
    first, last = sum(losses[:quarter]) / quarter, sum(losses[-quarter:]) / quarter
    return f"training loss {first:.3g} → {last:.3g} over {len(losses)} steps"


def checked_records(config, workdir: str, records: list[Record]) -> list[Record]:
    """The records with `training_failed` set on every zero-shot record of a run that
    did not train (eval/analysis/trained.py; margin `config.report.failure_margin`),
    each such run named in the log. Records of runs that trained are unchanged."""
    margin = (config.get("report") or {}).get("failure_margin", DEFAULT_MARGIN)
    found = failed_runs(records, margin)
    if not found:
        return records
    stage_of = {(r.path, r.target, r.seed): r.stage for r in records if r.kind == Kind.ZERO_SHOT}
    reasons = {}
    for f in found:
        loss = loss_change(workdir, stage_of.get((f.path, f.target, f.seed)))
        reasons[(f.path, f.target, f.seed)] = f.reason + (f"; {loss}" if loss else "")
        logging.warning("run did not train: %s (%s)", f.name(), reasons[(f.path, f.target, f.seed)])
    return [
        dataclasses.replace(r, training_failed=reasons[(r.path, r.target, r.seed)])
        if r.kind == Kind.ZERO_SHOT and (r.path, r.target, r.seed) in reasons
        else r
        for r in records
    ]


def write_results(config, dag: StageDag, workdir: str) -> int:
    """Rewrites `results.jsonl` whole, every run checked for having trained; returns
    the number of records."""
    records = checked_records(config, workdir, list(result_records(config, dag, workdir)))
    lines = [record_line(r) for r in records]
    if is_primary():
        write_file(layout.results_file(workdir), "".join(f"{x}\n" for x in lines))
    return len(lines)
