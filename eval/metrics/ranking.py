"""Mean average precision at 20 (LAReQA, Mewsli-X), as XTREME-R computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eval.metrics.kinds import MetricKind, keyed_ids, register_metric_kind

# Retrieval is scored on the 20 best candidates (XTREME-R; utils_mewslix.TOP_K).
TOP_K = 20


def average_precision_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int = TOP_K) -> float:
    """AP@k as XTREME-R computes it (utils_lareqa.average_precision_at_k): the sum of
    precision@i over the ranks i <= k holding a relevant candidate, divided by
    min(number relevant, k); a candidate repeated in the ranking counts once. With one
    relevant candidate (Mewsli-X) this is the reciprocal rank within the top k."""
    targets = set(relevant)
    if not targets:
        raise ValueError("a query needs at least one relevant candidate")
    hits, total, seen = 0, 0.0, set()
    for rank, candidate in enumerate(ranked[:k], 1):
        if candidate in targets and candidate not in seen:
            hits += 1
            total += hits / rank
        seen.add(candidate)
    return total / min(len(targets), k)


class MeanAveragePrecision(MetricKind):
    name = "map"
    metrics = headline = ("map@20",)

    def score(self, predictions, gold, lang, allow_missing):
        ids = keyed_ids(predictions, gold, allow_missing)
        total = sum(average_precision_at_k(predictions.get(i, []), gold[i]) for i in ids)
        return {"map@20": 100.0 * total / len(ids)}

    def stats(self, predictions, gold, lang, allow_missing):
        ids = keyed_ids(predictions, gold, allow_missing)
        ap = [average_precision_at_k(predictions.get(i, []), gold[i]) for i in ids]
        return ids, {"map@20": np.array(ap, dtype=np.float64)}


register_metric_kind(MeanAveragePrecision())
