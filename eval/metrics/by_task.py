"""The metrics of one task, chosen by its metric kind: the official scores and the
per-example statistics behind them."""

from __future__ import annotations

from typing import Any

import numpy as np

from eval.metrics.kinds import get_metric_kind, known_metrics, metric_of_sums
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task


def metric_kind(task: str) -> str:
    """How `task` is scored (its format says): accuracy, token_accuracy, seqeval, squad,
    squad_v2, mlqa or map."""
    spec = get_task(task)
    return get_format(spec.format).metric_kind(spec)


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics `score_task` reports for `task` (the first is the headline, except
    for QA, whose headline is the mean of its two)."""
    return get_metric_kind(metric_kind(task)).metrics


def score_task(
    task: str,
    predictions: Any,
    gold: Any,
    *,
    lang: str | None = None,
    allow_missing: bool = False,
) -> dict[str, float]:
    """The task's official metrics (percentages) over the whole test set, computed as
    the official scripts compute them. `lang` is needed for MLQA unless `gold` is an
    `Answers` that knows it. A question or query without a prediction is an error,
    or scores 0 with `allow_missing` (the official scripts' partial credit)."""
    return get_metric_kind(metric_kind(task)).score(predictions, gold, lang, allow_missing)


def example_stats(
    task: str,
    predictions: Any,
    gold: Any,
    *,
    lang: str | None = None,
    allow_missing: bool = False,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """(example ids, per-example statistics per metric) such that
    `metric_from_stats(m, stats[m])` is `score_task(...)[m]`, and so that any resample
    of the rows gives the metric of that resample of test examples.

    Ids are the gold keys for id-keyed tasks (QA, LAReQA, Mewsli-X) and positions
    ("0", "1", ...) for list-shaped ones. "Mean" metrics store one value in [0, 1]
    per example; seqeval's precision/recall/F1 share one `(n, 4)` array per sentence
    (entity counts and joins: `tagging.Seqeval`); token accuracy (CCG) stores
    `(correct, total)` tokens per sentence."""
    return get_metric_kind(metric_kind(task)).stats(predictions, gold, lang, allow_missing)


def metric_from_stats(metric: str, stats: np.ndarray) -> float:
    """A metric (percent) from per-example statistics of `example_stats`: their sums
    through `metric_of_sums` (the formula every bootstrap resample uses). `(n, 4)`
    seqeval statistics carry the joins in their last column, which are not counted."""
    if metric not in known_metrics():
        raise ValueError(f"unknown metric {metric!r}; known: {known_metrics()}")
    stats = np.asarray(stats)
    if len(stats) == 0:
        raise ValueError(f"no examples to compute {metric} from")
    if stats.ndim == 2 and stats.shape[1] == 4:
        stats = stats[:, :3]
    if stats.ndim > 2 or (stats.ndim == 2 and stats.shape[1] not in (2, 3)):
        raise ValueError(
            f"{metric}: expected 1-D, (n, 2), (n, 3) or (n, 4) statistics, got {stats.shape}"
        )
    sums = stats.sum(axis=0, dtype=np.float64 if stats.ndim == 1 else None)
    return float(metric_of_sums(metric, np.asarray(sums)[None], len(stats))[0])
