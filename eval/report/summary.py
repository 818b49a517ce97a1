"""The short summary of a report: what `write_report` returns and the few lines
the commands print."""

from __future__ import annotations

import math
import os
from typing import Any

from eval import analysis as an
from eval.report.study import Study
from eval.report.text import _fmt, _short, comparison_label
from eval.report.training import summary_training

SUMMARY_PATHS = 8  # more paths than this: the summary names the best and worst only


def summarise(study: Study, out: str) -> dict[str, Any]:
    """The short summary `write_report` returns (JSON-serialisable)."""
    ordering: dict[str, dict[str, Any]] = {}
    for row in study.ordering.classes:
        if row["target"] != an.ALL_TARGETS:
            continue
        label = comparison_label(row["first"], row["second"])
        ordering.setdefault(label, {})[row["resource_class"]] = dict(
            effect=_num(row["effect"]),
            ci=[_num(row["ci_low"]), _num(row["ci_high"])],
            significant=row["significant"],
            conditional=row["conditional"],  # one seed: conditional on it, untested
            n_targets=row["n_targets"],
        )
    return dict(
        out=out,
        report=os.path.join(out, "report.md"),
        records=len(study.records),
        paths=[_short(p) for p in study.paths],
        targets=study.targets,
        seeds=study.seeds,
        average={_short(r["path"]): _num(r["mean"]) for r in study.averages},
        ordering=ordering,
        flagged=dict(
            languages=sum(r["significant"] for r in study.ordering.languages),
            classes=sum(r["significant"] for r in study.ordering.classes),
        ),
        missing_runs=len(study.missing),
        failed_stages={f.stage: f.error for f in study.failures},
        untrained=summary_training(study),
        notes=list(study.ordering.notes),
        warnings=list(study.ordering.warnings),
        families=dict(study.ordering.families),
        family_error=study.ordering.alpha,
        report_error_bound=study.ordering.report_error_bound,
    )


def _num(value: float) -> float | None:
    """JSON has no NaN: None where a value is undefined."""
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the screen."""
    lines = [
        f"report: {summary['report']} ({summary['records']} records; "
        f"{len(summary['paths'])} paths, {len(summary['targets'])} targets, "
        f"seeds {', '.join(map(str, summary['seeds'])) or '-'})"
    ]
    average = {p: v for p, v in summary["average"].items() if v is not None}
    if len(average) > SUMMARY_PATHS:  # a full study has 82 paths: the extremes only
        ranked = sorted(average, key=average.get)
        shown = {p: average[p] for p in ranked[-3:][::-1]}
        if "none" in average:
            shown["none"] = average["none"]
        shown.update({p: average[p] for p in ranked[:2]})
        averages = "  ".join(f"{p} {_fmt(v)}" for p, v in shown.items())
        lines.append(
            f"XTREME-R-style average (best 3, baseline, worst 2 of {len(average)}): {averages}"
        )
    elif average:
        averages = "  ".join(f"{p} {_fmt(v)}" for p, v in average.items())
        lines.append(f"XTREME-R-style average: {averages}")
    if summary["ordering"]:
        lines.append("ordering effect, first − second, mean over targets (95% CI; * Holm):")
        for label, by_class in summary["ordering"].items():
            parts = []
            for cls in an.CLASSES:
                if cls in by_class:
                    e = by_class[cls]
                    star = "*" if e["significant"] else "~" if e.get("conditional") else ""
                    parts.append(
                        f"{cls} {_fmt(e['effect'], 2, True)}{star} "
                        f"[{_fmt(e['ci'][0], 2)}, {_fmt(e['ci'][1], 2)}]"
                    )
            lines.append(f"  {label}: " + "; ".join(parts))
        if any(e.get("conditional") for c in summary["ordering"].values() for e in c.values()):
            lines.append("  (~: one seed; the interval is conditional on that seed)")
        flagged = summary["flagged"]
        lines.append(
            f"flagged after Holm: {flagged['languages']} per-language and "
            f"{flagged['classes']} resource-class effects ({len(summary['families'])} "
            f"families, each at {summary['family_error']:.0%}; whole report at most "
            f"{summary['report_error_bound']:.0%})"
        )
        for warning in summary["warnings"]:
            lines.append(f"warning: {warning}")
    else:
        lines.append("ordering effect: no path is present in two orders")
    for run in summary.get("untrained", {}).get("runs", []):
        lines.append(
            f"did not train: {_short(tuple(run['path']))} on {run['target']}, seed "
            f"{run['seed']} ({run['reason']}; {summary['untrained']['rule']})"
        )
    for stage, error in summary.get("failed_stages", {}).items():
        lines.append(f"failed stage {stage}: {error} (its cells are missing)")
    if summary["missing_runs"]:
        lines.append(f"missing: {summary['missing_runs']} (path, target, seed) entries")
    return "\n".join(lines)
