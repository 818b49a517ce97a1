"""report.md's sections on the findings: ordering effects, forgetting, alignment."""

from __future__ import annotations

import math
from collections.abc import Sequence

from eval import analysis as an
from eval.report.plots import _file_part
from eval.report.study import Study
from eval.report.text import _cut, _effect_cell, _fmt, _label, _pm, _table

ALIGNMENT_COLUMNS = 8  # paths shown per language in report.md's alignment table


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
        "every seed); intervals are 95 % t intervals with S − 1 degrees of freedom for S "
        "seeds (docs/report.md). Class columns average the languages of a class seed by "
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
    if study.ordering.primary_class:
        lines += [
            f"Primary effect, named before the results (`config.report.primary_class`): "
            f"the {study.ordering.primary_class}-resource class over all targets, a family "
            "of its own in each comparison, tested at α alone; the other class effects keep "
            "their class family.",
            "",
        ]
    if any(r["conditional"] for r in study.ordering.languages):
        lines += [
            "`~`: one seed; the interval holds test-set sampling only and is conditional "
            "on that seed"
            + ("." if study.ordering.test_one_seed else "; such effects are not tested."),
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
            f"alone about {0.05 * len(rows):.1f} would). " + _plots_line(files, part)
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


def _plots_line(files: Sequence[str], part: str) -> str:
    names = [f"ordering_{kind}_{part}.png" for kind in ("languages", "vs_cc100")]
    drawn = [f"`{n}`" for n in names if n in files]
    if drawn:
        return "Plots: " + ", ".join(drawn) + "."
    return "Per-language plots: drawn on demand (`python -m eval report --plots all`)."


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
