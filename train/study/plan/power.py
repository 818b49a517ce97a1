"""Power and seeds before anything runs: how many seeds each pre-registered family of
comparisons needs, and what the adaptive design costs beside the fixed one.

    fixed_seeds_for_power(effect=1.0, seed_var=1.0, shared_var=0.09, alpha=0.05, family=36)

A paired comparison over S seeds has se² = seed_var / S + shared_var (seed_var: the
variance of one seed's paired difference; shared_var: the test-set variance every seed
shares, which more seeds do not shrink) and is tested by t with S − 1 degrees of
freedom at alpha / family (Bonferroni, the bound Holm improves on). Its power is the
noncentral t's.
"""

from __future__ import annotations

import math

from scipy import stats as scipy_stats

POWER = 0.8
MAX_SEEDS = 100


def fixed_power(
    effect: float, seed_var: float, shared_var: float, seeds: int, level: float
) -> float:
    """Power of the two-sided t test at `level` with `seeds` seeds."""
    if seeds < 2:
        return 0.0
    se = math.sqrt(seed_var / seeds + shared_var)
    df = seeds - 1
    critical = scipy_stats.t.ppf(1 - level / 2, df)
    shift = abs(effect) / se
    return float(
        scipy_stats.nct.sf(critical, df, shift) + scipy_stats.nct.cdf(-critical, df, shift)
    )


def fixed_seeds_for_power(
    effect: float,
    seed_var: float,
    shared_var: float,
    alpha: float,
    family: int,
    power: float = POWER,
) -> int | None:
    """The fewest seeds giving `power` at `effect` (None: not within MAX_SEEDS, e.g.
    when the shared test-set noise alone hides the effect)."""
    level = alpha / max(family, 1)
    for seeds in range(2, MAX_SEEDS + 1):
        if fixed_power(effect, seed_var, shared_var, seeds, level) >= power:
            return seeds
    return None
