"""The sequential rule of an adaptive study: intervals and decisions that stay valid
when comparisons stop at any of the planned looks. docs/adaptive.md derives it.

    design = Design.from_mapping(config.design, "config.design")
    row = look_row(previous, diffs, shared_var, mean_var, design, look, family_size)
    decide_family(rows_at_look, design, look)   # sets each open row's state

Seeds arrive in rounds; look k sees the first `design.looks[k]` seeds. At each look a
comparison's per-seed differences d_s give the effect (their mean) and its standard
error se² = s²/S + b, b the test-set variance the seeds share, s²/S kept above the
tie floor set by v, the bootstrap variance of the seed mean (as the fixed-design
report computes them, eval/stats/effects.py), with S − 1 degrees of freedom: the
seed term's own, never inflated by a lucky small variance estimate.

Alpha is spent over the looks (Kim–DeMets power family, t_k = S_k / budget):
w_k = t_k^ρ − t_{k−1}^ρ, Σ w_k = 1. Look k's two-sided t p-value p_k tests at level
α w_k, so the sequential p-value P_k = min_{j≤k} p_j / w_j is valid at every look
(P(P_K ≤ a) ≤ Σ_j a w_j = a under the null, by the union bound), whatever the stopping
rule. Holm's step-down on the P_k of a family decides signs; a comparison's interval
is the running intersection of its looks' intervals at level α w_j (coverage ≥ 1 − α
at stopping), and at α w_j / m for the family-wide interval that decides "negligible"
(inside ±δ). A comparison the seed budget could not decide either way stops as
futile. Once stopped a comparison's numbers freeze; frozen P values only make Holm
stricter for the others, so the family-wise error stays ≤ α.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from eval.stats.effects import LIMIT, holm, tie_floor

OPEN, POSITIVE, NEGATIVE, NEGLIGIBLE = "open", "positive", "negative", "negligible"
BUDGET, FUTILE = "budget", "futile"
STOPPED = (POSITIVE, NEGATIVE, NEGLIGIBLE, BUDGET, FUTILE)
ESTIMANDS = ("class-mean",)
POOL_TESTS = ("bartlett", "none")


class DesignError(ValueError):
    """An adaptive design that cannot be used (one line naming the field)."""


@dataclass(frozen=True)
class Design:
    """What an adaptive study pre-registers before its first look."""

    alpha: float = 0.05
    delta: float = 1.0  # negligible margin, in score points
    looks: tuple[int, ...] = (3, 5, 7, 10)  # cumulative seeds at each look
    rho: float = 1.0  # alpha-spending exponent: 1 spends evenly, 3 saves it for late looks
    futility: float = 1.0  # stop when effect ± this many se could not be decided by the budget
    families: tuple[str, ...] = ("low",)  # resource classes, one family each
    targets: tuple[str, ...] = ()  # the targets each family rests on; () = every target
    estimand: str = "class-mean"  # the seed-by-seed mean over the class's languages
    effect_sizes: tuple[float, ...] = (1.0, 2.0)  # points, for the power table
    seed_sd: float = 1.0  # assumed SD of a paired seed difference without a pilot
    examples_sd: float = 0.3  # assumed test-set SD of the effect without a pilot
    # A comparison's seed variance is pooled over its target's comparisons only when
    # this test keeps equal variances at this level (seed_pool); "none": never pooled.
    pool_test: str = "bartlett"
    pool_level: float = 0.2

    @property
    def budget(self) -> int:
        return self.looks[-1]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "design") -> Design:
        """Checks every field; DesignError names the first bad one and what it expects."""
        known = {f for f in cls.__dataclass_fields__}
        for key in values:
            if key not in known:
                raise DesignError(f"{where}.{key}: unknown field; expected {', '.join(known)}")
        merged = {**asdict(cls()), **dict(values)}
        for key in ("looks", "families", "targets", "effect_sizes"):
            if isinstance(merged[key], str) or not isinstance(merged[key], Sequence):
                raise DesignError(f"{where}.{key}: expected a list, got {merged[key]!r}")
            merged[key] = tuple(merged[key])
        design = cls(**merged)
        design.check(where)
        return design

    def check(self, where: str) -> None:
        def bad(name: str, expected: str) -> DesignError:
            return DesignError(f"{where}.{name}: expected {expected}, got {getattr(self, name)!r}")

        if not 0 < self.alpha < 0.5:
            raise bad("alpha", "a level between 0 and 0.5")
        if not self.delta >= 0:
            raise bad("delta", "a margin >= 0 in points")
        looks = self.looks
        if not looks or any(not isinstance(n, int) or isinstance(n, bool) for n in looks):
            raise bad("looks", "cumulative seed counts (integers)")
        if looks[0] < 2 or any(b <= a for a, b in itertools.pairwise(looks)):
            raise bad("looks", "increasing seed counts, the first at least 2")
        if not self.rho > 0:
            raise bad("rho", "a spending exponent > 0")
        if not self.futility >= 0:
            raise bad("futility", "a number of standard errors >= 0 (0: never futile)")
        classes = ("low", "mid", "high", "all")
        if not self.families or any(f not in classes for f in self.families):
            raise bad("families", f"resource classes among {', '.join(classes)}")
        if self.estimand not in ESTIMANDS:
            raise bad("estimand", " or ".join(ESTIMANDS))
        if not self.seed_sd > 0 or not self.examples_sd >= 0:
            raise bad("seed_sd", "standard deviations > 0 (seed_sd) and >= 0 (examples_sd)")
        if self.pool_test not in POOL_TESTS:
            raise bad("pool_test", " or ".join(POOL_TESTS))
        if not 0 < self.pool_level < 1:
            raise bad("pool_level", "a level between 0 and 1 for the homogeneity test")
        if not self.effect_sizes or any(not e > 0 for e in self.effect_sizes):
            raise bad("effect_sizes", "effects > 0 in points")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def spending(design: Design) -> np.ndarray:
    """The share of alpha spent at each look (sums to 1)."""
    t = np.asarray(design.looks, dtype=np.float64) / design.budget
    cumulative = t**design.rho
    return np.diff(np.concatenate([[0.0], cumulative]))


def _t_upper(q: float, df: float) -> float:
    return float(scipy_stats.t.ppf(q, df)) if math.isfinite(df) else float(scipy_stats.norm.ppf(q))


@dataclass(frozen=True)
class SeedPool:
    """The seed variance of one target's comparisons pooled, and whether the design's
    homogeneity test lets a comparison use it (`homogeneous`)."""

    variance: float
    df: float
    homogeneous: bool
    p_value: float  # the joint homogeneity test's (NaN: not tested)


def seed_pools(
    groups: Mapping[Any, Sequence[Sequence[float]]], test: str = "bartlett", level: float = 0.2
) -> dict[Any, SeedPool]:
    """Per group (one target's comparisons: the pairs of orders share its test set,
    metric and noise), their per-seed differences pooled: the variance with the summed
    degrees of freedom. The pools are usable (`homogeneous`) only when `test` keeps
    equal variances at `level` within every group jointly: "bartlett" sums each group's
    Bartlett statistic (chi-square with k − 1 df for k members; the groups are
    independent, so the sum has the summed df); "none" never pools. One joint test, not
    one per group: a pair of orders that is noisier than the others is noisier on every
    target, and its members' two-df variances hide it from any single target's test.
    Bartlett's test assumes normal differences, as the design's t intervals do."""
    parts = {
        key: [np.asarray(d, dtype=np.float64) for d in series if len(d) > 1]
        for key, series in groups.items()
    }
    statistic, df_test, tested = 0.0, 0, bool(test != "none")
    for members in parts.values():
        if len(members) < 2:
            continue
        if any(np.var(d, ddof=1) <= 0 for d in members):
            tested = False  # a zero variance (a tie) is never pooled with others
            break
        statistic += float(scipy_stats.bartlett(*members).statistic)
        df_test += len(members) - 1
    p_value = float(scipy_stats.chi2.sf(statistic, df_test)) if tested and df_test else math.nan
    homogeneous = tested and df_test > 0 and p_value > level
    pools = {}
    for key, members in parts.items():
        df = sum(len(d) - 1 for d in members)
        if not df:
            pools[key] = SeedPool(math.nan, 0.0, False, p_value)
            continue
        variance = float(sum(np.var(d, ddof=1) * (len(d) - 1) for d in members) / df)
        pools[key] = SeedPool(variance, float(df), homogeneous and len(members) > 1, p_value)
    return pools


def seed_pool(
    series: Sequence[Sequence[float]], test: str = "bartlett", level: float = 0.2
) -> SeedPool:
    """`seed_pools` of one group."""
    return seed_pools({0: series}, test, level)[0]


def standard_error(
    diffs: np.ndarray,
    shared_var: float,
    mean_var: float,
    pool: SeedPool | None = None,
    seeds: int | None = None,
) -> tuple[float, float]:
    """(se, df) of the seed mean: seed-to-seed variance over S (at least
    `effects.tie_floor` of `mean_var`, the bootstrap variance of the seed mean) plus
    the test-set variance the seeds share.
    With a `pool` (seed_pool) that passed its homogeneity test, the seed variance is
    the larger of the comparison's own and the pool's, with the pool's degrees of
    freedom only where the pool's is the larger; a pool that failed the test is not
    used at all: the comparison's own variance with its own S − 1.
    `seeds`: the (se, df) projected to that many seeds, the variances as estimated."""
    d = np.asarray(diffs, dtype=np.float64)
    own, df = float(np.var(d, ddof=1)), float(len(d) - 1)
    if pool is not None and pool.homogeneous and pool.variance >= own:
        own, df = pool.variance, max(pool.df, df)
    shared = shared_var if math.isfinite(shared_var) else 0.0
    if seeds is not None:
        return math.sqrt(own / seeds + shared), df * (seeds - 1) / (len(d) - 1)
    floor = float(tie_floor(mean_var, shared, len(d))) if math.isfinite(mean_var) else 0.0
    return math.sqrt(max(own / len(d), floor) + shared), df


@dataclass
class Look:
    """One comparison at one look: the numbers and the state after the look."""

    look: int
    n_seeds: int
    effect: float
    se: float
    df: float
    p_look: float
    p_seq: float
    sign: int  # the sign of the effect at the look that set p_seq
    ci_low: float
    ci_high: float
    family_low: float
    family_high: float
    se_budget: float = math.nan  # the se the seed budget would give, as now estimated
    df_budget: float = math.nan
    state: str = OPEN
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        extra = row.pop("extra")
        return {**row, **extra}


def look_row(
    previous: Look | None,
    diffs: Sequence[float],
    shared_var: float,
    mean_var: float,
    design: Design,
    look: int,
    family_size: int,
    pool: SeedPool | None = None,
) -> Look:
    """A comparison's numbers at `look` (0-based) from its first design.looks[look]
    per-seed differences (`pool`: see standard_error); running intersections and P
    from `previous`. A comparison
    that stopped earlier keeps `previous` (call only for open ones)."""
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) != design.looks[look]:
        raise ValueError(f"look {look + 1}: {len(d)} seeds, the design plans {design.looks[look]}")
    w = float(spending(design)[look])
    effect = float(np.mean(d))
    se, df = standard_error(d, shared_var, mean_var, pool)
    se_budget, df_budget = standard_error(d, shared_var, mean_var, pool, design.budget)
    if se > 0:
        p_look = float(2 * scipy_stats.t.sf(abs(effect) / se, df))
    else:
        p_look = 0.0 if effect != 0 else 1.0
    ratio = min(1.0, p_look / w)
    half = _t_upper(1 - design.alpha * w / 2, df) * se
    family_half = _t_upper(1 - design.alpha * w / (2 * max(family_size, 1)), df) * se
    # Scores are percentages: a difference lies in ±LIMIT, where wider intervals are cut.
    low, high = max(effect - half, -LIMIT), min(effect + half, LIMIT)
    family_low, family_high = max(effect - family_half, -LIMIT), min(effect + family_half, LIMIT)
    sign = int(np.sign(effect))
    p_seq = ratio
    if previous is not None:
        low, high = max(low, previous.ci_low), min(high, previous.ci_high)
        family_low = max(family_low, previous.family_low)
        family_high = min(family_high, previous.family_high)
        if previous.p_seq <= ratio:
            p_seq, sign = previous.p_seq, previous.sign
    return Look(
        look=look,
        n_seeds=len(d),
        effect=effect,
        se=se,
        df=df,
        p_look=p_look,
        p_seq=p_seq,
        sign=sign,
        ci_low=low,
        ci_high=high,
        family_low=family_low,
        family_high=family_high,
        se_budget=se_budget,
        df_budget=df_budget,
    )


def decide_family(rows: Sequence[Look], design: Design, look: int, family_size: int) -> None:
    """States after `look` for one family's rows (every member's latest Look: stopped
    ones frozen, open ones of this look). Members not seen at all count as p = 1 up to
    `family_size`. Only rows still open (and of this look) change state."""
    p = [r.p_seq for r in rows] + [1.0] * max(family_size - len(rows), 0)
    adjusted = holm(p)
    last = look == len(design.looks) - 1
    for row, p_holm in zip(rows, adjusted[: len(rows)], strict=True):
        if row.state in STOPPED or row.look != look:
            continue
        if p_holm < design.alpha and row.sign != 0:
            row.state = POSITIVE if row.sign > 0 else NEGATIVE
        elif -design.delta <= row.family_low and row.family_high <= design.delta:
            row.state = NEGLIGIBLE
        elif last:
            row.state = BUDGET
        elif futile(row, design, family_size):
            row.state = FUTILE
        row.extra["p_holm"] = float(p_holm)


def futile(row: Look, design: Design, family_size: int) -> bool:
    """Whether the budget's seeds could not decide the comparison even if its effect
    were `design.futility` standard errors more favourable than now: its sign not
    even at Holm's most lenient step (alpha · w_K), and no interval at the last look
    narrow enough to lie inside ±delta. Stopping never weakens the guarantees (P and
    the running intervals hold under any stopping rule); it only saves seeds."""
    if design.futility <= 0 or not row.se_budget > 0:
        return False
    w_last = float(spending(design)[-1])
    optimistic = abs(row.effect) + design.futility * row.se
    sign_reachable = optimistic / row.se_budget >= _t_upper(
        1 - design.alpha * w_last / 2, row.df_budget
    )
    closest = max(abs(row.effect) - design.futility * row.se, 0.0)
    family_quantile = _t_upper(1 - design.alpha * w_last / (2 * max(family_size, 1)), row.df_budget)
    negligible_reachable = closest + family_quantile * row.se_budget <= design.delta
    return not sign_reachable and not negligible_reachable
