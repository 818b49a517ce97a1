"""An adaptive study, round by round (docs/adaptive.md): record the design before
anything runs, then repeat — record every look whose runs are evaluated, and train
and evaluate only the runs (path, target, seed) that the comparisons still open need
for the next look — until every comparison has stopped.

    python -m train --config configs/smoke.py:adaptive --workdir runs/adaptive

The decisions are the study record's (eval.stats.adaptive_study: `next_round`), appended once per
look: a resumed run, or a second one, continues from the last recorded look and
never decides again. Each round is an ordinary run of the runner restricted to its
runs, so its stages are content-addressed like any other and shared with a fixed
study of the same config.
"""

from __future__ import annotations

from typing import Any

from eval.analysis.trained import DEFAULT_MARGIN, KEEP
from eval.report import format_summary, write_report
from eval.stats.adaptive_study import DesignChanged, next_round, plan_design, record_design
from train.study.plan.plan import ConfigError, intermediate_paths
from train.study.run.runner import run_study
from train.study.run.workdir import prepare_workdir
from xlmr_flax.sharding import is_primary
from xlmr_flax.storage import local_path

ADAPTIVE = "adaptive"


def design_values(config) -> dict[str, Any] | None:
    """The adaptive design of `config.design` (mode "adaptive"), without its mode;
    None for a fixed study."""
    block = config.get("design")
    if not block or block.get("mode", "fixed") == "fixed":
        return None
    if block.get("mode") != ADAPTIVE:
        raise ConfigError(f"config.design.mode: expected fixed or adaptive, got {block.mode!r}")
    return {k: v for k, v in dict(block).items() if k not in ("mode", "pilot")}


def planned_design(config) -> dict[str, Any]:
    """The study record of the config's design (ConfigError names a bad field)."""
    try:
        return plan_design(
            design_values(config),
            intermediate_paths(config.study),
            list(config.study.targets),
            list(config.study.seeds),
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None


def run_adaptive_study(
    config, workdir: str, shard: tuple[int, int] = (0, 1), out=print, **options
) -> dict[str, Any]:
    """Rounds until every comparison stopped; returns the last round's summary with
    the rounds run and the comparisons' states."""
    if shard != (0, 1):
        raise ConfigError("an adaptive study runs as one process: its rounds follow its looks")
    try:
        workdir = local_path(workdir, "--workdir")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    planned = planned_design(config)
    prepare_workdir(workdir)
    try:
        record_design(workdir, planned)
    except DesignChanged as err:
        raise ConfigError(str(err)) from None
    report = config.get("report") or {}
    n_boot, seed = report.get("n_boot", 1000), report.get("seed", 0)
    rule = report.get("failed_runs", KEEP)
    margin = report.get("failure_margin", DEFAULT_MARGIN)
    summary: dict[str, Any] = {"rounds": 0}
    asked: list = []
    while True:
        try:
            state = next_round(
                workdir,
                n_boot=n_boot,
                seed=seed,
                margin=margin,
                rule=rule,
            )
        except DesignChanged as err:  # looks.jsonl of another design, or cut short
            raise ConfigError(str(err)) from None
        counts: dict[str, int] = {}
        for row in state.rows:
            counts[row["state"]] = counts.get(row["state"], 0) + 1
        out(f"adaptive: {len(state.looks)} of {len(planned['design']['looks'])} looks, {counts}")
        if state.finished or not state.next_runs:
            break
        if state.next_runs == asked:
            raise RuntimeError(
                f"adaptive round: its runs ended without results for {state.waiting[:3]}"
            )
        asked = state.next_runs
        out(f"adaptive round {summary['rounds'] + 1}: {len(asked)} runs (path, target, seed)")
        summary.update(run_study(config, workdir, shard, out, sequences=set(asked), **options))
        summary["rounds"] += 1
    summary["states"] = counts
    if is_primary() and summary["rounds"]:  # the report with the last look recorded
        written = write_report(
            workdir,
            n_boot=n_boot,
            seed=seed,
            failed_runs=rule,
            failure_margin=margin,
        )
        out(format_summary(written))
    return summary
