"""Everything the report shows, computed once from the study's records (`Study`),
and how its zero-shot scores were obtained (split and gold per target)."""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eval import analysis as an
from eval.analysis.records import StageFailure, load_failures, load_goodput
from eval.analysis.trained import (
    DEFAULT_MARGIN,
    KEEP,
    FailedRun,
    apply_rule,
    check_rule,
    failure_rates,
)
from eval.analysis.trained import failed_runs as failed_runs_of
from eval.stats import ordering as od


@dataclass
class Study:
    """Everything the report shows, computed once."""

    workdir: str
    records: list[an.Record]
    scores: dict[an.RunKey, float]
    incomplete: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    averages: list[dict[str, Any]]
    gains: list[dict[str, Any]]
    gains_class: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    ordering: od.OrderingAnalysis
    forgetting: list[dict[str, Any]]
    alignment: list[dict[str, Any]]
    alignment_class: list[dict[str, Any]]
    failures: list[StageFailure] = dataclasses.field(default_factory=list)  # last run's
    goodput: dict[str, Any] | None = None  # where the last run's time went
    # Runs that did not train (eval/analysis/trained.py) and the rule applied to them.
    untrained: list[FailedRun] = dataclasses.field(default_factory=list)
    failure_rates: dict[str, Any] = dataclasses.field(
        default_factory=lambda: dict(paths=[], pairs=[])
    )
    failure_rule: str = KEEP
    failure_margin: float = DEFAULT_MARGIN

    @functools.cached_property
    def paths(self) -> list[an.Path]:
        return sorted({k[0] for k in self.scores}, key=an.path_order)

    @functools.cached_property
    def targets(self) -> list[str]:
        return sorted({k[1] for k in self.scores})

    @functools.cached_property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.records})

    @functools.cached_property
    def comparisons(self) -> list[tuple[an.Path, an.Path]]:
        return sorted({(r["first"], r["second"]) for r in self.ordering.languages})


def analyse(
    workdir: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    test_one_seed: bool = False,
    primary_class: str = "",
    failed_runs: str = KEEP,
    failure_margin: float = DEFAULT_MARGIN,
) -> Study:
    """Loads WORKDIR/results.jsonl and computes every table of the report
    (`test_one_seed`, `primary_class`: see `eval.stats.ordering.ordering_effects`).
    Runs that did not train are found with `failure_margin` and the ordering effects
    rest on the records the rule `failed_runs` keeps (eval/analysis/trained.py)."""
    check_rule(failed_runs, failure_margin, "failed runs")
    records = an.load_results(an.results_file(workdir))
    untrained = failed_runs_of(records, failure_margin)
    scores, incomplete = an.headline_scores(records, "zero_shot")
    cells = an.summarise_seeds(scores)
    gains = an.gains_over_baseline(cells)
    alignment = an.alignment_table(records)
    return Study(
        workdir=workdir,
        records=records,
        scores=scores,
        incomplete=incomplete,
        cells=cells,
        tasks=an.task_scores(cells),
        averages=an.path_averages(scores),
        gains=gains,
        gains_class=an.gains_by_class(gains),
        missing=an.find_missing(records),
        ordering=od.ordering_effects(
            apply_rule(records, untrained, failed_runs),
            workdir,
            n_boot=n_boot,
            seed=seed,
            test_one_seed=test_one_seed,
            primary_class=primary_class,
        ),
        forgetting=an.forgetting(records),
        alignment=alignment,
        alignment_class=an.alignment_by_class(alignment),
        failures=load_failures(workdir),
        goodput=load_goodput(workdir),
        untrained=untrained,
        failure_rates=failure_rates(records, untrained),
        failure_rule=failed_runs,
        failure_margin=failure_margin,
    )


def _split_gold(study: Study) -> dict[str, set[tuple[str, str]]]:
    """target → {(split, gold origin)} of its zero-shot records."""
    found = defaultdict(set)
    for r in study.records:
        if r.kind == "zero_shot":
            found[r.target].add((r.split or "test", r.gold or "raw"))
    return found


def _splits_line(study: Study) -> str:
    """A short line for plot titles: the targets grouped by split and gold."""
    groups = defaultdict(list)
    for target, pairs in sorted(_split_gold(study).items()):
        for pair in sorted(pairs):
            groups[pair].append(target)
    return "; ".join(f"{s} ({g}): {', '.join(t)}" for (s, g), t in sorted(groups.items()))


def _scored_on(study: Study) -> list[str]:
    """Per target, the split its zero-shot scores come from and the gold's origin."""
    found = _split_gold(study)
    return [
        f"{target} " + ", ".join(f"{split} ({gold})" for split, gold in sorted(found[target]))
        for target in study.targets
        if found[target]
    ]
