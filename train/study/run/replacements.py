"""A fixed study under the rule `config.report.failed_runs = replace`
(eval/analysis/trained.py): after the study's runs, each run that did not train is
replaced by the next seed for every order of its pair on its target, in rounds like an
adaptive study's (rounds.py): each round is an ordinary run of the runner restricted
to the replacement runs, so the in-process runner and the Ray executor both train
them, and a replacement that fails too asks for one more seed.

The k-th failure of a pair of orders on a target is replaced by seed max(seeds) + k,
whoever runs the study and however often it is resumed: the same failures ask for the
same seeds. At most as many rounds as the study has seeds.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from eval.analysis.records import load_results, results_file
from eval.analysis.trained import DEFAULT_MARGIN, KEEP, REPLACE, failed_runs, order_group
from train.study.plan.plan import intermediate_paths
from train.study.run.runner import run_study

Run = tuple[tuple[str, ...], str, int]


def replacement_plan(config, records) -> list[Run]:
    """Every replacement run the failures in `records` ask for (trained or not)."""
    report = config.get("report") or {}
    failed = failed_runs(records, report.get("failure_margin", DEFAULT_MARGIN))
    base = max(config.study.seeds)
    per_group = Counter((order_group(f.path), f.target) for f in failed)
    paths = [tuple(p) for p in intermediate_paths(config.study)]
    runs = []
    for (group, target), count in sorted(per_group.items()):
        orders = [p for p in paths if order_group(p) == group] or [group]
        runs += [(p, target, base + k) for k in range(1, count + 1) for p in orders]
    return sorted(runs)


def run_replacing_failed_runs(
    config, workdir: str, shard: tuple[int, int] = (0, 1), out=print, **options
) -> dict[str, Any]:
    """The study, then (rule `replace`) rounds of replacement runs until every failed
    run has its replacement; returns the last round's summary with `replacements`."""
    summary = run_study(config, workdir, shard, out, **options)
    if (config.get("report") or {}).get("failed_runs", KEEP) != REPLACE:
        return summary
    if shard != (0, 1):
        out("replacement seeds: trained when the study runs as one process")
        return summary
    asked: list[Run] = []
    for _ in range(len(config.study.seeds)):
        path = results_file(workdir)
        records = load_results(path) if os.path.exists(path) else []
        have = {(r.path, r.target, r.seed) for r in records if r.kind == "zero_shot"}
        wanted = replacement_plan(config, records)
        missing = [run for run in wanted if run not in have]
        summary["replacements"] = wanted
        if not missing:
            break
        if missing == asked:
            raise RuntimeError(f"replacement round: its runs ended without results: {missing[:3]}")
        asked = missing
        out(f"replacement round: {len(missing)} runs (path, target, seed) for failed runs")
        extended = config.copy_and_resolve_references()
        extended.study.seeds = tuple(
            sorted(set(config.study.seeds) | {seed for _, _, seed in wanted})
        )
        summary.update(run_study(extended, workdir, shard, out, sequences=set(missing), **options))
    return summary
