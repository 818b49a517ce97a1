"""What a metric kind is, the registry of kinds, and the one formula that turns summed
per-example statistics into a metric.

A kind scores one family of tasks (accuracy, seqeval, squad, ...): it names the
metrics it reports and the ones its headline averages, computes them over a whole
test set (`score`, as the official script does) and as per-example statistics
(`stats`) whose sums give the same numbers through `metric_of_sums`, so scoring and
every bootstrap resample share one implementation. A format names its tasks' kind
(`xlmr_flax.formats`: `metric_kind`); a new kind is one module of this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xlmr_flax.registry import Registry

Stats = tuple[list[str], dict[str, np.ndarray]]


class MetricKind:
    """One way of scoring. `metrics`: what it reports, in order; `headline`: the
    metrics whose mean ranks a task (XTREME-R's evaluate.py `avg_metric`)."""

    name: str = ""
    metrics: tuple[str, ...] = ()
    headline: tuple[str, ...] = ()

    def score(self, predictions: Any, gold: Any, lang: str | None, allow_missing: bool
              ) -> dict[str, float]:  # fmt: skip
        """The metrics over the whole test set, as the official script computes them."""
        raise NotImplementedError

    def stats(self, predictions: Any, gold: Any, lang: str | None, allow_missing: bool
              ) -> Stats:  # fmt: skip
        """(example ids, per-example statistics per metric); see `metric_of_sums`."""
        raise NotImplementedError


KINDS: Registry[MetricKind] = Registry("metric kind")


def register_metric_kind(kind: MetricKind) -> MetricKind:
    return KINDS.add(kind.name, kind)


unregister_metric_kind = KINDS.remove
get_metric_kind = KINDS.lookup


def known_metrics() -> tuple[str, ...]:
    """Every metric name some kind reports, in registration order."""
    return tuple(dict.fromkeys(m for kind in KINDS.values() for m in kind.metrics))


def metric_of_sums(metric: str, sums: np.ndarray, n: float | np.ndarray) -> np.ndarray:
    """A metric (percent) from the sums of its per-example statistics over n examples,
    one row per resample (n a number or one per row), vectorised:

    - `(draws,)` sums of values in [0, 1] → 100 × (sum / n), the mean in the
      official scripts' order of operations (`correct / total * 100`);
    - `(draws, 2)` sums of (correct, total) → 100 × correct / total (token accuracy);
    - `(draws, 3)` sums of seqeval's (correct, predicted, gold) entity counts →
      precision, recall or F1 by seqeval's formulas.

    A denominator of 0 gives 0, as seqeval scores an undefined precision or recall."""
    sums = np.asarray(sums, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if sums.ndim == 1:
            n = np.asarray(n, dtype=np.float64)
            return np.where(n > 0, 100.0 * (sums / np.where(n > 0, n, 1)), 0.0)
        if sums.shape[-1] == 2:
            return np.where(sums[:, 1] > 0, 100.0 * sums[:, 0] / sums[:, 1], 0.0)
        if sums.shape[-1] != 3:
            raise ValueError(f"{metric}: expected 1, 2 or 3 statistics per example")
        correct, predicted, gold = sums[:, 0], sums[:, 1], sums[:, 2]
        precision = np.where(predicted > 0, correct / predicted, 0.0)
        recall = np.where(gold > 0, correct / gold, 0.0)
        if metric == "precision":
            return 100 * precision
        if metric == "recall":
            return 100 * recall
        if metric != "f1":
            raise ValueError(f"{metric}: entity counts give precision, recall or f1")
        total = precision + recall
        return np.where(total > 0, 100 * (2 * precision * recall / total), 0.0)


# --- checks the kinds share --------------------------------------------------------------


def positions(gold: Sequence) -> list[str]:
    return [str(i) for i in range(len(gold))]


def check_lengths(predictions: Sequence, gold: Sequence, what: str = "examples") -> None:
    if isinstance(predictions, Mapping | str | bytes):
        raise ValueError(f"predictions must be a list (one per {what[:-1]})")
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold {what}")
    if not gold:
        raise ValueError(f"no gold {what} to score")


def keyed_ids(predictions, gold, allow_missing: bool) -> list[str]:
    """The gold ids in order, after checking the predictions cover exactly those."""
    if not isinstance(predictions, Mapping):
        raise ValueError("predictions must be a dict keyed by question / query id")
    if not gold:
        raise ValueError("no gold examples to score")
    missing = [i for i in gold if i not in predictions]
    if missing and not allow_missing:
        raise ValueError(f"{len(missing)} of {len(gold)} ids have no prediction: {_some(missing)}")
    extra = [i for i in predictions if i not in gold]
    if extra:
        raise ValueError(f"{len(extra)} predicted ids are not in the gold data: {_some(extra)}")
    return list(gold)


def _some(ids: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")
