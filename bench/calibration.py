"""Calibration of the ordering effect's intervals and tests by simulation, at the
study's real test sizes.

    python -m bench.calibration --replicates 250                    # docs/report.md's table
    python -m bench.calibration --replicates 20 --only "one seed;realistic" --scale 0.1
    python -m bench.calibration --replicates 250 --only "realistic" --primary-class low

Every scenario of `scenarios()` (no effect, or a planted one) is simulated
`--replicates` times (`bench.simulation.simulate`: XNLI, PAN-X, TyDiQA-GoldP and
XCOPA at their XTREME-R languages and test sizes × `--scale`, one comparison, three
seeds unless stated) and analysed by `eval.stats.ordering.ordering_effects`, the
function the report calls, with `--n-boot` draws; the statistics are handed over in
memory (`--files` writes each study folder to `--root` and reads it back, as the
report does). With `--primary-class`, that class's all-targets row is tested alone
(`config.report.primary_class`) and counted as its own level, "primary". Prints the
table (Markdown), then one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import simulation as sim
from eval import analysis
from eval.analysis import trained
from eval.stats import ordering

TARGETS = ("xnli", "panx", "tydiqa", "xcopa")
PROGRESS_EVERY = 25


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate of k in n."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Calibration:
    """Counts over the replicates of one scenario; keys name a level ("language",
    "class", "primary") and a target (or "all targets")."""

    scenario: str
    replicates: int
    tested: Counter = field(default_factory=Counter)
    covered: Counter = field(default_factory=Counter)  # the truth inside the interval
    null_tested: Counter = field(default_factory=Counter)  # rows whose truth is 0
    null_rejected: Counter = field(default_factory=Counter)  # ... whose interval excludes 0
    planted: Counter = field(default_factory=Counter)  # low-resource rows with an effect
    found: Counter = field(default_factory=Counter)  # ... flagged with the right sign
    families: Counter = field(default_factory=Counter)  # (replicate, family) pairs
    family_errors: Counter = field(default_factory=Counter)  # ... with a false flag
    flagged_untested: int = 0  # rows never tested but flagged (must stay 0)
    warned: int = 0  # replicates whose analysis carries a warning
    failed_named: int = 0  # replicates whose check names the planted failed run
    other_failed: int = 0  # runs the check names that trained (false alarms)

    def add_check(self, failed: Sequence[trained.FailedRun], scenario: sim.Scenario) -> None:
        """What the report's check of the runs (eval/analysis/trained.py) found."""
        named = {(f.path, f.target, f.seed) for f in failed}
        planted = scenario.failed_run
        if planted is not None:
            self.failed_named += (tuple(planted[0]), planted[1], planted[2]) in named
            named.discard((tuple(planted[0]), planted[1], planted[2]))
        self.other_failed += len(named)

    def add(self, found: ordering.OrderingAnalysis, scenario: sim.Scenario, langs_of) -> None:
        self.warned += bool(found.warnings)
        primary = [r for r in found.classes if r["primary"]]
        classes = [r for r in found.classes if not r["primary"]]
        for level, rows in (
            ("language", found.languages),
            ("class", classes),
            ("primary", primary),
        ):
            false_flag: dict[str, bool] = {}
            for row in rows:
                true = _truth(scenario, "class" if level == "primary" else level, row, langs_of)
                false_flag.setdefault(row["family"], False)
                if not np.isfinite(row["p_value"]):  # shown, never tested
                    self.flagged_untested += row["significant"] or row["excludes_zero"]
                    continue
                key = (level, row["target"])
                self.tested[key] += 1
                self.covered[key] += row["ci_low"] <= true <= row["ci_high"]
                wrong = true == 0 or np.sign(row["effect"]) != np.sign(true)
                false_flag[row["family"]] |= row["significant"] and wrong
                if true == 0:
                    self.null_tested[key] += 1
                    self.null_rejected[key] += row["ci_low"] > 0 or row["ci_high"] < 0
                elif row["resource_class"] == "low":
                    self.planted[key] += 1
                    self.found[key] += row["significant"] and not wrong
            self.families[level] += len(false_flag)
            self.family_errors[level] += sum(false_flag.values())

    def rate(self, hits: Counter, of: Counter, level: str, target: str | None = None) -> float:
        keys = [k for k in of if k[0] == level and (target is None or k[1] == target)]
        total = sum(of[k] for k in keys)
        return sum(hits[k] for k in keys) / total if total else math.nan

    def as_dict(self) -> dict[str, Any]:
        targets = sorted({k[1] for k in self.tested})
        out: dict[str, Any] = dict(scenario=self.scenario, replicates=self.replicates)
        for level in ("language", "class", "primary"):
            errors, families = self.family_errors[level], self.families[level]
            out[level] = dict(
                tested=sum(v for k, v in self.tested.items() if k[0] == level),
                coverage=self.rate(self.covered, self.tested, level),
                null_rejection=self.rate(self.null_rejected, self.null_tested, level),
                fwer=errors / families if families else math.nan,
                fwer_wilson=wilson(errors, families),
                power_low=self.rate(self.found, self.planted, level),
                coverage_by_target={
                    t: self.rate(self.covered, self.tested, level, t)
                    for t in targets
                    if (level, t) in self.tested
                },
                power_low_by_target={
                    t: self.rate(self.found, self.planted, level, t)
                    for t in targets
                    if (level, t) in self.planted
                },
            )
        out.update(
            flagged_untested=self.flagged_untested,
            warned=self.warned,
            failed_named=self.failed_named,
            other_failed=self.other_failed,
        )
        return out


def _truth(scenario: sim.Scenario, level: str, row: dict[str, Any], langs_of) -> float:
    if level == "language":
        return sim.truth(scenario, row["target"], row["lang"])
    if row["target"] != analysis.ALL_TARGETS:
        return float(np.mean([sim.truth(scenario, row["target"], x) for x in row["langs"]]))
    per_target = []
    for target, langs in langs_of.items():
        members = [x for x in langs if analysis.in_class(x, row["resource_class"])]
        if members:
            per_target.append(np.mean([sim.truth(scenario, target, x) for x in members]))
    return float(np.mean(per_target))


def calibrate(
    scenario: sim.Scenario,
    replicates: int,
    targets: sim.Targets = sim.CI_TARGETS,
    *,
    n_boot: int = 200,
    seed: int = 0,
    primary_class: str = "",
    margin: float = trained.DEFAULT_MARGIN,
    root: str | None = None,
    progress: Callable[[Calibration, int], None] | None = None,
) -> Calibration:
    """Simulates `replicates` studies of `scenario` and analyses each as the report
    does; with `root`, each is written there (replaced each time) and read back.
    `progress(result, done)` is called every PROGRESS_EVERY replicates."""
    result = Calibration(scenario.name, replicates)
    langs_of = {t: list(langs) for t, (langs, _) in targets.items()}
    rule = trained.REPLACE if scenario.replace_failed else trained.KEEP
    for replicate in range(replicates):
        rng = np.random.default_rng([seed, replicate])
        read = ordering.read_study_examples
        if root is None:
            records, examples = sim.simulate(scenario, rng, targets)
            read = functools.partial(_in_memory, examples)
        else:
            shutil.rmtree(root, ignore_errors=True)
            sim.write_study(root, scenario, rng, targets)
            records = analysis.load_results(analysis.results_file(root))
        # As the report does (eval/report/study.py): check the runs, apply the rule.
        failed = trained.failed_runs(records, margin)
        result.add_check(failed, scenario)
        found = ordering.ordering_effects(
            trained.apply_rule(records, failed, rule),
            root or "",
            n_boot=n_boot,
            seed=replicate,
            primary_class=primary_class,
            read=read,
        )
        result.add(found, scenario, langs_of)
        if progress is not None and (replicate + 1) % PROGRESS_EVERY == 0:
            progress(result, replicate + 1)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
    return result


def _in_memory(examples, _workdir, name, _record):
    return examples[name]


def _low_plus_two(target: str, lang: str) -> float:
    return 2.0 if analysis.language_class(lang) == "low" else 0.0


# One run that stayed at chance: the first order of the comparison on XNLI, seed 0.
FAILED_RUN = (sim.comparison_paths(0)[0], "xnli", 0)


def scenarios() -> list[sim.Scenario]:
    """The scenarios of docs/report.md's calibration table (null unless `planted`)."""
    return [
        sim.Scenario("null, realistic (seed sd 0.7 per run)"),
        sim.Scenario("null, seed effect shared across targets", shared_across_targets=True),
        sim.Scenario(
            "null, seeds heavy, few examples (sd 2, test sets / 10)",
            seed_sd=2.0,
            lang_seed_sd=1.0,
            scale=0.1,
        ),
        sim.Scenario("null, test-set noise dominates", seed_sd=0.0, lang_seed_sd=0.0),
        sim.Scenario("planted +2 on low-resource, realistic", effect=_low_plus_two),
        sim.Scenario(
            "planted +2 on low-resource, shared seeds",
            shared_across_targets=True,
            effect=_low_plus_two,
        ),
        sim.Scenario("planted +2 on low-resource, 10 seeds", seeds=10, effect=_low_plus_two),
        sim.Scenario("one seed", seeds=1),
        sim.Scenario("null, one failed run, kept", failed_run=FAILED_RUN),
        sim.Scenario(
            "planted +2 on low-resource, one failed run, kept",
            effect=_low_plus_two,
            failed_run=FAILED_RUN,
        ),
        sim.Scenario(
            "planted +2 on low-resource, one failed run, replaced",
            effect=_low_plus_two,
            failed_run=FAILED_RUN,
            replace_failed=True,
        ),
        sim.Scenario("null, no examples files (seeds only)", examples=False),
    ]


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f}"


def table_row(found: dict[str, Any]) -> str:
    lang, cls, primary = found["language"], found["class"], found["primary"]
    low, high = cls["fwer_wilson"]
    by_target = " / ".join(_pct(v) for v in cls["coverage_by_target"].values())
    return (
        f"| {found['scenario']} | {_pct(lang['null_rejection'])} | {_pct(lang['fwer'])} "
        f"| {_pct(cls['fwer'])} [{_pct(low)}, {_pct(high)}] "
        f"| {_pct(lang['coverage'])} / {_pct(cls['coverage'])} | {by_target} "
        f"| {_pct(lang['power_low'])} / {_pct(cls['power_low'])} "
        f"| {_pct(primary['fwer'])} / {_pct(primary['power_low'])} "
        f"| {found['warned']} of {found['replicates']} "
        f"| {found['failed_named']} / {found['other_failed']} |"
    )


HEADER = (
    "| scenario | language: null interval excludes 0 (%) | language FWER (%) "
    "| class FWER (%) [95 % Wilson] | coverage (%): languages / classes "
    "| class coverage (%) by target: {targets} | power, low-resource +2 (%): "
    "languages / classes | primary row (all targets, --primary-class): false flag / power "
    "(%) | warned | failed run named (replicates) / other runs named |"
    "\n|---|---|---|---|---|---|---|---|---|---|"
)


def _progress(result: Calibration, done: int) -> None:
    """The row so far, on stderr: a long run's partial counts are not lost."""
    row = dict(result.as_dict(), replicates=done)
    print(f"after {done}: {table_row(row)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=250)
    parser.add_argument("--scale", type=float, default=1.0, help="test sizes × this")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--only", default="", help="parts of scenario names, separated by ;")
    parser.add_argument("--files", action="store_true", help="write and read study folders")
    parser.add_argument(
        "--primary-class", default="", help="test this class's all-targets row alone (low)"
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=trained.DEFAULT_MARGIN,
        help="points above chance at or below which a run did not train",
    )
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "calibration"))
    args = parser.parse_args(argv)
    targets = sim.full_size_targets(args.scale, TARGETS)
    wanted = [w.strip() for w in args.only.split(";") if w.strip()]
    rows = []
    start = time.perf_counter()
    print(HEADER.format(targets=" / ".join(sorted([*TARGETS, analysis.ALL_TARGETS]))))
    for scenario in scenarios():
        if wanted and not any(w in scenario.name for w in wanted):
            continue
        found = calibrate(
            scenario,
            args.replicates,
            targets,
            n_boot=args.n_boot,
            primary_class=args.primary_class,
            margin=args.margin,
            root=args.root if args.files else None,
            progress=_progress,
        ).as_dict()
        rows.append(found)
        print(table_row(found), flush=True)
    summary = dict(
        replicates=args.replicates,
        scale=args.scale,
        n_boot=args.n_boot,
        primary_class=args.primary_class,
        margin=args.margin,
        seconds=round(time.perf_counter() - start, 1),
        cpus=os.cpu_count(),
        machine=platform.machine(),
        scenarios=rows,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
