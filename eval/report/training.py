"""What the report says of runs that did not train (eval/analysis/trained.py): which
path, target and seed, why, how many failed per path, whether one order of a pair
fails more often than the other, and what the rule fixed before the study did with
them. `untrained.csv` and `failure_rates.csv` hold every row."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from eval.analysis import path_key
from eval.analysis.trained import KEEP, REPLACE, chance_score
from eval.report.study import Study
from xlmr_flax.atomic import write_file

RULE_TEXT = {
    KEEP: "kept (`config.report.failed_runs = keep`): they enter every table and effect "
    "as they came out",
    REPLACE: "replaced (`config.report.failed_runs = replace`): that seed of every order "
    "of the pair on the target is left out of the ordering effects, and the next seed "
    "trained for each order takes its place",
}


def _label(path) -> str:
    return " → ".join(path) if path else "(none)"


def _markdown_table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(map(str, row)) + " |" for row in rows), ""]


def section_training(study: Study) -> list[str]:
    """## Runs that did not train: always present, so a clean check is also said."""
    checked = sum(r["runs"] for r in study.failure_rates["paths"])
    lines = [
        "## Runs that did not train",
        "",
        f"Every run's English score on its target is checked against the target's chance "
        f"score (XNLI {chance_score('xnli'):.1f}, XCOPA {chance_score('xcopa'):.1f}, the "
        f"others 0) plus a margin of {study.failure_margin:g} points "
        "(`config.report.failure_margin`); a run at or below it did not learn the task. "
        "Targets without an English test set (XCOPA, Tatoeba) are not checked.",
        "",
    ]
    if not study.untrained:
        return [
            *lines,
            f"None of the {checked} checked runs is at or below its target's chance + margin.",
            "",
        ]
    lines += [
        f"**{len(study.untrained)} of {checked} checked runs did not train**; they are "
        f"{RULE_TEXT[study.failure_rule]}.",
        "",
    ]
    rows = [
        (_label(f.path), f.target, f.seed, f"{f.score:.1f}", f"{f.chance:.1f}", f.reason)
        for f in study.untrained
    ]
    lines += _markdown_table(("path", "target", "seed", "English score", "chance", "why"), rows)
    per_path = [r for r in study.failure_rates["paths"] if r["failed"]]
    lines += ["Failed runs per path:", ""]
    lines += _markdown_table(
        ("path", "failed", "checked runs"),
        [(_label(r["path"]), r["failed"], r["runs"]) for r in per_path],
    )
    pairs = [r for r in study.failure_rates["pairs"] if r["first_failed"] or r["second_failed"]]
    if pairs:
        lines += [
            "Does one order fail more often? Runs of the two orders paired by target and "
            "seed; McNemar's exact test (two-sided binomial test on the seeds where exactly "
            "one order failed):",
            "",
        ]
        lines += _markdown_table(
            ("first", "second", "target", "paired runs", "first failed", "second failed", "p"),
            [
                (
                    _label(r["first"]),
                    _label(r["second"]),
                    r["target"],
                    r["paired_runs"],
                    r["first_failed"],
                    r["second_failed"],
                    f"{r['p_value']:.3g}",
                )
                for r in pairs
            ],
        )
    return lines


def write_training_tables(study: Study, directory: str) -> list[str]:
    """untrained.csv (one row per run that did not train) and failure_rates.csv."""
    files = []
    if study.untrained:
        rows = [dict(f.to_dict(), path=path_key(f.path)) for f in study.untrained]
        files.append(_write(directory, "untrained.csv", rows, tuple(rows[0])))
    pairs = study.failure_rates["pairs"]
    if pairs:
        rows = [dict(r, first=path_key(r["first"]), second=path_key(r["second"])) for r in pairs]
        files.append(_write(directory, "failure_rates.csv", rows, tuple(rows[0])))
    return files


def _write(directory: str, name: str, rows: list[dict[str, Any]], columns) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
    write_file(os.path.join(directory, name), buffer.getvalue())
    return name


def summary_training(study: Study) -> dict[str, Any]:
    """What `python -m eval report` prints as JSON of the check."""
    return dict(
        rule=study.failure_rule,
        margin=study.failure_margin,
        checked=sum(r["runs"] for r in study.failure_rates["paths"]),
        runs=[f.to_dict() for f in study.untrained],
        per_path={
            path_key(tuple(r["path"])): r["failed"]
            for r in study.failure_rates["paths"]
            if r["failed"]
        },
    )
