"""Synthetic families of comparisons for the adaptive rule (eval/stats/adaptive.py):
per-seed paired differences with known effects, run through the rule look by look,
and through the fixed designs it is measured against.

    result = simulate(SCENARIOS["all-null"], design, replicates=200, rng=rng)

A comparison's difference at seed s is θ + shared test-set error (one draw per
comparison: every seed is scored on the same test set) + the seed effect (its own,
plus with `shared_across_targets` one per pair and seed that every target of the pair
sees) + item × seed noise; a diverged run adds ± `diverged_shift` with probability
`diverged`. The rule sees the test-set variances b (shared) and v (of the seed mean)
as a bootstrap of `n_boot` draws would estimate them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from eval.stats import adaptive
from train.study.plan.power import fixed_seeds_for_power


@dataclass(frozen=True)
class Scenario:
    name: str
    effects: tuple[float, ...] = (0.0,)  # points, cycled over the family's comparisons
    pairs: int = 6  # a family each: a pair of orders on every target of the estimand
    targets: int = 6  # comparisons = pairs × targets
    seed_sd: float = 1.0  # per comparison and seed
    shared_across_targets: float = 0.0  # SD of a pair's seed effect that all targets share
    test_sd: float = 0.3  # test-set error shared by the seeds (sqrt of b)
    item_seed_sd: float = 0.3  # test-set noise that differs between seeds
    diverged: float = 0.0  # probability that a run diverged
    diverged_shift: float = 8.0
    noisy_pairs: int = 0  # the first this many pairs' seed effects have noisy_factor × seed_sd
    noisy_factor: float = 3.0
    # One run that did not train, flagged by the study's check: the first comparison
    # (pair 0, target 0) at seed 0 moves by failed_shift (its first order at chance).
    failed_run: bool = False
    failed_shift: float = -17.0
    n_boot: int = 1000

    @property
    def comparisons(self) -> int:
        return self.pairs * self.targets


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("all-null"),
        Scenario("mixed signs", effects=(2.0, -2.0, 0.0)),
        Scenario("small effects", effects=(0.5,)),
        Scenario("large effects", effects=(3.0, -3.0)),
        Scenario("heavy tails (diverged runs)", diverged=0.05),
        Scenario("seed effects shared across targets", shared_across_targets=0.8, seed_sd=0.6),
        Scenario("few test examples", test_sd=1.0, item_seed_sd=1.0),
        Scenario("null, one pair 3x noisier (seed sd)", noisy_pairs=1),
        Scenario("+2, one failed run on target 0", effects=(2.0,), failed_run=True),
        Scenario("+2, no failed run (reference)", effects=(2.0,)),
        Scenario("null, one failed run on target 0", failed_run=True),
    )
}


DECIDED = (adaptive.POSITIVE, adaptive.NEGATIVE, adaptive.NEGLIGIBLE)


def draw(scenario: Scenario, seeds: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One study: truth (m,), per-seed differences (m, seeds), estimated b and v (m,)."""
    m = scenario.comparisons
    truth = np.resize(np.asarray(scenario.effects, dtype=np.float64), m)
    shared_test = rng.normal(0, scenario.test_sd, m)
    own = rng.normal(0, scenario.seed_sd, (m, seeds))
    own[: scenario.noisy_pairs * scenario.targets] *= scenario.noisy_factor
    pair_seed = rng.normal(0, scenario.shared_across_targets, (scenario.pairs, seeds))
    across = np.repeat(pair_seed, scenario.targets, axis=0)
    items = rng.normal(0, scenario.item_seed_sd, (m, seeds))
    diffs = truth[:, None] + shared_test[:, None] + own + across + items
    if scenario.diverged:
        hit = rng.random((m, seeds)) < scenario.diverged
        diffs += hit * rng.choice([-1.0, 1.0], (m, seeds)) * scenario.diverged_shift
    failed = np.zeros((m, seeds), dtype=bool)
    if scenario.failed_run:
        failed[0, 0] = True
        diffs[0, 0] += scenario.failed_shift
    # What a bootstrap of n_boot draws estimates: b with chi-square noise.
    chi = rng.chisquare(scenario.n_boot - 1, m) / (scenario.n_boot - 1)
    b = scenario.test_sd**2 * chi
    return dict(truth=truth, diffs=diffs, b=b, v_item=scenario.item_seed_sd**2 * chi, failed=failed)


def run_adaptive(
    study: dict[str, np.ndarray],
    design: adaptive.Design,
    pairs: int,
    pooled: bool = True,
    pool_failed: bool = False,
) -> list[adaptive.Look]:
    """The rule on one study (rows pair-major: pair p's targets are rows p·T..p·T+T−1,
    one family per pair; seed variance pooled per target over the pairs still open
    without a failed run, as eval/stats/adaptive_study.py pools them); each
    comparison's last Look (the one it stopped at). `pool_failed`: failed runs enter
    the pool, as they did before the study checked its runs (for comparison)."""
    failed = study["failed"] & (not pool_failed)
    m = len(study["truth"])
    targets = m // pairs
    latest: list[adaptive.Look | None] = [None] * m
    for look, seeds in enumerate(design.looks):
        diffs = study["diffs"][:, :seeds]
        pools = {}
        if pooled:
            # Per target, the pairs still open without a failed run; one joint test.
            pools = adaptive.seed_pools(
                {
                    t: [
                        diffs[j]
                        for j in range(t, m, targets)
                        if (latest[j] is None or latest[j].state not in adaptive.STOPPED)
                        and not failed[j, :seeds].any()
                    ]
                    for t in range(targets)
                },
                design.pool_test,
                design.pool_level,
            )
        for i in range(m):
            if latest[i] is not None and latest[i].state in adaptive.STOPPED:
                continue
            pool = None if failed[i, :seeds].any() else pools.get(i % targets)
            v = study["b"][i] + study["v_item"][i] / seeds
            latest[i] = adaptive.look_row(
                latest[i], diffs[i], study["b"][i], v, design, look, targets, pool
            )
        for p in range(pairs):
            adaptive.decide_family(latest[p * targets : (p + 1) * targets], design, look, targets)
    return latest


def run_fixed(
    study: dict[str, np.ndarray], seeds: int, alpha: float, pairs: int
) -> dict[str, np.ndarray]:
    """The fixed design with `seeds` seeds: t interval and Holm across the family."""
    design = adaptive.Design(alpha=alpha, looks=(seeds,), delta=0.0)
    rows = run_adaptive(study, design, pairs, pooled=False)
    return dict(
        sign=np.array(
            [r.sign if r.state in (adaptive.POSITIVE, adaptive.NEGATIVE) else 0 for r in rows]
        ),
        covered=np.array(
            [r.ci_low <= t <= r.ci_high for r, t in zip(rows, study["truth"], strict=True)]
        ),
    )


def simulate(
    scenario: Scenario,
    design: adaptive.Design,
    replicates: int,
    rng: np.random.Generator,
    pool_failed: bool = False,
) -> dict[str, Any]:
    """Rates over replicates: family-wise false sign (any decided sign that is wrong,
    a zero effect included), false negligible (|θ| > δ called negligible), coverage of
    θ at stopping, seeds used against the fixed three-seed design and the fixed design
    with 80 % power at the scenario's smallest non-zero effect (the design's largest
    stated effect where all are zero; None when out of reach within MAX_SEEDS)."""
    nonzero = [abs(e) for e in scenario.effects if e]
    fixed_power_seeds = fixed_seeds_for_power(
        min(nonzero) if nonzero else max(design.effect_sizes),
        scenario.seed_sd**2 + scenario.shared_across_targets**2 + scenario.item_seed_sd**2,
        scenario.test_sd**2,
        design.alpha,
        scenario.targets,
    )
    budget = max(design.budget, 3, fixed_power_seeds or 0)
    family_false = np.zeros(scenario.pairs, dtype=int)
    found = planted = 0
    # Clean comparisons on target 0 (every pair's but the first, whose run may fail).
    clean = np.arange(scenario.targets, scenario.comparisons, scenario.targets)
    futile_clean = 0
    false_sign = false_negligible = 0
    fixed_false = 0
    covered = seeds_used = 0.0
    decided = 0.0
    fixed3_decided = fixed_power_decided = 0.0
    for _ in range(replicates):
        study = draw(scenario, budget, rng)
        truth = study["truth"]
        rows = run_adaptive(study, design, scenario.pairs, pool_failed=pool_failed)
        sign = np.array(
            [r.sign if r.state in (adaptive.POSITIVE, adaptive.NEGATIVE) else 0 for r in rows]
        )
        false_sign += families_with(wrong(sign, truth), scenario.pairs)
        family_false += np.any(wrong(sign, truth).reshape(scenario.pairs, -1), axis=1)
        found += int(np.sum((sign != 0) & (sign == np.sign(truth)) & (truth != 0)))
        planted += int(np.sum(truth != 0))
        futile_clean += sum(rows[i].state == adaptive.FUTILE for i in clean)
        negligible = np.array([r.state == adaptive.NEGLIGIBLE for r in rows])
        false_negligible += families_with(
            negligible & (np.abs(truth) > design.delta), scenario.pairs
        )
        covered += np.mean([r.ci_low <= t <= r.ci_high for r, t in zip(rows, truth, strict=True)])
        seeds_used += sum(r.n_seeds for r in rows)
        decided += np.mean([r.state in DECIDED for r in rows])
        fixed3 = run_fixed(study, 3, design.alpha, scenario.pairs)
        fixed3_decided += np.mean(fixed3["sign"] != 0)
        fixed_false += families_with(wrong(fixed3["sign"], truth), scenario.pairs)
        if fixed_power_seeds:
            fixed_power = run_fixed(study, fixed_power_seeds, design.alpha, scenario.pairs)
            fixed_power_decided += np.mean(fixed_power["sign"] != 0)
    m = scenario.comparisons
    n = replicates
    families = replicates * scenario.pairs
    worst = int(np.argmax(family_false))
    power = found / planted if planted else None
    same_power_seeds = None
    if power and nonzero:
        same_power_seeds = fixed_seeds_for_power(
            min(nonzero),
            scenario.seed_sd**2 + scenario.shared_across_targets**2 + scenario.item_seed_sd**2,
            scenario.test_sd**2,
            design.alpha,
            scenario.targets,
            power=power,
        )
    return dict(
        scenario=scenario.name,
        replicates=n,
        comparisons=m,
        false_sign=false_sign / families,
        false_sign_upper=wilson_upper(false_sign, families),
        worst_family=worst,
        worst_family_false_sign=family_false[worst] / n,
        worst_family_upper=wilson_upper(int(family_false[worst]), n),
        power=power,
        same_power_fixed_seeds=same_power_seeds,
        futile_clean_target0=futile_clean / (n * len(clean)) if len(clean) else None,
        false_negligible=false_negligible / families,
        coverage=covered / n,
        decided=decided / n,
        seeds_per_comparison=seeds_used / (n * m),
        fixed3_seeds=3,
        fixed3_decided=fixed3_decided / n,
        fixed3_false_sign=fixed_false / families,
        fixed_power_seeds=fixed_power_seeds,
        fixed_power_decided=fixed_power_decided / n if fixed_power_seeds else None,
    )


def wrong(sign: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Comparisons whose decided sign is not the truth's (a zero effect has none)."""
    return (sign != 0) & (sign != np.sign(truth))


def families_with(hit: np.ndarray, pairs: int) -> int:
    """How many families (one per pair, rows pair-major) hold a hit."""
    return int(np.sum(np.any(hit.reshape(pairs, -1), axis=1)))


def wilson_upper(hits: int, n: int, z: float = 1.959963984540054) -> float:
    """Upper end of the 95 % Wilson interval of a rate."""
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre + spread) / (1 + z * z / n))


def with_family(scenario: Scenario, pairs: int, targets: int) -> Scenario:
    return replace(scenario, pairs=pairs, targets=targets)
