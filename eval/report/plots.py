"""The plots of each ordering comparison: heatmap by target and resource class,
per-language bars, effect against CC-100 size (PNG, Agg backend)."""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence

import numpy as np

from eval import analysis as an
from eval.report.study import Study, _splits_line
from eval.report.text import _short

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


# `plots` of `write_plots`: every plot, the heatmaps only (report.md shows them), or
# none; "auto" draws every plot for a study of at most AUTO_ALL comparisons and the
# heatmaps beyond (a full study's 36 comparisons: 36 plots instead of 108; the rest
# are drawn on demand with `--plots all`).
PLOT_CHOICES = ("auto", "all", "heatmaps", "none")
AUTO_ALL = 8


def plot_kinds(plots: str, comparisons: int) -> tuple[str, ...]:
    """The kinds of plot drawn per comparison for a `plots` choice."""
    if plots not in PLOT_CHOICES:
        raise ValueError(f"--plots must be one of {', '.join(PLOT_CHOICES)}; got {plots!r}")
    if plots == "auto":
        plots = "all" if comparisons <= AUTO_ALL else "heatmaps"
    return {"all": KINDS, "heatmaps": KINDS[:1], "none": ()}[plots]


KINDS = ("heatmap", "languages", "vs_cc100")


def write_plots(study: Study, directory: str, plots: str = "auto") -> list[str]:
    """Per comparison: heatmap, per-language bars, effect vs CC-100 size (those
    `plots` asks for, `plot_kinds`). A full study has dozens of comparisons: they
    are drawn by one process per CPU."""
    kinds = plot_kinds(plots, len(study.comparisons))
    if not study.ordering.languages or not kinds:
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
        part = _file_part(first, second)
        jobs.append((directory, part, title, plotted, plotted_classes, kinds))
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
    directory, part, title, rows, classes, kinds = job
    plt = _pyplot()
    draw = {
        "heatmap": lambda: _heatmap(plt, classes, title),
        "languages": lambda: _language_bars(plt, rows, title),
        "vs_cc100": lambda: _versus_cc100(plt, rows, title),
    }
    files = []
    for kind in kinds:
        name, figure = f"ordering_{kind}_{part}.png", draw[kind]()
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
