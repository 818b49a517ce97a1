"""An effect estimated from a few seeds evaluated on one shared test set: its standard
error from two variance components, its t interval and p-value, and Holm's
correction within a named family of effects. docs/report.md derives it.

    rows = paired_effects(diffs, boot)   # diffs: (R, S) per-seed differences of R
                                         # effects; boot: (R, B, S) the same on B
                                         # resampled test sets (or None)
    adjust_families(rows)                # p_holm, significant, family, family_size

With per-seed differences d_s = score(first, s) − score(second, s), s = 1..S:

- *seed to seed*: a = s²(d) / S. It holds everything that differs between seeds,
  including the part of test-set noise that is not shared by the seeds (item × seed);
- *test-set sampling shared by the seeds*: b = the mean covariance between two
  different seeds' differences over the bootstrap draws (examples resampled,
  paired across the two orders and every seed, seeds held fixed);
- se² = a + b, with S − 1 degrees of freedom whatever the estimates say.
  (effect − truth) / √(a + b) is t with S − 1 df when b is 0 and normal when b
  dominates; in between it is a scale mixture of normals whose tails are never
  heavier than t(S − 1)'s at any level (docs/report.md), so the interval is exact
  where the seeds' term dominates and conservative only where test-set noise the
  seeds share does. Welch–Satterthwaite df, which grow when s² is small by chance,
  are not used: they made the far tails Holm reads too thin.
- Ties: a is kept at least q·c, c = v − b the item × seed part of the seed mean's
  variance (v the bootstrap variance of the seed mean) and q the TIE_LEVEL quantile
  of χ²(S − 1)/(S − 1). a's expectation is at least c, so this changes a row with
  probability at most TIE_LEVEL; what it catches is seeds tied on a discrete metric
  (three seeds with the same difference on a few items: a = 0, a zero-width
  interval). Flooring se² at v itself, as before, cost most of the level: a zero
  effect was rejected 0.4 % of the time at the study's sizes, not 5 %.

One seed: seed-to-seed variation cannot be estimated. The interval is the test-set
one (v, normal quantile), *conditional on the seed*: it says how precisely this
seed's models were measured, not how another seed would do. Such rows are not
tested (no p-value, never flagged) unless `test_one_seed` asks for it. No
per-example statistics: b cannot be estimated; the row gets the seeds-only interval
but is never tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05
TIE_LEVEL = 0.005
BY_EXAMPLES = "examples and seeds"
ONE_SEED = "examples, one seed"
SEEDS_ONLY = "seeds only"


def variance_components(diffs: np.ndarray, boot: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per effect, vectorised over its first axis: `diffs` (R, S), `boot` (R, B, S) or
    None. Returns effect, seeds (s²/S; NaN for one seed), shared (b), of_mean (v):
    each an (R,) array (b and v NaN without `boot`)."""
    d = np.asarray(diffs, dtype=np.float64)
    r, s = d.shape
    out = dict(
        effect=d.mean(axis=1),
        seeds=d.var(axis=1, ddof=1) / s if s > 1 else np.full(r, math.nan),
        shared=np.full(r, math.nan),
        of_mean=np.full(r, math.nan),
    )
    if boot is not None:
        x = np.asarray(boot, dtype=np.float64).reshape(r, -1, s)
        centred = x - x.mean(axis=1, keepdims=True)
        n_boot = x.shape[1]
        # Σ_{s,t} cov(s, t) = var of the seed sum; Σ_s cov(s, s) = the diagonal.
        total = np.einsum("rb,rb->r", centred.sum(axis=2), centred.sum(axis=2)) / (n_boot - 1)
        diagonal = np.einsum("rbs,rbs->r", centred, centred) / (n_boot - 1)
        out["of_mean"] = total / (s * s)
        if s > 1:
            out["shared"] = np.maximum((total - diagonal) / (s * (s - 1)), 0.0)
        else:
            out["shared"] = diagonal
    return out


def tie_floor(of_mean: np.ndarray | float, shared: np.ndarray | float, seeds: int) -> np.ndarray:
    """The least a = s²/S is taken to be: q·(v − b), q the TIE_LEVEL quantile of
    χ²(S − 1)/(S − 1) (v − b: the item × seed part of the seed mean's variance)."""
    df = seeds - 1
    item_seed = np.maximum(np.asarray(of_mean) - np.asarray(shared), 0.0)
    return scipy_stats.chi2.ppf(TIE_LEVEL, df) / df * item_seed


def paired_effects(
    diffs: np.ndarray | Sequence[Sequence[float]],
    boot: np.ndarray | None,
    *,
    alpha: float = ALPHA,
    test_one_seed: bool = False,
    finish: bool = True,
) -> list[dict[str, Any]]:
    """The interval and test of R paired ordering effects that share their seeds:
    `diffs` (R, S) per-seed differences score(first, s) − score(second, s); `boot`
    (R, B, S) the same differences on B resampled test sets (one draw applied to both
    orders and every seed), or None without per-example statistics. A row is one
    language's effect or a class mean taken seed by seed (the mean of its languages'
    diffs and boots), so seed effects its members or targets share stay in its s².

    Each row: effect, se, se_seeds, se_examples, df, resampling (BY_EXAMPLES,
    ONE_SEED or SEEDS_ONLY), n_seeds, n_boot, tested, conditional (one seed: the
    interval is conditional on that seed) and, with `finish`, ci_low, ci_high (the
    (1 − alpha) t interval) and p_value (NaN where not tested). `finish=False` leaves
    those to `adjust_families`, which computes them for all rows at once."""
    d = np.atleast_2d(np.asarray(diffs, dtype=np.float64))
    r, s = d.shape
    parts = variance_components(d, boot)
    n_boot = 0 if boot is None else int(np.asarray(boot).reshape(r, -1, s).shape[1])
    seeds, shared, of_mean = parts["seeds"], parts["shared"], parts["of_mean"]
    if boot is not None and s > 1:
        resampling, df = BY_EXAMPLES, float(s - 1)
        variance = np.maximum(seeds, tie_floor(of_mean, shared, s)) + shared
    elif boot is not None:
        resampling, variance, df = ONE_SEED, of_mean, float(n_boot - 1)
    else:
        resampling, df = SEEDS_ONLY, float(s - 1) if s > 1 else math.nan
        variance = seeds if s > 1 else np.zeros(r)
    tested = resampling == BY_EXAMPLES or (resampling == ONE_SEED and test_one_seed)
    rows = []
    for k in range(r):
        v = float(variance[k])
        rows.append(
            dict(
                effect=float(parts["effect"][k]),
                se=math.sqrt(v) if v > 0 else 0.0,
                se_seeds=math.sqrt(seeds[k]) if seeds[k] >= 0 else math.nan,
                se_examples=math.sqrt(shared[k]) if shared[k] >= 0 else math.nan,
                df=df,
                resampling=resampling,
                n_seeds=s,
                n_boot=n_boot,
                tested=tested,
                conditional=resampling == ONE_SEED,
            )
        )
    if finish:
        finish_rows(rows, alpha)
    return rows


def estimate(
    diffs: Sequence[float],
    boot: np.ndarray | None,
    alpha: float = ALPHA,
    finish: bool = True,
    test_one_seed: bool = False,
) -> dict[str, Any]:
    """`paired_effects` for one effect: `diffs` (S,), `boot` (B, S) or None."""
    d = np.asarray(diffs, dtype=np.float64).reshape(1, -1)
    b = None if boot is None else np.asarray(boot, dtype=np.float64).reshape(1, len(boot), -1)
    return paired_effects(d, b, alpha=alpha, test_one_seed=test_one_seed, finish=finish)[0]


def _t_quantiles(q: np.ndarray, df: np.ndarray) -> np.ndarray:
    """t quantiles (normal where df is infinite or NaN), vectorised."""
    normal = ~np.isfinite(df) | (df > 1e7)
    safe = np.where(normal, 1.0, df)
    return np.where(normal, scipy_stats.norm.ppf(q), scipy_stats.t.ppf(q, safe))


def finish_rows(rows: Sequence[dict[str, Any]], alpha: float = ALPHA) -> None:
    """Every row's t interval and p-value from its effect, se and df (vectorised:
    a full study has thousands of rows). Only rows marked `tested` with a positive
    se get a p-value; the others keep NaN."""
    if not rows:
        return
    effect = np.array([r["effect"] for r in rows], dtype=np.float64)
    se = np.array([r["se"] for r in rows], dtype=np.float64)
    df = np.array([r["df"] for r in rows], dtype=np.float64)
    half = _t_quantiles(np.full(len(rows), 1 - alpha / 2), df) * se
    half = np.where(se > 0, half, 0.0)
    testable = np.array([bool(r["tested"]) for r in rows]) & (se > 0)
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


def adjust_families(rows: list[dict[str, Any]], alpha: float = ALPHA) -> dict[str, int]:
    """Every row's interval and p-value (`finish_rows`), then Holm's correction within
    each family (rows' `family` field). Adds p_holm, the Bonferroni interval for the
    family size (ci_bonf_low/high), excludes_zero (the unadjusted interval of a tested
    row), significant (survives Holm) and family_size. Rows without a p-value are in
    no family's count and never significant. Returns the families and their sizes."""
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
