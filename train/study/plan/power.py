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

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from eval.stats.adaptive_pilot import expected_open, pilot_study_variances
from eval.stats.adaptive_study import plan_design
from train.study.plan.cost import DEFAULT_TOPOLOGIES, study_work
from train.study.plan.dag import StageDag, target_stage_tasks
from train.study.plan.plan import intermediate_paths
from train.study.plan.targets import parse_target
from train.study.plan.timing import stage_seconds
from xlmr_flax import get_model_config

POWER = 0.8
MAX_SEEDS = 100


def fixed_power(
    effect: float, seed_var: float, shared_var: float, seeds: int, level: float
) -> float:
    """Power of the two-sided t test at `level` with `seeds` seeds."""
    if seeds < 2:
        return 0.0
    se = math.sqrt(seed_var / seeds + shared_var)
    if se == 0:  # a pilot that measured no variation at all: any effect shows
        return 1.0 if effect else level
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


# ----------------------------------------------------------------------------------
# The dry run's table: seeds per family, and the adaptive design's chip-hours
# ----------------------------------------------------------------------------------


def design_variances(config, planned: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], str]:
    """({target: (seed variance, shared test-set variance)}, where they come from): a
    pilot study's measurements (`config.design.pilot`, a finished study folder) where
    it has the target, else the design's stated assumption."""
    design = planned["design"]
    assumed = (design["seed_sd"] ** 2, design["examples_sd"] ** 2)
    pilot = config.design.get("pilot", "")
    measured = pilot_study_variances(pilot, design["families"]) if pilot else {}
    source = f"pilot {pilot} ({len(measured)} targets measured)" if pilot else "assumed"
    return {t: measured.get(t, assumed) for t in planned["targets"]}, source


def prefix_hours(config, dag: StageDag, topology: str, mfu: float | None) -> dict[tuple, float]:
    """Chip-hours of each stage's training by the tasks of its path (seed aside: every
    seed's stage costs the same), on `topology` with every host running its own stages
    (the planner's per-stage times: a roofline bound, or `mfu` where given)."""
    target = parse_target(topology)
    chips = target.chips_per_host
    train = study_work(config, dag, [topology]).train
    seconds = stage_seconds(target, chips, get_model_config(config.model), train, {}, mfu, {})
    hours: dict[tuple, float] = {}
    first_seed = min(s.seed for s in dag.sequences)
    for sequence in dag.sequences:
        if sequence.seed != first_seed:
            continue
        tasks = (*sequence.path, *target_stage_tasks(sequence.target))
        for depth, stage_id in enumerate(sequence.stages):
            hours.setdefault(tasks[: depth + 1], seconds[stage_id] * chips / 3600)
    return hours


def adaptive_hours(
    planned: dict[str, Any], hours: dict[tuple, float], still_open: np.ndarray
) -> float:
    """Expected chip-hours of the adaptive design: round k's stage of a path prefix and
    seed runs when any comparison using it is still open after look k − 1 (each open
    with probability `still_open[k − 1]`, independently); still_open of ones: worst case."""
    design = planned["design"]
    looks = [0, *design["looks"]]
    users: dict[tuple, int] = {}
    for first, second in planned["pairs"]:
        for target in planned["targets"]:
            tasks_of = [(*p, *target_stage_tasks(target)) for p in (first, second)]
            for key in {t[: d + 1] for t in tasks_of for d in range(len(t))}:
                users[key] = users.get(key, 0) + 1
    total = 0.0
    for k in range(len(design["looks"])):
        p_open = 1.0 if k == 0 else float(still_open[k - 1])
        seeds = looks[k + 1] - looks[k]
        for key, n in users.items():
            total += seeds * hours[key] * (1 - (1 - p_open) ** n)
    return total


def print_power(config, dag: StageDag, topologies: Sequence[str], mfu=None, out=print) -> dict:
    """Seeds for 80 % power per family and target at the design's effect sizes, and the
    adaptive design's expected and worst-case chip-hours beside the fixed design's."""
    values = {k: v for k, v in dict(config.design).items() if k not in ("mode", "pilot")}
    planned = plan_design(
        values,
        intermediate_paths(config.study),
        list(config.study.targets),
        list(range(max(len(config.study.seeds), values.get("looks", (3, 5, 7, 10))[-1]))),
    )
    design = planned["design"]
    variances, source = design_variances(config, planned)
    alpha, effects = design["alpha"], design["effect_sizes"]
    family = len(planned["targets"])
    out(
        f"power: seeds for {POWER:.0%} power per family (a pair of orders x "
        f"{'/'.join(design['families'])}-resource class over {family} targets: "
        f"{', '.join(planned['targets'])}), fixed design, Bonferroni over the family; "
        f"variances {source}"
    )
    out(
        f"  {'target':<10} {'seed sd':>8} {'test sd':>8}  "
        + "  ".join(f"{e:>6g} pt" for e in effects)
    )
    table = {}
    for target, (seed_var, shared_var) in variances.items():
        seeds = [fixed_seeds_for_power(e, seed_var, shared_var, alpha, family) for e in effects]
        table[target] = seeds
        cells = "  ".join(f"{s if s else '>' + str(MAX_SEEDS):>9}" for s in seeds)
        out(f"  {target:<10} {math.sqrt(seed_var):>8.2f} {math.sqrt(shared_var):>8.2f}  {cells}")
    seed_var = float(np.median([v for v, _ in variances.values()]))
    shared_var = float(np.median([b for _, b in variances.values()]))
    pairs = len(planned["pairs"])
    topology = (list(topologies) or DEFAULT_TOPOLOGIES)[0]
    hours = prefix_hours(config, dag, topology, mfu)
    fixed = sum(hours_of_dag(dag, hours))
    worst = adaptive_hours(planned, hours, np.ones(len(design["looks"])))
    expected = {}
    for effect in (0.0, *effects):
        still_open = expected_open(planned, seed_var, shared_var, effect, pairs)
        expected[effect] = adaptive_hours(planned, hours, still_open)
    # The fixed design that reaches the power target on the same comparisons: every
    # seed it needs on every run the adaptive design may train.
    per_seed = worst / design["looks"][-1]
    powered = {
        e: per_seed * max(seeds[k] for seeds in table.values())
        for k, e in enumerate(effects)
        if all(seeds[k] for seeds in table.values())
    }
    out(
        f"chip-hours on {topology} (training, host layout; evaluations aside): fixed design "
        f"{_hours(fixed)} ({len(dag.stages)} stages, seeds {list(config.study.seeds)}); "
        f"adaptive design (looks at {design['looks']} seeds, {pairs} pairs x {family} "
        f"targets) worst case {_hours(worst)}, expected "
        + ", ".join(f"{_hours(v)} if every effect is {e:g} pt" for e, v in expected.items())
        + "; the fixed design with 80 % power on the same comparisons "
        + (", ".join(f"{_hours(v)} at {e:g} pt" for e, v in powered.items()) or "out of reach")
    )
    result = dict(
        seeds_for_power=table,
        fixed=fixed,
        worst=worst,
        expected={str(e): v for e, v in expected.items()},
        topology=topology,
    )
    out(json.dumps({"power": result}))
    return result


def _hours(value: float) -> str:
    """Chip-hours as read: whole hours for a real study, two digits for a tiny one."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def hours_of_dag(dag: StageDag, hours: dict[tuple, float]) -> list[float]:
    """Chip-hours of every unique stage of the DAG (by its path's tasks)."""
    seen: dict[str, float] = {}
    for sequence in dag.sequences:
        tasks = (*sequence.path, *target_stage_tasks(sequence.target))
        for depth, stage_id in enumerate(sequence.stages):
            seen[stage_id] = hours[tasks[: depth + 1]]
    return list(seen.values())
