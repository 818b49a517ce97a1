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
from train.study.plan.plan import ConfigError, intermediate_paths
from train.study.run.runner import run_study
from xlmr_flax.storage import local_path

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


def _recorded_plan(config, workdir: str) -> list[Run]:
    """The replacement runs the failures already in results.jsonl ask for."""
    path = results_file(workdir)
    return replacement_plan(config, load_results(path)) if os.path.exists(path) else []


def _with_seeds(config, runs: list[Run]):
    """The config with the replacement runs' seeds added to the study's: the study a
    replacement round (and a later run of the same command) reads back whole."""
    extended = config.copy_and_resolve_references()
    extended.study.seeds = tuple(sorted(set(config.study.seeds) | {seed for _, _, seed in runs}))
    return extended


def run_replacing_failed_runs(
    config, workdir: str, shard: tuple[int, int] = (0, 1), out=print, **options
) -> dict[str, Any]:
    """The study, then (rule `replace`) rounds of replacement runs until every failed
    run has its replacement; returns the last round's summary with `replacements`.
    Run again, the study runs with the replacement seeds it recorded, so results.jsonl
    and the report keep them from the first step on."""
    if (config.get("report") or {}).get("failed_runs", KEEP) != REPLACE:
        return run_study(config, workdir, shard, out, **options)
    if shard != (0, 1):
        out("replacement seeds: trained when the study runs as one process")
        return run_study(config, workdir, shard, out, **options)
    try:  # a gs:// workdir: results.jsonl is read where the bucket is mounted
        workdir = local_path(workdir, "--workdir")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    wanted = _recorded_plan(config, workdir)
    if wanted:  # a later run: the study's own runs and the replacements recorded so far
        study = config.study
        own = {
            (tuple(p), t, s)
            for p in intermediate_paths(study)
            for t in study.targets
            for s in study.seeds
        }
        summary = run_study(
            _with_seeds(config, wanted), workdir, shard, out, sequences=own | set(wanted), **options
        )
    else:
        summary = run_study(config, workdir, shard, out, **options)
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
        summary.update(
            run_study(
                _with_seeds(config, wanted), workdir, shard, out, sequences=set(missing), **options
            )
        )
    return summary
