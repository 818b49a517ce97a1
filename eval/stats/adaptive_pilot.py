"""What planning an adaptive study needs from statistics: the variances a pilot
study measured, and how many comparisons the rule leaves open at each look.

    pilot_variances(records, workdir, families)    # {target: (seed_var, shared_var)}
    pilot_study_variances(pilot_dir, families)     # the same, read from a study folder
    open_after_looks(design, seed_var, shared_var, effect, family)   # (K,) fractions
    expected_open(planned, seed_var, shared_var, effect, pairs)      # of a planned study

A pilot is any finished study folder (its results.jsonl and examples files): per
target, the median over its pairs of orders of the class-mean difference's seed
variance (one seed's difference) and of the test-set variance the seeds share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.analysis import Record, in_class, load_results, order_comparisons, results_file
from eval.stats import adaptive
from eval.stats.ordering import ordering_effects


def pilot_variances(
    records: Sequence[Record], workdir: str, families: Sequence[str], n_boot: int = 500
) -> dict[str, tuple[float, float]]:
    """{target: (seed variance of one seed's difference, shared test-set variance)}
    measured on a pilot study; targets without two seeds of a comparison are absent."""
    scored = [r for r in records if r.kind == "zero_shot"]
    if not order_comparisons({r.path for r in scored})[0]:
        return {}
    analysis = ordering_effects(scored, workdir, n_boot=n_boot)
    parts: dict[tuple, list] = defaultdict(list)
    for (first, second, target, lang), series in analysis.series.items():
        for cls in families:
            if in_class(lang, cls):
                parts[(first, second, target, cls)].append(series)
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (_, _, target, _), members in parts.items():
        common = sorted(set.intersection(*(set(s) for s, _, _ in members)))
        if len(common) < 2:
            continue
        diffs = np.mean([d[[s.index(x) for x in common]] for s, d, _ in members], axis=0)
        shared = 0.0
        if all(b is not None for _, _, b in members):
            boot = np.mean([b[:, [s.index(x) for x in common]] for s, _, b in members], axis=0)
            cov = np.cov(boot, rowvar=False)
            shared = max(float(cov.sum() - np.trace(cov)) / (len(common) * (len(common) - 1)), 0.0)
        found[target].append((float(np.var(diffs, ddof=1)), shared))
    return {
        t: (float(np.median([v for v, _ in rows])), float(np.median([b for _, b in rows])))
        for t, rows in found.items()
    }


def open_after_looks(
    design: adaptive.Design,
    seed_var: float,
    shared_var: float,
    effect: float,
    family: int,
    pairs: int = 1,
    replicates: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """The expected share of a family's comparisons still open after each look, every
    comparison with `effect`, normal seed differences and shared test-set error; the
    seed variance is pooled over `pairs` pairs of orders per target, as the rule pools
    (with equal variances the homogeneity test keeps the pool with probability
    1 − design.pool_level)."""
    rng = np.random.default_rng(seed)
    still_open = np.zeros(len(design.looks))
    for _ in range(replicates):
        shared = rng.normal(0, np.sqrt(shared_var), family)
        diffs = effect + shared[:, None] + rng.normal(0, np.sqrt(seed_var), (family, design.budget))
        latest: list[adaptive.Look | None] = [None] * family
        for look, seeds in enumerate(design.looks):
            df = pairs * (seeds - 1)
            pool = adaptive.SeedPool(
                seed_var * rng.chisquare(df) / df,
                float(df),
                design.pool_test != "none" and pairs > 1 and rng.random() >= design.pool_level,
                float("nan"),
            )
            for i in range(family):
                if latest[i] is None or latest[i].state not in adaptive.STOPPED:
                    latest[i] = adaptive.look_row(
                        latest[i],
                        diffs[i, :seeds],
                        shared_var,
                        shared_var,
                        design,
                        look,
                        family,
                        pool,
                    )
            adaptive.decide_family(latest, design, look, family)
            still_open[look] += sum(r.state == adaptive.OPEN for r in latest) / family
    return still_open / replicates


def pilot_study_variances(pilot: str, families: Sequence[str]) -> dict[str, tuple[float, float]]:
    """`pilot_variances` of a finished study folder (its results.jsonl)."""
    return pilot_variances(load_results(results_file(pilot)), pilot, families)


def expected_open(
    planned: dict[str, Any], seed_var: float, shared_var: float, effect: float, pairs: int
) -> Any:
    """The share of a planned study's family comparisons open after each look."""
    design = adaptive.Design.from_mapping(planned["design"])
    family = len(planned["targets"])
    return open_after_looks(design, seed_var, shared_var, effect, family, pairs)
