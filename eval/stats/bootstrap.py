"""Resampling test examples: draws as count matrices, metrics recomputed from summed
per-example statistics, every run of a test set in one matrix product.

    counts = resample_counts(rng, n_examples, n_boot)           # (n_boot, n)
    scores = resampled_headlines(runs, ("accuracy",), counts)   # (n_boot, len(runs))

A metric is computed from the sums of its per-example statistics (`eval.metrics.
example_stats`) by `eval.metrics.metric_of_sums`, the formula scoring uses too, so a
resample's score is the official metric of that resample and
the all-ones draw gives the official score of the full test set. A draw may hold a
different number of examples than the test set (a language holding part of a
parallel target's items, resampled jointly by item): means divide by each draw's
own count.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from eval.metrics import metric_of_sums

# Bootstrap index matrices are drawn in blocks of about this many entries.
BLOCK_ENTRIES = 4_000_000


def key_generator(seed: int, *parts: object) -> np.random.Generator:
    """A generator for one named draw: the same name gives the same draw whatever else
    the study holds, so adding a language or a seed does not move other intervals."""
    name = "\x1f".join(map(str, parts)).encode("utf-8")
    return np.random.default_rng([seed, zlib.crc32(name)])


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n) float32: how often each of n examples is drawn in each bootstrap
    resample (n draws with replacement; every row sums to n). Counts instead of index
    lists turn every resampled sum into one matrix product; float32 holds them
    exactly and halves the product's memory traffic."""
    counts = np.empty((n_boot, n), dtype=np.float32)
    block = max(1, BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        drawn = rng.integers(0, n, size=(rows, n), dtype=np.int32).astype(np.int64)
        drawn += (np.arange(rows) * n)[:, None]  # row k's examples counted in bins k·n...
        counts[start : start + rows] = np.bincount(drawn.ravel(), minlength=rows * n).reshape(
            rows, n
        )
    return counts


def stacked_columns(
    runs: Sequence[dict[str, np.ndarray]], metrics: Sequence[str], n: int
) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """(n, runs × width) statistics of every run side by side (run j in columns
    j·width ... (j+1)·width − 1), and the layout shared by every run: [(metric,
    width)]. Means are linear, so where every metric is a per-example value in
    [0, 1] a run takes one column, the mean of its metrics."""
    first = [np.asarray(runs[0][m]) for m in metrics]
    if all(a.ndim == 1 for a in first):
        layout = [("mean", 1)]
    else:
        layout = [
            (m, int(np.prod(a.shape[1:], dtype=int))) for m, a in zip(metrics, first, strict=True)
        ]
    width = sum(w for _, w in layout)
    matrix = np.empty((n, len(runs) * width), dtype=np.float64)
    for j, stats in enumerate(runs):
        if layout[0][0] == "mean":
            if len(metrics) == 1:
                matrix[:, j] = stats[metrics[0]]
            else:
                matrix[:, j] = np.mean([stats[m] for m in metrics], axis=0)
            continue
        column = j * width
        for metric, w in layout:
            matrix[:, column : column + w] = np.asarray(stats[metric]).reshape(n, w)
            column += w
    return matrix, layout


def headlines_of_sums(
    sums: np.ndarray, layout: list[tuple[str, int]], n: float | np.ndarray
) -> np.ndarray:
    """(draws, runs) headline scores from summed columns (see `stacked_columns`):
    the mean over the layout's metrics, computed for every run at once."""
    width = sum(w for _, w in layout)
    sums = np.asarray(sums, dtype=np.float64).reshape(len(sums), -1, width)
    n = np.asarray(n, dtype=np.float64)
    n = n.reshape(-1, 1) if n.ndim == 1 else n
    total, column = 0.0, 0
    for metric, w in layout:
        part = sums[:, :, column] if w == 1 else sums[:, :, column : column + w]
        if w == 1:
            flat_n = np.broadcast_to(n, part.shape).reshape(-1)
            total = total + metric_of_sums(metric, part.reshape(-1), flat_n).reshape(part.shape)
        else:
            draws, runs = part.shape[:2]
            flat = metric_of_sums(metric, part.reshape(draws * runs, w), 1.0)
            total = total + flat.reshape(draws, runs)
        column += w
    return total / len(layout)


def resampled_headlines(
    runs: Sequence[dict[str, np.ndarray]],
    metrics: Sequence[str],
    counts: np.ndarray,
    dtype: type = np.float64,
) -> np.ndarray:
    """(n_boot, len(runs)): the headline score (mean of `metrics`) of every run on every
    resample. All runs share the test examples, so their statistics are stacked into
    one (n, columns) matrix and resampled by a single product with `counts` (in
    `dtype`: float32 halves the time and is exact for counts and 0/1 outcomes)."""
    n = counts.shape[1]
    matrix, layout = stacked_columns(runs, metrics, n)
    sums = np.asarray(counts, dtype=dtype) @ matrix.astype(dtype, copy=False)
    return headlines_of_sums(sums, layout, counts.sum(axis=1, dtype=np.float64))


def full_headlines(runs: Sequence[dict[str, np.ndarray]], metrics: Sequence[str]) -> np.ndarray:
    """(len(runs),): every run's headline score on the whole test set (float64)."""
    n = len(np.asarray(runs[0][metrics[0]]))
    matrix, layout = stacked_columns(runs, metrics, n)
    return headlines_of_sums(matrix.sum(axis=0, keepdims=True), layout, float(n))[0]


def resampled_and_full_headlines(
    runs: Sequence[dict[str, np.ndarray]], metrics: Sequence[str], counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`resampled_headlines` in float32 and `full_headlines`, stacking the runs once."""
    n = counts.shape[1]
    matrix, layout = stacked_columns(runs, metrics, n)
    full = headlines_of_sums(matrix.sum(axis=0, keepdims=True), layout, float(n))[0]
    width = sum(w for _, w in layout)
    # A statistic every run shares (seqeval's gold entity counts: one test set) is
    # resampled once, not once per run: a third of the tagging targets' product.
    shared = [
        c
        for c in range(width)
        if width > 1 and bool(np.all(matrix[:, c::width] == matrix[:, c : c + 1]))
    ]
    keep = [k for k in range(matrix.shape[1]) if k % width not in shared or k < width]
    sums = np.empty((len(counts), matrix.shape[1]), dtype=np.float32)
    sums[:, keep] = np.asarray(counts, dtype=np.float32) @ matrix[:, keep].astype(np.float32)
    for c in shared:
        sums[:, c::width] = sums[:, c : c + 1]
    return headlines_of_sums(sums, layout, counts.sum(axis=1, dtype=np.float64)), full
