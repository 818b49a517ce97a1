"""Calibration of the ordering effect's intervals and tests by simulation.

    python -m bench.calibration --replicates 100 --scale 4
    python -m bench.calibration --replicates 20 --only "one seed,realistic"

Every scenario of `bench.simulation.scenarios()` (no effect, or a planted one) is
simulated `--replicates` times: a synthetic study written in the files a study
writes, analysed as the report analyses it (`eval.stats.ordering.ordering_effects`,
`--n-boot` draws). Test sets are `bench.simulation.CI_TARGETS` times `--scale`.
Prints the calibration table of docs/report.md (Markdown), then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from bench import simulation


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0, help="test sizes × this")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--only", default="", help="comma-separated parts of scenario names")
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "calibration"))
    args = parser.parse_args()
    targets = {
        t: (langs, max(20, round(n * args.scale)))
        for t, (langs, n) in simulation.CI_TARGETS.items()
    }
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    rows = []
    start = time.perf_counter()
    print(
        "| scenario | per-language interval excludes the truth | class family-wise error "
        "| coverage: languages / classes | warned |"
    )
    print("|---|---|---|---|---|")
    for scenario in simulation.scenarios():
        if wanted and not any(w in scenario.name for w in wanted):
            continue
        found = simulation.calibrate(
            scenario, args.replicates, args.root, targets=targets, n_boot=args.n_boot
        )
        row = found.as_dict()
        rows.append(row)
        untested = " (never tested)" if not found.language_tests else ""
        print(
            f"| {scenario.name} | {_pct(found.language_error)}{untested} "
            f"| {_pct(found.class_family_error)} "
            f"| {_pct(found.language_coverage)} / {_pct(found.class_coverage)} "
            f"| {found.warned} of {found.replicates} |",
            flush=True,
        )
    summary = dict(
        replicates=args.replicates,
        scale=args.scale,
        n_boot=args.n_boot,
        seconds=round(time.perf_counter() - start, 1),
        scenarios=rows,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
