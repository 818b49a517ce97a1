"""An effect estimated from a few seeds evaluated on one shared test set: its standard
error from two variance components, its t interval and p-value, and Holm's
correction within a named family of effects. docs/report.md derives it.

    effect = estimate(diffs, boot)   # diffs: (S,) per-seed differences;
                                     # boot: (n_boot, S) the same on resampled test sets
    adjust_families(rows)            # p_holm, significant, family, family_size

With per-seed differences d_s = score(first, s) − score(second, s), s = 1..S:

- *seed to seed*: a = s²(d) / S, with S − 1 degrees of freedom. It holds everything
  that differs between seeds, including the part of test-set noise that is not
  shared by the seeds (item × seed);
- *test-set sampling shared by the seeds*: b = the mean covariance between two
  different seeds' differences over the bootstrap draws (examples resampled,
  paired across the two orders and every seed, seeds held fixed);
- se² = max(a + b, v), where v is the bootstrap variance of the seed mean itself
  (b plus the item × seed part, measured from thousands of items rather than from
  S seeds): a chance-small s² cannot shrink se below the test-set noise;
- degrees of freedom by Welch–Satterthwaite, with S − 1 for the excess se² − v
  (what only the seeds tell) and n_boot − 1 for v; the interval is
  estimate ± t(df) · se and the p-value that of t(df).

One seed: a cannot be estimated; se² is the bootstrap variance alone and the row
carries a warning. No per-example statistics: b cannot be estimated; the row gets
the seeds-only interval but is never tested (no p-value, never flagged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05
BY_EXAMPLES = "examples and seeds"
ONE_SEED = "examples, one seed"
SEEDS_ONLY = "seeds only"


def satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
    """Welch–Satterthwaite degrees of freedom of a sum of variance estimates, each
    (variance, its degrees of freedom); inf when the sum is 0."""
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / df for v, df in parts if v > 0 and math.isfinite(df))
    if total <= 0:
        return math.inf
    return math.inf if denominator == 0 else total * total / denominator


def estimate(
    diffs: Sequence[float], boot: np.ndarray | None, alpha: float = ALPHA, finish: bool = True
) -> dict[str, Any]:
    """Point estimate (mean of `diffs`), se, df, interval and p-value of one effect.
    `boot`: (n_boot, S) resampled per-seed differences, or None without examples.
    `finish=False` leaves the interval and p-value to `adjust_families`, which
    computes them for all rows at once."""
    d = np.asarray(diffs, dtype=np.float64)
    s = len(d)
    effect = float(np.mean(d))
    seeds_part = float(np.var(d, ddof=1)) / s if s > 1 else math.nan
    examples_part = math.nan
    n_boot = 0
    if boot is not None:
        boot = np.asarray(boot, dtype=np.float64).reshape(len(boot), s)
        n_boot = len(boot)
        cov = np.atleast_2d(np.cov(boot, rowvar=False))
        of_mean = float(cov.sum()) / (s * s)  # test-set variance of the seed mean
        if s > 1:
            shared = (cov.sum() - np.trace(cov)) / (s * (s - 1))
            examples_part = max(float(shared), 0.0)
        else:
            examples_part = float(cov[0, 0])
    if boot is not None and s > 1:
        resampling = BY_EXAMPLES
        # s²/S also holds the test-set noise that differs between seeds, which the
        # bootstrap measures precisely: the variance is at least the bootstrap's, and
        # only the seeds' excess over it rests on S − 1 degrees of freedom.
        variance = max(seeds_part + examples_part, of_mean)
        df = satterthwaite([(variance - of_mean, s - 1), (of_mean, n_boot - 1)])
    elif boot is not None:
        resampling, variance, df = ONE_SEED, examples_part, float(n_boot - 1)
    else:
        resampling = SEEDS_ONLY
        variance = seeds_part if s > 1 else 0.0
        df = float(s - 1) if s > 1 else math.nan
    se = math.sqrt(variance) if variance > 0 else 0.0
    row = dict(
        effect=effect,
        se=se,
        se_seeds=math.sqrt(seeds_part) if seeds_part >= 0 else math.nan,
        se_examples=math.sqrt(examples_part) if examples_part >= 0 else math.nan,
        df=df,
        resampling=resampling,
        n_seeds=s,
        n_boot=n_boot,
    )
    if resampling == BY_EXAMPLES:
        # Kept for `pool_degrees_of_freedom`: the seeds' excess over the test-set
        # variance (may be negative by chance) and that variance.
        row["var_excess"] = seeds_part + examples_part - of_mean
        row["var_examples"] = of_mean
    if finish:
        finish_rows([row], alpha)
    return row


def _t_quantiles(q: np.ndarray, df: np.ndarray) -> np.ndarray:
    """t quantiles (normal where df is infinite or NaN), vectorised."""
    normal = ~np.isfinite(df) | (df > 1e7)
    safe = np.where(normal, 1.0, df)
    return np.where(normal, scipy_stats.norm.ppf(q), scipy_stats.t.ppf(q, safe))


def finish_rows(rows: Sequence[dict[str, Any]], alpha: float = ALPHA) -> None:
    """Every row's t interval and p-value from its effect, se and df (vectorised:
    a full study has thousands of rows). Only rows with test-set sampling in their
    error and a positive se are tested (a p-value); the others keep NaN."""
    if not rows:
        return
    effect = np.array([r["effect"] for r in rows], dtype=np.float64)
    se = np.array([r["se"] for r in rows], dtype=np.float64)
    df = np.array([r["df"] for r in rows], dtype=np.float64)
    half = _t_quantiles(np.full(len(rows), 1 - alpha / 2), df) * se
    half = np.where(se > 0, half, 0.0)
    testable = np.array([r["resampling"] != SEEDS_ONLY for r in rows]) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.abs(effect) / np.where(se > 0, se, 1.0)
    normal = ~np.isfinite(df) | (df > 1e7)
    tail = np.where(
        normal,
        scipy_stats.norm.sf(statistic),
        scipy_stats.t.sf(statistic, np.where(normal, 1.0, df)),
    )
    p = np.where(testable, 2 * tail, math.nan)
    for k, row in enumerate(rows):
        row["ci_low"], row["ci_high"] = _bounded(effect[k] - half[k], effect[k] + half[k])
        row["p_value"] = float(p[k])


# Headline scores are percentages, so a difference of two lies in [−100, 100]: an
# interval reaching beyond (t with one or two degrees of freedom on a handful of
# items) is cut there, which keeps its coverage.
LIMIT = 100.0


def _bounded(low: float, high: float) -> tuple[float, float]:
    return max(float(low), -LIMIT), min(float(high), LIMIT)


def pool_degrees_of_freedom(rows: list[dict[str, Any]], alpha: float = ALPHA) -> None:
    """What the rows of one seed group tell together about the seeds' excess over
    test-set noise (rows without `seed_group` keep their own estimate).

    A row's own excess e = s²/S + b − v rests on S − 1 degrees of freedom: small by
    chance, its Satterthwaite df grows exactly when its se is too small, which
    fattens the far tails that Holm's correction reads. Rows of one seed group (the
    languages of one comparison on one target; the classes of one comparison on one
    target, or over all targets) share their runs' seed effects and each adds noise
    of its own, so together they say more reliably how much seeds matter: each row's
    excess is at least the group's median excess, with S − 1 degrees of freedom."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["resampling"] == BY_EXAMPLES and row.get("seed_group"):
            groups.setdefault(row["seed_group"], []).append(row)
    for members in groups.values():
        _pool_excess(members, alpha)
    # A seed group's rows share their seeds' luck, so their pooled excess is small by
    # chance together: their df is also capped by what the whole family's seed share
    # r = Σe / Σv says (a class family spans targets with seed effects of their own).
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["resampling"] == BY_EXAMPLES:
            families.setdefault(row["family"], []).append(row)
    for members in families.values():
        floor = sum(r["var_examples"] for r in members)
        share = max(sum(r["var_excess"] for r in members), 0.0) / floor if floor > 0 else 0.0
        for row in members:
            v = row["var_examples"]
            capped = satterthwaite([(share * v, row["n_seeds"] - 1), (v, row["n_boot"] - 1)])
            row["df"] = min(row["df"], capped)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count in m)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def _pool_excess(members: list[dict[str, Any]], alpha: float) -> None:
    """Each row's seeds' excess is at least its group's median (`pool_degrees_of_freedom`)."""
    pooled = max(float(np.median([r["var_excess"] for r in members])), 0.0)
    for row in members:
        v = row["var_examples"]
        excess = max(row["var_excess"], pooled)
        row["se"] = math.sqrt(v + excess)
        row["df"] = satterthwaite([(excess, row["n_seeds"] - 1), (v, row["n_boot"] - 1)])


def adjust_families(rows: list[dict[str, Any]], alpha: float = ALPHA) -> dict[str, int]:
    """Holm's correction within each family (rows' `family` field), after pooling
    seed groups' excess variance (`pool_degrees_of_freedom`). Adds p_holm, the
    Bonferroni interval for the family size (ci_bonf_low/high), excludes_zero (the
    unadjusted interval), significant (survives Holm) and family_size. Rows without
    a p-value are in no family's count and never significant. Returns the families
    and their sizes."""
    pool_degrees_of_freedom(rows, alpha)
    finish_rows(rows, alpha)
    families: dict[str, list[int]] = {}
    for k, row in enumerate(rows):
        families.setdefault(row["family"], []).append(k)
    sizes = {}
    for name, members in families.items():
        p = [rows[k]["p_value"] for k in members]
        adjusted = holm(p)
        m = int(np.sum(np.isfinite(p)))
        sizes[name] = m
        df = np.array([rows[k]["df"] for k in members], dtype=np.float64)
        quantiles = _t_quantiles(np.full(len(members), 1 - alpha / (2 * max(m, 1))), df)
        for k, p_holm, quantile in zip(members, adjusted, quantiles, strict=True):
            row = rows[k]
            row["p_holm"] = float(p_holm)
            half = float(quantile) * row["se"] if row["se"] > 0 else 0.0
            row["ci_bonf_low"], row["ci_bonf_high"] = _bounded(
                row["effect"] - half, row["effect"] + half
            )
            tested = math.isfinite(row["p_value"])
            row["excludes_zero"] = tested and bool(row["ci_low"] > 0 or row["ci_high"] < 0)
            row["significant"] = bool(math.isfinite(p_holm) and p_holm < alpha)
            row["family_size"] = m
    return {name: size for name, size in sizes.items() if size}
