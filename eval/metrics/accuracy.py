"""Accuracy: the share of examples whose prediction equals the gold (classification,
multiple choice, Tatoeba)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.metrics.kinds import MetricKind, check_lengths, positions, register_metric_kind


def accuracy(predictions: Sequence[Any], gold: Sequence[Any]) -> float:
    """Percentage of examples whose prediction equals the gold label."""
    check_lengths(predictions, gold)
    correct = sum(int(p == g) for p, g in zip(predictions, gold, strict=True))
    return correct / len(gold) * 100  # the official script's order of operations


class Accuracy(MetricKind):
    name = "accuracy"
    metrics = headline = ("accuracy",)

    def score(self, predictions, gold, lang, allow_missing):
        return {"accuracy": accuracy(predictions, gold)}

    def stats(self, predictions, gold, lang, allow_missing):
        check_lengths(predictions, gold)
        hits = np.array([float(p == g) for p, g in zip(predictions, gold, strict=True)])
        return positions(gold), {"accuracy": hits}


register_metric_kind(Accuracy())
