"""The report of an ordering study: Markdown, CSV tables and PNG plots.

    python -m eval report --workdir runs/x [--out runs/x/report] [--n-boot 1000] [--seed 0]

Reads WORKDIR/results.jsonl (and the per-example statistics it points to) and
writes OUT (default WORKDIR/report) whole: report.md, the CSV tables and the plots
that docs/report.md describes. A partial study is reported as far as it goes, with
what is missing listed. The folder is built beside OUT and renamed into place, so a
failed report never leaves a half-written one; an existing OUT is replaced only if
it is an earlier report (or empty).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import functools
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval import analysis as an
from eval import ordering as od
from xlmr_flax.languages import RESOURCE_CLASSES

MARKER = ".xlmr-flax-report"  # names a folder this module wrote, so it may be replaced
MAX_ROWS = 50  # longer lists in report.md are cut; the CSV files hold every row
SUMMARY_PATHS = 8  # more paths than this: the summary names the best and worst only
ALIGNMENT_COLUMNS = 8  # paths shown per language in report.md's alignment table


class ReportError(RuntimeError):
    """The report cannot be written where asked."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, help="the study's folder (has results.jsonl)")
    parser.add_argument("--out", help="report folder (default: WORKDIR/report), replaced whole")
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def run(args: argparse.Namespace) -> int:
    """Writes the report; prints its summary. Exit status 1 on unreadable results."""
    try:
        summary = write_report(args.workdir, args.out, n_boot=args.n_boot, seed=args.seed)
    except (FileNotFoundError, an.ResultsError, ReportError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m eval.report ...`, the same as `python -m eval report ...`."""
    parser = argparse.ArgumentParser(prog="python -m eval report", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


# ------------------------------------------------------------------------ analysis


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


def analyse(workdir: str, *, n_boot: int = 1000, seed: int = 0) -> Study:
    """Loads WORKDIR/results.jsonl and computes every table of the report."""
    records = an.load_results(os.path.join(workdir, "results.jsonl"))
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
        ordering=od.ordering_effects(records, workdir, n_boot=n_boot, seed=seed),
        forgetting=an.forgetting(records),
        alignment=alignment,
        alignment_class=an.alignment_by_class(alignment),
    )


def write_report(
    workdir: str, out: str | None = None, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Analyses the study in `workdir` and writes the report folder `out` (default
    WORKDIR/report) whole; returns the summary `format_summary` prints."""
    if n_boot < 2:
        raise ValueError(f"--n-boot must be at least 2, got {n_boot}")
    out = os.path.abspath(out or os.path.join(workdir, "report"))
    _check_replaceable(out)
    study = analyse(workdir, n_boot=n_boot, seed=seed)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".report-partial-", dir=parent)
    try:
        files = write_tables(study, staging)
        files += write_plots(study, staging)
        markdown = render_markdown(study, files, n_boot, seed)
        _write_text(os.path.join(staging, "report.md"), markdown)
        files.append("report.md")
        manifest = {"written_by": "eval.report", "files": sorted(files)}
        _write_text(os.path.join(staging, MARKER), json.dumps(manifest, indent=1))
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summarise(study, out)


def _check_replaceable(out: str) -> None:
    """Refuses an existing `out` that is neither empty nor an earlier report."""
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    if os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
        raise ReportError(
            f"{out}: exists and is not a report written by `python -m eval report` "
            "(no marker file); choose another --out or move it away"
        )


def _move_into_place(staging: str, out: str) -> None:
    """Renames `staging` to `out`; an earlier report is moved aside first and removed
    only once the new one is in place."""
    _check_replaceable(out)  # again: something may have appeared while we analysed
    if not os.path.exists(out):
        os.rename(staging, out)
        return
    old = tempfile.mkdtemp(prefix=".report-old-", dir=os.path.dirname(out))
    os.rmdir(old)  # a fresh unused name: rename needs the target to be absent
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# -------------------------------------------------------------------------- summary


def _short(path: Sequence[str]) -> str:
    return an.path_key(path)


def comparison_label(first: Sequence[str], second: Sequence[str]) -> str:
    """'mnli>squad_v1 vs squad_v1>mnli' (effect = first − second)."""
    return f"{_short(first)} vs {_short(second)}"


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
                    star = "*" if e["significant"] else ""
                    parts.append(
                        f"{cls} {_fmt(e['effect'], 2, True)}{star} "
                        f"[{_fmt(e['ci'][0], 2)}, {_fmt(e['ci'][1], 2)}]"
                    )
            lines.append(f"  {label}: " + "; ".join(parts))
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
    if summary["missing_runs"]:
        lines.append(f"missing: {summary['missing_runs']} (path, target, seed) entries")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- tables


def _cell(value: Any) -> str:
    """One CSV field: paths as 'a>b', lists space-separated, NaN/None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return an.path_key(value)
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(value) else f"{float(value):.6g}"
    return str(value)


def _write_csv(directory: str, name: str, rows: Sequence[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    _write_text(os.path.join(directory, name), buffer.getvalue())
    return name


EFFECT_COLUMNS = (
    "effect",
    "ci_low",
    "ci_high",
    "se",
    "se_seeds",
    "se_examples",
    "df",
    "p_value",
    "p_holm",
    "ci_bonf_low",
    "ci_bonf_high",
    "excludes_zero",
    "significant",
    "family",
    "family_size",
)


def write_tables(study: Study, directory: str) -> list[str]:
    """Every CSV table; returns the file names."""
    scores = [
        dict(path=k[0], target=k[1], lang=k[2], seed=k[3], score=v)
        for k, v in sorted(
            study.scores.items(), key=lambda kv: (an.path_order(kv[0][0]), kv[0][1:])
        )
    ]
    metrics = sorted(
        (r for r in study.records if r.kind == "zero_shot"),
        key=lambda r: (
            an.path_order(r.path),
            r.target,
            an.language_order(r.lang),
            r.metric,
            r.seed,
        ),
    )
    metric_rows = _metric_summary(metrics)
    origin = {}  # (target, lang) → its split and gold, a column of every score table
    for r in metrics:
        origin[(r.target, r.lang)] = dict(split=r.split or "test", gold=r.gold or "raw")

    def placed(rows):
        return [{**row, **origin.get((row["target"], row["lang"]), {})} for row in rows]

    return [
        _write_csv(
            directory,
            "scores.csv",
            placed(study.cells),
            (
                "path",
                "target",
                "lang",
                "split",
                "gold",
                "resource_class",
                "mean",
                "sd",
                "n_seeds",
                "seeds",
            ),
        ),
        _write_csv(
            directory,
            "scores_by_seed.csv",
            placed(scores),
            ("path", "target", "lang", "split", "gold", "seed", "score"),
        ),
        _write_csv(
            directory,
            "metrics.csv",
            placed(metric_rows),
            ("path", "target", "lang", "split", "gold", "metric", "mean", "sd", "n_seeds"),
        ),
        _write_csv(
            directory,
            "task_scores.csv",
            study.tasks,
            ("path", "target", "mean", "n_langs", *RESOURCE_CLASSES),
        ),
        _write_csv(
            directory,
            "average.csv",
            study.averages,
            ("path", "mean", "sd", "n_seeds", "n_tasks", "tasks"),
        ),
        _write_csv(
            directory,
            "gains.csv",
            study.gains,
            ("path", "target", "lang", "resource_class", "score", "baseline", "gain"),
        ),
        _write_csv(
            directory,
            "gains_by_class.csv",
            study.gains_class,
            ("path", "target", "resource_class", "gain", "n_langs"),
        ),
        _write_csv(
            directory,
            "ordering_effects.csv",
            study.ordering.languages,
            (
                "first",
                "second",
                "target",
                "lang",
                "resource_class",
                "cc100_gib",
                *EFFECT_COLUMNS,
                "n_seeds",
                "seeds",
                "n_examples",
                "resampling",
            ),
        ),
        _write_csv(
            directory,
            "ordering_by_class.csv",
            study.ordering.classes,
            (
                "first",
                "second",
                "target",
                "resource_class",
                "n_langs",
                "langs",
                *EFFECT_COLUMNS,
                "n_seeds",
                "resampling",
            ),
        ),
        _write_csv(
            directory,
            "forgetting.csv",
            study.forgetting,
            (
                "task",
                "before",
                "after",
                "trained_after",
                "before_mean",
                "before_sd",
                "after_mean",
                "after_sd",
                "forgetting",
                "forgetting_sd",
                "n_seeds",
            ),
        ),
        _write_csv(
            directory,
            "alignment.csv",
            study.alignment,
            ("path", "lang", "resource_class", "mean", "sd", "n_seeds", "change"),
        ),
        _write_csv(
            directory,
            "alignment_by_class.csv",
            study.alignment_class,
            ("path", "resource_class", "mean", "change", "n_langs"),
        ),
        _write_csv(
            directory, "missing.csv", study.missing, ("path", "target", "seed", "languages")
        ),
    ]


def _metric_summary(records: Sequence[an.Record]) -> list[dict[str, Any]]:
    """Mean ± sd over seeds of every reported metric (not only the headline)."""
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        grouped[(r.path, r.target, r.lang, r.metric)].append(r.value)
    rows = []
    for (path, target, lang, metric), values in grouped.items():
        mean, sd = an.mean_sd(values)
        rows.append(
            dict(
                path=path,
                target=target,
                lang=lang,
                metric=metric,
                mean=mean,
                sd=sd,
                n_seeds=len(values),
            )
        )
    return rows


# ----------------------------------------------------------------------------- plots

CLASS_COLOURS = {"low": "#d95f02", "mid": "#7570b3", "high": "#1b9e77", "unknown": "#999999"}


def _pyplot():
    """matplotlib's pyplot on the Agg backend (files only), imported when needed so
    that `python -m eval --help` stays fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _file_part(first: Sequence[str], second: Sequence[str]) -> str:
    """A file-name-safe label of a comparison."""
    label = f"{_short(first)}__vs__{_short(second)}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", label.replace(">", "-"))


def write_plots(study: Study, directory: str) -> list[str]:
    """Per comparison: heatmap, per-language bars, effect vs CC-100 size. A full
    study has dozens of comparisons: they are drawn by one process per CPU."""
    if not study.ordering.languages:
        return []
    jobs, scored = [], _splits_line(study)
    for first, second in study.comparisons:
        rows = [r for r in study.ordering.languages if (r["first"], r["second"]) == (first, second)]
        classes = [
            r for r in study.ordering.classes if (r["first"], r["second"]) == (first, second)
        ]
        title = f"score({' → '.join(first)}) − score({' → '.join(second)})\n{scored}"
        plotted = [{k: r[k] for k in PLOTTED if k in r} for r in rows]
        plotted_classes = [{k: r[k] for k in PLOTTED if k in r} for r in classes]
        jobs.append((directory, _file_part(first, second), title, plotted, plotted_classes))
    workers = min(len(jobs), os.cpu_count() or 1, MAX_PLOT_WORKERS)
    if workers < 2:
        return [name for job in jobs for name in _comparison_plots(job)]
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return [name for names in pool.map(_comparison_plots, jobs) for name in names]


# What the plots read of a row (the rest need not travel to the plotting processes).
PLOTTED = ("target", "lang", "resource_class", "effect", "ci_low", "ci_high", "significant",
           "cc100_gib")  # fmt: skip
MAX_PLOT_WORKERS = 8


def _comparison_plots(job: tuple) -> list[str]:
    directory, part, title, rows, classes = job
    plt = _pyplot()
    files = []
    for name, figure in (
        (f"ordering_heatmap_{part}.png", _heatmap(plt, classes, title)),
        (f"ordering_languages_{part}.png", _language_bars(plt, rows, title)),
        (f"ordering_vs_cc100_{part}.png", _versus_cc100(plt, rows, title)),
    ):
        figure.savefig(os.path.join(directory, name), dpi=100)
        plt.close(figure)
        files.append(name)
    return files


def _heatmap(plt, classes: Sequence[dict], title: str):
    targets = [*sorted({r["target"] for r in classes} - {an.ALL_TARGETS}), an.ALL_TARGETS]
    values = np.full((len(targets), len(an.CLASSES)), np.nan)
    stars = np.zeros(values.shape, dtype=bool)
    for r in classes:
        i, j = targets.index(r["target"]), an.CLASSES.index(r["resource_class"])
        values[i, j], stars[i, j] = r["effect"], r["significant"]
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    limit = limit if limit > MIN_RANGE else 1.0  # all zero (or rounding noise)
    height = 1.0 + 0.45 * len(targets)
    figure, axes = plt.subplots(figsize=(6.5, height))
    figure.subplots_adjust(left=0.2, right=0.95, top=1 - 0.55 / height, bottom=0.35 / height)
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")  # grey: no language
    image = axes.imshow(
        np.ma.masked_invalid(values), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto"
    )
    for i in range(len(targets)):
        for j in range(len(an.CLASSES)):
            if np.isfinite(values[i, j]):
                text = f"{values[i, j]:+.2f}{'*' if stars[i, j] else ''}"
                axes.text(j, i, text, ha="center", va="center", fontsize=8)
    axes.set_xticks(range(len(an.CLASSES)), an.CLASSES)
    axes.set_yticks(range(len(targets)), targets)
    axes.set_title(f"{title}\nmean over the languages of each class (* Holm p < 0.05)", fontsize=9)
    figure.colorbar(image, ax=axes, label="ordering effect (points)")
    return figure


def _language_bars(plt, rows: Sequence[dict], title: str):
    targets = sorted({r["target"] for r in rows})
    height = 2.3 * len(targets) + 1.0
    figure, axes_list = plt.subplots(
        len(targets),
        1,
        figsize=(max(6.0, 0.28 * _most_languages(rows) + 2), height),
        squeeze=False,
    )
    # Fixed margins (in inches): a constrained layout of ten axes of 48 labelled bars
    # took most of a full study's report time.
    figure.subplots_adjust(
        left=0.9 / figure.get_figwidth(),
        right=1 - 0.2 / figure.get_figwidth(),
        top=1 - 1.0 / height,
        bottom=0.6 / height,
        hspace=0.45,
    )
    for axes, target in zip(axes_list[:, 0], targets, strict=True):
        group = sorted(
            (r for r in rows if r["target"] == target), key=lambda r: an.language_order(r["lang"])
        )
        x = np.arange(len(group))
        effect = np.array([r["effect"] for r in group])
        error = np.array(
            [
                [r["effect"] - r["ci_low"] for r in group],
                [r["ci_high"] - r["effect"] for r in group],
            ]
        )
        colours = [CLASS_COLOURS[r["resource_class"]] for r in group]
        axes.bar(x, effect, color=colours, yerr=np.maximum(error, 0), capsize=2, width=0.7)
        for k, r in enumerate(group):
            if r["significant"]:
                axes.text(k, r["ci_high"], "*", ha="center", va="bottom")
        axes.axhline(0, color="black", linewidth=0.6)
        axes.set_xticks(x, [r["lang"] for r in group], fontsize=7)
        axes.set_ylabel(target)
        axes.margins(y=0.15)  # room for the stars above the intervals
        _readable_range(axes, group)
    present = [c for c in CLASS_COLOURS if any(r["resource_class"] == c for r in rows)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=CLASS_COLOURS[c]) for c in present]
    figure.legend(handles, present, fontsize=7, ncols=len(present), loc="lower center")
    figure.suptitle(f"{title}\nper language, 95% CI (* Holm p < 0.05)", fontsize=9)
    return figure


# Effects are in points: a y range narrower than this is zero plus rounding noise,
# which matplotlib would stretch to axes labelled in units of 1e-16.
MIN_RANGE = 1e-6


def _readable_range(axes, rows: Sequence[dict]) -> None:
    """Gives an axis whose effects and intervals have (almost) no spread a range of
    ±1 point around them (matplotlib would show ±0.05, or 1e-16 for rounding noise)."""
    values = [v for r in rows for v in (r["effect"], r["ci_low"], r["ci_high"])]
    values = [v for v in values if math.isfinite(v)]
    if values and max(values) - min(values) < MIN_RANGE:
        middle = (max(values) + min(values)) / 2
        axes.set_ylim(middle - 1.0, middle + 1.0)


def _most_languages(rows: Sequence[dict]) -> int:
    return max(Counter(r["target"] for r in rows).values())


def _versus_cc100(plt, rows: Sequence[dict], title: str):
    figure, axes = plt.subplots(figsize=(7.0, 4.5))
    figure.subplots_adjust(left=0.1, right=0.97, top=0.92, bottom=0.11)
    sizes = [r["cc100_gib"] for r in rows if r["cc100_gib"]]
    # Languages XLM-R was not pretrained on have no size: they go left of the smallest.
    absent_x = (min(sizes) if sizes else 1.0) / 4
    colours = plt.get_cmap("tab10")
    for k, target in enumerate(sorted({r["target"] for r in rows})):
        group = [r for r in rows if r["target"] == target]
        x = np.array([r["cc100_gib"] or absent_x for r in group])
        y = np.array([r["effect"] for r in group])
        error = np.maximum(
            [
                [r["effect"] - r["ci_low"] for r in group],
                [r["ci_high"] - r["effect"] for r in group],
            ],
            0,
        )
        axes.errorbar(
            x,
            y,
            yerr=error,
            fmt="o",
            markersize=4,
            alpha=0.75,
            elinewidth=0.6,
            color=colours(k % 10),
            label=target,
        )
        if len(rows) <= 80:
            for xi, yi, r in zip(x, y, group, strict=True):
                axes.annotate(
                    r["lang"], (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points"
                )
    axes.set_xscale("log")
    axes.axhline(0, color="black", linewidth=0.6)
    _readable_range(axes, rows)
    if any(not r["cc100_gib"] for r in rows):
        axes.axvline(absent_x * 1.6, color="grey", linewidth=0.5, linestyle=":")
        axes.text(absent_x, axes.get_ylim()[1], "not in\nCC-100", fontsize=7, va="top", ha="center")
    axes.set_xlabel("the language's CC-100 data in XLM-R pretraining (GiB, log scale)")
    axes.set_ylabel("ordering effect (points, 95% CI)")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, ncols=2)
    return figure


# -------------------------------------------------------------------------- markdown


def _fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _pm(mean: float, sd: float, digits: int = 1) -> str:
    if math.isfinite(sd):
        return f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return f"{mean:.{digits}f}"


def _label(path: Sequence[str]) -> str:
    return " → ".join(path) if path else "(none)"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return [*lines, ""]


def _cut(rows: Sequence, csv_name: str) -> tuple[Sequence, list[str]]:
    """The first MAX_ROWS rows, and a line pointing to the CSV when rows were cut."""
    if len(rows) <= MAX_ROWS:
        return rows, []
    return rows[:MAX_ROWS], [f"({len(rows) - MAX_ROWS} more rows in `{csv_name}`.)", ""]


def _effect_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    marks = "*" if row["significant"] else "†" if row["excludes_zero"] else ""
    interval = f"[{_fmt(row['ci_low'], 2)}, {_fmt(row['ci_high'], 2)}]"
    return f"{_fmt(row['effect'], 2, True)}{marks} {interval}"


FILE_DESCRIPTIONS = {
    "scores.csv": "headline score per path, target and language: mean, sd, seeds",
    "scores_by_seed.csv": "headline score of every run",
    "metrics.csv": "every reported metric per path, target and language: mean, sd, seeds",
    "task_scores.csv": "per path and target: mean over languages, overall and per class",
    "average.csv": "XTREME-R-style average per path",
    "gains.csv": "per language: path score − baseline score",
    "gains_by_class.csv": "mean gain over the languages of each class",
    "ordering_effects.csv": "per comparison, target and language: effect, intervals, p-values",
    "ordering_by_class.csv": "per comparison, target and class: effect, intervals, p-values",
    "forgetting.csv": "dev score after a task's stage and after later stages",
    "alignment.csv": "retrieval accuracy of each stage's encoder per language",
    "alignment_by_class.csv": "the same, mean over the languages of each class",
    "missing.csv": "absent runs and languages",
    "ordering_heatmap_": "ordering effect by target and resource class",
    "ordering_languages_": "ordering effect per language with 95% intervals",
    "ordering_vs_cc100_": "ordering effect against the language's CC-100 size",
}


def render_markdown(study: Study, files: Sequence[str], n_boot: int, seed: int) -> str:
    """report.md."""
    kinds = Counter(r.kind for r in study.records)
    lines = [
        "# Intermediate-task order: report",
        "",
        f"Study folder `{os.path.abspath(study.workdir)}`: {len(study.records)} records in "
        f"results.jsonl ({', '.join(f'{kinds[k]} {k}' for k in an.KINDS)}). Scores are "
        "percentages; a task's score is its XTREME-R headline (QA: mean of exact match and "
        "F1; UD-POS, PAN-X: F1; XNLI, XCOPA, Tatoeba: accuracy; LAReQA, Mewsli-X: mAP@20). "
        f"Bootstrap: {n_boot} resamples, seed {seed}. docs/report.md explains every table.",
        "",
    ]
    lines += _section_run(study)
    lines += _section_missing(study)
    lines += _section_scores(study)
    lines += _section_gains(study)
    lines += _section_ordering(study, files)
    lines += _section_forgetting(study)
    lines += _section_alignment(study)
    lines += ["## Files", ""]
    for name in sorted(files):
        what = FILE_DESCRIPTIONS.get(name) or next(
            (text for prefix, text in FILE_DESCRIPTIONS.items() if name.startswith(prefix)), ""
        )
        lines.append(f"- `{name}`: {what}" if what else f"- `{name}`")
    return "\n".join(lines) + "\n"


def _section_run(study: Study) -> list[str]:
    lines = ["## What was run", ""]
    if not study.scores:
        return [*lines, "No zero-shot results yet.", ""]
    langs = defaultdict(set)
    for _, target, lang, _ in study.scores:
        langs[target].add(lang)
    lines.append(f"- **Paths** ({len(study.paths)}): " + ", ".join(map(_label, study.paths)))
    lines.append(
        "- **Targets**: " + ", ".join(f"{t} ({len(langs[t])} languages)" for t in study.targets)
    )
    lines.append(f"- **Seeds**: {', '.join(map(str, study.seeds))}")
    lines.append("- **Scored on** (split, gold): " + "; ".join(_scored_on(study)))
    comparisons = [f"{_label(a)} vs {_label(b)}" for a, b in study.comparisons]
    lines.append("- **Orders compared**: " + ("; ".join(comparisons) or "none"))
    return [*lines, ""]


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


def _section_missing(study: Study) -> list[str]:
    lines = ["## What is missing", ""]
    found = False
    if study.missing:
        found = True
        lines += [
            "Zero-shot runs absent although the study has their path, target and seed "
            "elsewhere (`all`: the whole run; else the languages it lacks):",
            "",
        ]
        shown, more = _cut(study.missing, "missing.csv")
        lines += _table(
            ("path", "target", "seed", "languages"),
            [(_label(m["path"]), m["target"], m["seed"], " ".join(m["languages"])) for m in shown],
        )
        lines += more
    if study.ordering.unmatched:
        found = True
        lines.append(
            "- Paths present in one order only (no ordering effect): "
            + ", ".join(map(_label, study.ordering.unmatched))
        )
    if study.incomplete:
        found = True
        examples = "; ".join(
            f"{_label(i['path'])} {i['target']} {i['lang']} seed {i['seed']} lacks "
            + ", ".join(i["missing"])
            for i in study.incomplete[:5]
        )
        lines.append(
            f"- {len(study.incomplete)} run(s) lack a metric of their headline score "
            f"and are left out: {examples}"
        )
    unknown = sorted({r.lang for r in study.records if an.language_class(r.lang) == "unknown"})
    if unknown:
        found = True
        lines.append(f"- Languages without resource facts (in no class): {', '.join(unknown)}")
    for note in study.ordering.notes:
        found = True
        lines.append(f"- {note}")
    if not study.gains and study.scores:
        found = True
        lines.append("- No baseline path (no intermediate task): no gains are reported.")
    if not study.forgetting:
        found = True
        lines.append(
            "- No dev score measured both right after a task and after a later stage: "
            "no forgetting is reported."
        )
    if not study.alignment:
        found = True
        lines.append("- No alignment records.")
    if not found:
        lines.append("Nothing: every path has every target, seed and language.")
    return [*lines, ""]


def _section_scores(study: Study) -> list[str]:
    if not study.scores:
        return []
    lines = ["## Scores", "", "### XTREME-R-style average per path", ""]
    lines += [
        "Mean over target tasks of the mean over languages (English included) of the seed "
        "means; ± the sd over seeds of the same average. Paths with fewer tasks than others "
        "are not comparable with them.",
        "",
    ]
    lines += _table(
        ("path", "average", "seeds", "tasks"),
        [
            (_label(r["path"]), _pm(r["mean"], r["sd"]), r["n_seeds"], r["n_tasks"])
            for r in study.averages
        ],
    )
    lines += [
        "### Task scores",
        "",
        "Mean over languages of the seed means "
        "(per language and seed: `scores.csv`, `scores_by_seed.csv`).",
        "",
    ]
    task = {(r["path"], r["target"]): r["mean"] for r in study.tasks}
    lines += _table(
        ("path", *study.targets),
        [
            (_label(p), *(_fmt(task.get((p, t), math.nan)) for t in study.targets))
            for p in study.paths
        ],
    )
    return lines


def _section_gains(study: Study) -> list[str]:
    if not study.gains:
        return []
    lines = [
        "## Gains over no intermediate task",
        "",
        "Task score of the path − task score of the baseline (mean over the languages both "
        "have); the class columns average over targets the mean gain over each class's "
        "languages (English left out). Per language: `gains.csv`, `gains_by_class.csv`.",
        "",
    ]
    gain = {(r["path"], r["target"], r["resource_class"]): r["gain"] for r in study.gains_class}
    by_task: dict[tuple, list[float]] = defaultdict(list)
    for g in study.gains:
        by_task[(g["path"], g["target"])].append(g["gain"])
    rows = []
    for path in study.paths:
        if path == ():
            continue
        per_target = []
        for t in study.targets:
            values = by_task.get((path, t))
            per_target.append(_fmt(float(np.mean(values)), 1, True) if values else "–")
        classes = [_fmt(gain.get((path, an.ALL_TARGETS, c), math.nan), 1, True) for c in an.CLASSES]
        rows.append((_label(path), *per_target, *classes))
    lines += _table(("path", *study.targets, *an.CLASSES), rows)
    return lines


def _section_ordering(study: Study, files: Sequence[str]) -> list[str]:
    lines = ["## Ordering effect", ""]
    if not study.ordering.languages:
        return [*lines, "No path is present in two orders with a common seed.", ""]
    families = study.ordering.families
    lines += [
        "Effect = score(first order) − score(second order), mean over the seeds both orders "
        "have; positive: the first order transfers better. Its standard error adds two "
        "parts: seed-to-seed variation of the per-seed differences (s²/S) and test-set "
        "sampling shared by the seeds (examples resampled identically for both orders and "
        "every seed); intervals are 95 % t intervals with Welch–Satterthwaite degrees of "
        "freedom (docs/report.md). Class columns average the languages of a class seed by "
        "seed (English left out); `all targets` averages the targets' class means.",
        "",
        f"`*`: significant after Holm's correction (α = {study.ordering.alpha:g}) within "
        f"its family; `†`: the unadjusted interval excludes zero but the effect does not "
        f"survive the correction. {len(families)} families, each with family-wise error "
        f"at most {study.ordering.alpha:.0%}, so the whole report's chance of any false "
        f"flag is at most {study.ordering.report_error_bound:.0%} (at most α per family, "
        "added up): "
        + _listed_families(families)
        + ". Effects without per-example statistics are shown but never tested.",
        "",
    ]
    for warning in study.ordering.warnings:
        lines += [f"**Warning:** {warning}.", ""]
    for first, second in study.comparisons:
        label = f"{_label(first)} vs {_label(second)}"
        part = _file_part(first, second)
        lines += [f"### {label}", ""]
        if f"ordering_heatmap_{part}.png" in files:
            lines += [f"![ordering effect by class]({f'ordering_heatmap_{part}.png'})", ""]
        classes = {
            (r["target"], r["resource_class"]): r
            for r in study.ordering.classes
            if (r["first"], r["second"]) == (first, second)
        }
        targets = [*sorted({t for t, _ in classes} - {an.ALL_TARGETS}), an.ALL_TARGETS]
        lines += _table(
            ("target", *an.CLASSES),
            [(t, *(_effect_cell(classes.get((t, c))) for c in an.CLASSES)) for t in targets],
        )
        rows = [r for r in study.ordering.languages if (r["first"], r["second"]) == (first, second)]
        flagged = [r for r in rows if r["significant"]]
        uncorrected = sum(r["excludes_zero"] for r in rows)
        lines.append(
            f"Per language: {len(flagged)} of {len(rows)} effects survive Holm's correction; "
            f"{uncorrected} have an unadjusted 95 % interval that excludes zero (by chance "
            f"alone about {0.05 * len(rows):.1f} would). Plots: "
            f"`ordering_languages_{part}.png`, `ordering_vs_cc100_{part}.png`."
        )
        lines.append("")
        if flagged:
            shown, more = _cut(flagged, "ordering_effects.csv")
            lines += _table(
                ("target", "language", "class", "effect", "95 % CI", "Bonferroni CI", "p (Holm)"),
                [
                    (
                        r["target"],
                        r["lang"],
                        r["resource_class"],
                        _fmt(r["effect"], 2, True),
                        f"[{_fmt(r['ci_low'], 2)}, {_fmt(r['ci_high'], 2)}]",
                        f"[{_fmt(r['ci_bonf_low'], 2)}, {_fmt(r['ci_bonf_high'], 2)}]",
                        f"{r['p_holm']:.3g}",
                    )
                    for r in shown
                ],
            )
            lines += more
    return lines


def _listed_families(families: dict[str, int], limit: int = 6) -> str:
    """'name (size); ...', at most `limit` of them (the CSV tables name every row's)."""
    shown = "; ".join(f"{name} ({size})" for name, size in sorted(families.items())[:limit])
    more = len(families) - limit
    return shown + (f"; and {more} more (column `family` of the CSV tables)" if more > 0 else "")


def _section_forgetting(study: Study) -> list[str]:
    lines = ["## Forgetting", ""]
    if not study.forgetting:
        return [*lines, "No forgetting measurements.", ""]
    lines += [
        "English dev score of a task right after its own stage and after the stages that "
        "follow it (mean ± sd over the seeds with both); forgetting = before − after, "
        "paired by seed.",
        "",
    ]
    shown, more = _cut(study.forgetting, "forgetting.csv")
    lines += _table(
        ("task", "path", "dev after its stage", "dev after the path", "forgetting", "seeds"),
        [
            (
                r["task"],
                _label(r["after"]),
                _pm(r["before_mean"], r["before_sd"]),
                _pm(r["after_mean"], r["after_sd"]),
                _pm(r["forgetting"], r["forgetting_sd"]),
                r["n_seeds"],
            )
            for r in shown
        ],
    )
    return lines + more


def _section_alignment(study: Study) -> list[str]:
    lines = ["## Alignment", ""]
    if not study.alignment:
        return [*lines, "No alignment records.", ""]
    lines += [
        "Tatoeba-style retrieval accuracy of each stage's encoder (path = the tasks trained "
        "so far; (none) = the pretrained model), mean over the languages of each class, and "
        "in brackets the change from the pretrained model.",
        "",
    ]
    by = {(r["path"], r["resource_class"]): r for r in study.alignment_class}
    paths = sorted({r["path"] for r in study.alignment_class}, key=an.path_order)

    def cell(path, cls):
        r = by.get((path, cls))
        if r is None:
            return "–"
        change = f" ({_fmt(r['change'], 1, True)})" if path and math.isfinite(r["change"]) else ""
        return f"{_fmt(r['mean'])}{change}"

    shown, more = _cut(paths, "alignment_by_class.csv")
    lines += _table(
        ("path", *an.CLASSES), [(_label(p), *(cell(p, c) for c in an.CLASSES)) for p in shown]
    )
    lines += more
    columns = sorted({c["path"] for c in study.alignment}, key=an.path_order)[:ALIGNMENT_COLUMNS]
    values = {(c["path"], c["lang"]): c["mean"] for c in study.alignment}
    langs = sorted({c["lang"] for c in study.alignment}, key=an.language_order)
    lines += [
        "Per language (low-resource languages in bold"
        + (
            f"; the first {ALIGNMENT_COLUMNS} paths, all in `alignment.csv`"
            if len(paths) > ALIGNMENT_COLUMNS
            else ""
        )
        + "):",
        "",
    ]
    rows = []
    for lang in langs:
        cls = an.language_class(lang)
        name = f"**{lang}**" if cls == "low" else lang
        rows.append((name, cls, *(_fmt(values.get((p, lang), math.nan)) for p in columns)))
    lines += _table(("language", "class", *map(_label, columns)), rows)
    return lines


if __name__ == "__main__":
    sys.exit(main())
