"""The adaptive rule by simulation, scenario by scenario (docs/adaptive.md).

    python -m bench.adaptive --replicates 500
    python -m bench.adaptive --replicates 100 --only "null,tails" --delta 2

Every scenario of `bench.adaptive_scenarios.SCENARIOS` runs `--replicates` studies of
`--pairs` families (a pair of orders over `--targets` low-resource targets each) through
the adaptive rule (eval/stats/adaptive.py) with the design given here, and through the
fixed designs it is measured against: three seeds, and the seeds that give 80 % power
at the scenario's smallest non-zero effect (Bonferroni over the family). Prints the
table of docs/adaptive.md (Markdown), then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench import adaptive_scenarios as sim
from eval.stats import adaptive


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=6, help="families per study")
    parser.add_argument("--targets", type=int, default=6, help="comparisons per family")
    parser.add_argument("--looks", default="3,5,7,10", help="cumulative seeds at each look")
    parser.add_argument("--delta", type=float, default=1.0, help="negligible margin, points")
    parser.add_argument("--rho", type=float, default=1.0, help="alpha-spending exponent")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--futility", type=float, default=1.0, help="standard errors of optimism (0: never)"
    )
    parser.add_argument(
        "--pool-test", default="bartlett", help="homogeneity test before pooling (or none)"
    )
    parser.add_argument("--pool-level", type=float, default=0.2, help="its level")
    parser.add_argument(
        "--pool-failed-runs",
        action="store_true",
        help="let failed runs enter the pool (the rule before runs were checked)",
    )
    parser.add_argument("--only", default="", help="comma-separated parts of scenario names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    design = adaptive.Design(
        alpha=args.alpha,
        delta=args.delta,
        rho=args.rho,
        looks=tuple(int(x) for x in args.looks.split(",")),
        futility=args.futility,
        pool_test=args.pool_test,
        pool_level=args.pool_level,
    )
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    print(
        f"design: alpha {design.alpha}, delta {design.delta} points, looks {design.looks}, "
        f"rho {design.rho}, futility {design.futility}, pool test {design.pool_test} at "
        f"{design.pool_level}; {args.pairs} families x "
        f"{args.targets} comparisons, {args.replicates} replicates; seed sd of a paired "
        "difference 1 point"
    )
    print(
        "| scenario | false sign (families) | upper 95 % | false negligible | coverage at stop "
        "| decided | seeds / comparison | fixed 3 seeds: decided | fixed, 80 % power: seeds "
        "| decided | adaptive / powered seeds | worst family: false sign [upper 95 %] "
        "| power | fixed at the same power: seeds | clean comparisons on target 0 futile | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for name, scenario in sim.SCENARIOS.items():
        if parts and not any(p in name for p in parts):
            continue
        scenario = sim.with_family(scenario, args.pairs, args.targets)
        started = time.time()
        r = sim.simulate(
            scenario,
            design,
            args.replicates,
            np.random.default_rng(args.seed),
            pool_failed=args.pool_failed_runs,
        )
        r["seconds"] = round(time.time() - started, 1)
        powered = r["fixed_power_seeds"]
        r["ratio"] = r["seeds_per_comparison"] / powered if powered else None
        results.append(r)
        print(
            f"| {name} | {_pct(r['false_sign'])} | {_pct(r['false_sign_upper'])} | "
            f"{_pct(r['false_negligible'])} | {_pct(r['coverage'])} | {_pct(r['decided'])} | "
            f"{r['seeds_per_comparison']:.2f} | {_pct(r['fixed3_decided'])} | "
            + (
                f"{powered} | {_pct(r['fixed_power_decided'])} | {r['ratio']:.2f} | "
                if powered
                else "> 100 (out of reach) | – | – | "
            )
            + f"{_pct(r['worst_family_false_sign'])} [{_pct(r['worst_family_upper'])}] | "
            + (f"{_pct(r['power'])} | " if r["power"] is not None else "– | ")
            + f"{r['same_power_fixed_seeds'] or '–'} | "
            + f"{_pct(r['futile_clean_target0'])} | "
            + f"{r['seconds']} |",
            flush=True,
        )
    print(
        json.dumps(
            {
                "design": design.to_dict(),
                "pool_failed_runs": args.pool_failed_runs,
                "replicates": args.replicates,
                "seed": args.seed,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
