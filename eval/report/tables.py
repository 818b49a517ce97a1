"""The CSV tables of the report, every row (report.md shows the first rows only)."""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval import analysis as an
from eval.report.folder import _write_text
from eval.report.study import Study
from xlmr_flax.languages import RESOURCE_CLASSES


def _cell(value: Any) -> str:
    """One CSV field: paths as 'a>b', lists space-separated, NaN/None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return an.path_key(value)
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(value) else f"{float(value):.6g}"
    return str(value)


def _write_csv(directory: str, name: str, rows: Sequence[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    _write_text(os.path.join(directory, name), buffer.getvalue())
    return name


EFFECT_COLUMNS = (
    "effect",
    "ci_low",
    "ci_high",
    "se",
    "se_seeds",
    "se_examples",
    "df",
    "p_value",
    "p_holm",
    "ci_bonf_low",
    "ci_bonf_high",
    "excludes_zero",
    "significant",
    "conditional",
    "family",
    "family_size",
)


def write_tables(study: Study, directory: str) -> list[str]:
    """Every CSV table; returns the file names."""
    scores = [
        dict(path=k[0], target=k[1], lang=k[2], seed=k[3], score=v)
        for k, v in sorted(
            study.scores.items(), key=lambda kv: (an.path_order(kv[0][0]), kv[0][1:])
        )
    ]
    metrics = sorted(
        (r for r in study.records if r.kind == "zero_shot"),
        key=lambda r: (
            an.path_order(r.path),
            r.target,
            an.language_order(r.lang),
            r.metric,
            r.seed,
        ),
    )
    metric_rows = _metric_summary(metrics)
    origin = {}  # (target, lang) → its split and gold, a column of every score table
    for r in metrics:
        origin[(r.target, r.lang)] = dict(split=r.split or "test", gold=r.gold or "raw")

    def placed(rows):
        return [{**row, **origin.get((row["target"], row["lang"]), {})} for row in rows]

    return [
        _write_csv(
            directory,
            "scores.csv",
            placed(study.cells),
            (
                "path",
                "target",
                "lang",
                "split",
                "gold",
                "resource_class",
                "mean",
                "sd",
                "n_seeds",
                "seeds",
            ),
        ),
        _write_csv(
            directory,
            "scores_by_seed.csv",
            placed(scores),
            ("path", "target", "lang", "split", "gold", "seed", "score"),
        ),
        _write_csv(
            directory,
            "metrics.csv",
            placed(metric_rows),
            ("path", "target", "lang", "split", "gold", "metric", "mean", "sd", "n_seeds"),
        ),
        _write_csv(
            directory,
            "task_scores.csv",
            study.tasks,
            ("path", "target", "mean", "n_langs", *RESOURCE_CLASSES),
        ),
        _write_csv(
            directory,
            "average.csv",
            study.averages,
            ("path", "mean", "sd", "n_seeds", "n_tasks", "tasks"),
        ),
        _write_csv(
            directory,
            "gains.csv",
            study.gains,
            ("path", "target", "lang", "resource_class", "score", "baseline", "gain"),
        ),
        _write_csv(
            directory,
            "gains_by_class.csv",
            study.gains_class,
            ("path", "target", "resource_class", "gain", "n_langs"),
        ),
        _write_csv(
            directory,
            "ordering_effects.csv",
            study.ordering.languages,
            (
                "first",
                "second",
                "target",
                "lang",
                "resource_class",
                "cc100_gib",
                *EFFECT_COLUMNS,
                "n_seeds",
                "seeds",
                "n_examples",
                "resampling",
            ),
        ),
        _write_csv(
            directory,
            "ordering_by_class.csv",
            study.ordering.classes,
            (
                "first",
                "second",
                "target",
                "resource_class",
                "n_langs",
                "langs",
                *EFFECT_COLUMNS,
                "n_seeds",
                "resampling",
            ),
        ),
        _write_csv(
            directory,
            "forgetting.csv",
            study.forgetting,
            (
                "task",
                "before",
                "after",
                "trained_after",
                "before_mean",
                "before_sd",
                "after_mean",
                "after_sd",
                "forgetting",
                "forgetting_sd",
                "n_seeds",
            ),
        ),
        _write_csv(
            directory,
            "alignment.csv",
            study.alignment,
            ("path", "lang", "resource_class", "mean", "sd", "n_seeds", "change"),
        ),
        _write_csv(
            directory,
            "alignment_by_class.csv",
            study.alignment_class,
            ("path", "resource_class", "mean", "change", "n_langs"),
        ),
        _write_csv(
            directory, "missing.csv", study.missing, ("path", "target", "seed", "languages")
        ),
    ]


def _metric_summary(records: Sequence[an.Record]) -> list[dict[str, Any]]:
    """Mean ± sd over seeds of every reported metric (not only the headline)."""
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        grouped[(r.path, r.target, r.lang, r.metric)].append(r.value)
    rows = []
    for (path, target, lang, metric), values in grouped.items():
        mean, sd = an.mean_sd(values)
        rows.append(
            dict(
                path=path,
                target=target,
                lang=lang,
                metric=metric,
                mean=mean,
                sd=sd,
                n_seeds=len(values),
            )
        )
    return rows
