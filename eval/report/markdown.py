"""report.md: its sections in order and those on what was run, what is missing, the
scores and the gains over no intermediate task."""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from eval import analysis as an
from eval.report.findings import _section_alignment, _section_forgetting, _section_ordering
from eval.report.runs import section_failed, section_goodput
from eval.report.study import Study, _scored_on
from eval.report.text import _cut, _fmt, _label, _pm, _table
from eval.report.training import section_training

FILE_DESCRIPTIONS = {
    "scores.csv": "headline score per path, target and language: mean, sd, seeds",
    "scores_by_seed.csv": "headline score of every run",
    "metrics.csv": "every reported metric per path, target and language: mean, sd, seeds",
    "task_scores.csv": "per path and target: mean over languages, overall and per class",
    "average.csv": "XTREME-R-style average per path",
    "gains.csv": "per language: path score − baseline score",
    "untrained.csv": "runs that did not train: path, target, seed, English score, chance, why",
    "failure_rates.csv": "per ordered pair and target: paired runs, failures of each order, "
    "McNemar's exact p",
    "gains_by_class.csv": "mean gain over the languages of each class",
    "ordering_effects.csv": "per comparison, target and language: effect, intervals, p-values",
    "ordering_by_class.csv": "per comparison, target and class: effect, intervals, p-values",
    "forgetting.csv": "dev score after a task's stage and after later stages",
    "alignment.csv": "retrieval accuracy of each stage's encoder per language",
    "alignment_by_class.csv": "the same, mean over the languages of each class",
    "missing.csv": "absent runs and languages",
    "failed.csv": "zero-shot cells left empty by a failed stage, with its error",
    "goodput.csv": "per stage of the last run: chips, tries, steps kept, seconds by part",
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
    lines += section_training(study)
    lines += section_goodput(study.goodput)
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


def _section_missing(study: Study) -> list[str]:
    lines = ["## What is missing", ""]
    lines += section_failed(study.failures)
    found = bool(study.failures)
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
