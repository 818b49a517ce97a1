"""Headline scores and their summaries: per run, mean ± sd over seeds per language,
per task and resource class, per path, and the gain over no intermediate task.

A run's **headline score** is its task's XTREME-R score (`eval.metrics.headline_metrics`):
the mean of exact match and F1 for QA, F1 for UD-POS / PAN-X, accuracy for XNLI /
XCOPA / Tatoeba, mAP@20 for LAReQA / Mewsli-X.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from eval import metrics
from eval.analysis.grouping import (
    ALL_TARGETS,
    in_class,
    language_class,
    language_order,
    path_order,
)
from eval.analysis.records import Path, Record, RunKey, group_runs
from xlmr_flax.languages import CLASSES, RESOURCE_CLASSES

# The metrics whose mean is a target's headline score; `alignment` (Tatoeba-style
# retrieval on the encoder after each stage) is scored by accuracy.
HEADLINE = {
    **{task: metrics.headline_metrics(task) for task in metrics.XTREME_R_TASKS},
    "alignment": ("accuracy",),
}


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values)."""
    array = np.asarray(values, dtype=np.float64)
    sd = float(np.std(array, ddof=1)) if len(array) > 1 else math.nan
    return float(np.mean(array)), sd


def headline_metrics(target: str, metrics: Iterable[str]) -> tuple[str, ...]:
    """The metrics averaged into `target`'s headline score. Tasks outside XTREME-R
    (the intermediate tasks' dev scores) go by the metrics they report."""
    if target in HEADLINE:
        return HEADLINE[target]
    present = set(metrics)
    if {"exact_match", "f1"} <= present:
        return ("exact_match", "f1")
    for metric in ("map@20", "accuracy", "f1"):
        if metric in present:
            return (metric,)
    return (min(present),) if present else ()


def headline_scores(
    records: Iterable[Record], kind: str = "zero_shot"
) -> tuple[dict[RunKey, float], list[dict[str, Any]]]:
    """(headline score per run, the runs that lack a metric of their headline)."""
    scores: dict[RunKey, float] = {}
    incomplete: list[dict[str, Any]] = []
    for key, by_metric in group_runs(records, kind).items():
        wanted = headline_metrics(key[1], by_metric)
        absent = [m for m in wanted if m not in by_metric]
        if absent or not wanted:
            path, target, lang, seed = key
            incomplete.append(
                dict(path=path, target=target, lang=lang, seed=seed, missing=absent or ["?"])
            )
            continue
        scores[key] = float(np.mean([by_metric[m].value for m in wanted]))
    return scores, incomplete


def summarise_seeds(scores: dict[RunKey, float]) -> list[dict[str, Any]]:
    """Mean ± sd over seeds per (path, target, lang), sorted by path, target, language."""
    by_cell: dict[tuple, dict[int, float]] = defaultdict(dict)
    for (path, target, lang, seed), value in scores.items():
        by_cell[(path, target, lang)][seed] = value
    rows = []
    for (path, target, lang), by_seed in by_cell.items():
        mean, sd = mean_sd(list(by_seed.values()))
        rows.append(
            dict(
                path=path,
                target=target,
                lang=lang,
                resource_class=language_class(lang),
                mean=mean,
                sd=sd,
                n_seeds=len(by_seed),
                seeds=sorted(by_seed),
            )
        )
    rows.sort(key=lambda r: (path_order(r["path"]), r["target"], language_order(r["lang"])))
    return rows


def task_scores(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target): the mean over languages of the seed means, overall and per
    resource class (class means leave out the source language)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        grouped[(c["path"], c["target"])].append(c)
    rows = []
    for (path, target), group in grouped.items():
        row: dict[str, Any] = dict(
            path=path, target=target, mean=float(np.mean([c["mean"] for c in group]))
        )
        row["n_langs"] = len(group)
        for cls in RESOURCE_CLASSES:
            members = [c["mean"] for c in group if in_class(c["lang"], cls)]
            row[cls] = float(np.mean(members)) if members else math.nan
        rows.append(row)
    rows.sort(key=lambda r: (path_order(r["path"]), r["target"]))
    return rows


def path_averages(scores: dict[RunKey, float]) -> list[dict[str, Any]]:
    """XTREME-R-style average per path: the mean over target tasks of the mean over
    languages (of the seed means). Its sd is that of the same average computed seed
    by seed, over the seeds that have every task of the path (n_seeds of them), so a
    seed missing a task does not pass for a change of score."""
    tasks = task_scores(summarise_seeds(scores))
    per_seed: dict[tuple[Path, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (path, target, _lang, seed), value in scores.items():
        per_seed[(path, seed)][target].append(value)
    rows = []
    for path in sorted({t["path"] for t in tasks}, key=path_order):
        path_tasks = [t for t in tasks if t["path"] == path]
        seed_averages = [
            float(np.mean([np.mean(v) for v in by_target.values()]))
            for (p, _seed), by_target in sorted(per_seed.items())
            if p == path and len(by_target) == len(path_tasks)
        ]
        sd = mean_sd(seed_averages)[1] if seed_averages else math.nan
        rows.append(
            dict(
                path=path,
                mean=float(np.mean([t["mean"] for t in path_tasks])),
                sd=sd,
                n_seeds=len(seed_averages),
                n_tasks=len(path_tasks),
                tasks=[t["target"] for t in path_tasks],
            )
        )
    return rows


def gains_over_baseline(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target, lang) with a baseline score: seed mean − the baseline path's
    seed mean. Empty when the study has no baseline path []."""
    baseline = {(c["target"], c["lang"]): c["mean"] for c in cells if c["path"] == ()}
    rows = []
    for c in cells:
        base = baseline.get((c["target"], c["lang"]))
        if c["path"] == () or base is None:
            continue
        rows.append(
            dict(
                path=c["path"],
                target=c["target"],
                lang=c["lang"],
                resource_class=c["resource_class"],
                score=c["mean"],
                baseline=base,
                gain=c["mean"] - base,
            )
        )
    return rows


def gains_by_class(gains: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target) and per path over all targets: the mean gain over the
    languages of each class (the "all targets" row averages the per-target means)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for g in gains:
        grouped[(g["path"], g["target"])].append(g)
    rows = []
    for (path, target), group in grouped.items():
        for cls in CLASSES:
            members = [g["gain"] for g in group if in_class(g["lang"], cls)]
            if members:
                rows.append(
                    dict(
                        path=path,
                        target=target,
                        resource_class=cls,
                        gain=float(np.mean(members)),
                        n_langs=len(members),
                    )
                )
    overall: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        overall[(r["path"], r["resource_class"])].append(r["gain"])
    for (path, cls), values in overall.items():
        rows.append(
            dict(
                path=path,
                target=ALL_TARGETS,
                resource_class=cls,
                gain=float(np.mean(values)),
                n_langs=math.nan,
            )
        )
    rows.sort(
        key=lambda r: (path_order(r["path"]), r["target"], CLASSES.index(r["resource_class"]))
    )
    return rows
