"""The tables of an ordering study, from the records of `WORKDIR/results.jsonl`.

    records = load_results("runs/x/results.jsonl")
    scores, incomplete = headline_scores(records)        # {(path, target, lang, seed): score}
    cells = summarise_seeds(scores)                      # mean ± sd over seeds per language
    gains = gains_over_baseline(cells)                   # path − no intermediate task

A run's **headline score** is its task's XTREME-R score: the mean of exact match
and F1 for QA, F1 for UD-POS / PAN-X, accuracy for XNLI / XCOPA / Tatoeba, mAP@20
for LAReQA / Mewsli-X. The ordering effect and its intervals are `eval.ordering`'s
(docs/report.md says more).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xlmr_flax.languages import RESOURCE_CLASSES, UnknownLanguageError, language

KINDS = ("zero_shot", "dev", "alignment")
REQUIRED_KEYS = ("kind", "path", "target", "lang", "seed", "metric", "value")
# The metrics whose mean is a task's headline score (XTREME-R's task scores).
HEADLINE = {
    "xnli": ("accuracy",),
    "xcopa": ("accuracy",),
    "tatoeba": ("accuracy",),
    "alignment": ("accuracy",),
    "udpos": ("f1",),
    "panx": ("f1",),
    "xquad": ("exact_match", "f1"),
    "mlqa": ("exact_match", "f1"),
    "tydiqa": ("exact_match", "f1"),
    "lareqa": ("map@20",),
    "mewslix": ("map@20",),
}
# The training language: its scores are in the tables but not in the resource-class
# means, which are about transfer to other languages.
SOURCE_LANGS = ("en",)
CLASSES = (*RESOURCE_CLASSES, "all")  # "all": every language but the source language
ALL_TARGETS = "all targets"
ALPHA = 0.05

Path = tuple[str, ...]
RunKey = tuple[Path, str, str, int]  # (path, target, lang, seed)


class ResultsError(ValueError):
    """A malformed results file; the message starts with `FILE:LINE:`."""


@dataclass(frozen=True)
class Record:
    """One line of results.jsonl; `where` is its `file:line`."""

    kind: str
    path: Path
    target: str
    lang: str
    seed: int
    metric: str
    value: float
    stage: str | None = None
    examples: str | None = None
    split: str | None = None  # the evaluation split scored (records before it: None)
    gold: str | None = None  # where its gold came from: "raw:<layout>" or "labels"
    where: str = ""


# --------------------------------------------------------------------------- loading


def _check_record(raw: Any) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(raw, dict):
        return f"expected a JSON object, got {type(raw).__name__}"
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        return "missing key" + ("s " if len(missing) > 1 else " ") + ", ".join(map(repr, missing))
    if raw["kind"] not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}; got {raw['kind']!r}"
    path = raw["path"]
    if not isinstance(path, list) or not all(isinstance(t, str) and t for t in path):
        return f"path must be a list of task names; got {path!r}"
    for key in ("target", "lang", "metric"):
        if not isinstance(raw[key], str) or not raw[key]:
            return f"{key} must be a non-empty string; got {raw[key]!r}"
    if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
        return f"seed must be an integer; got {raw['seed']!r}"
    value = raw["value"]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return f"value must be a finite number; got {value!r}"
    for key in ("stage", "examples", "split", "gold"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            return f"{key} must be a string or null; got {raw[key]!r}"
    return None


def parse_results(lines: Iterable[str], source: str = "results.jsonl") -> list[Record]:
    """Records from JSON lines (blank lines skipped). A malformed line or a second
    record for the same (kind, path, target, lang, seed, metric) raises `ResultsError`
    naming `source:line`."""
    records: list[Record] = []
    first_line: dict[tuple, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise ResultsError(
                f"{where}: not valid JSON ({error.msg}, column {error.colno})"
            ) from None
        problem = _check_record(raw)
        if problem:
            raise ResultsError(f"{where}: {problem}")
        record = Record(
            kind=raw["kind"],
            path=tuple(raw["path"]),
            target=raw["target"],
            lang=raw["lang"],
            seed=raw["seed"],
            metric=raw["metric"],
            value=float(raw["value"]),
            stage=raw.get("stage"),
            examples=raw.get("examples"),
            split=raw.get("split"),
            gold=raw.get("gold"),
            where=where,
        )
        key = (record.kind, record.path, record.target, record.lang, record.seed, record.metric)
        if key in first_line:
            raise ResultsError(f"{where}: the same record as line {first_line[key]}")
        first_line[key] = number
        records.append(record)
    return records


def load_results(path: str) -> list[Record]:
    """The records of a results.jsonl file (see `parse_results`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no results file (the study writes it after evaluating)")
    with open(path, encoding="utf-8") as f:
        return parse_results(f, path)


# ---------------------------------------------------------------- labels and classes


def path_key(path: Sequence[str]) -> str:
    """A path as one field: tasks joined by '>', 'none' for the baseline."""
    return ">".join(path) if path else "none"


def path_order(path: Sequence[str]) -> tuple:
    """Sort key: shorter paths first, then by name (the baseline comes first)."""
    return (len(path), tuple(path))


def language_class(lang: str) -> str:
    """'low', 'mid' or 'high'; 'unknown' for a code without facts (never fails)."""
    try:
        return language(lang).resource_class
    except UnknownLanguageError:
        return "unknown"


def language_cc100(lang: str) -> float | None:
    try:
        return language(lang).cc100_gib
    except UnknownLanguageError:
        return None


def language_order(lang: str) -> tuple:
    """Sort key: low-resource languages first, then mid, high, unknown; then by code."""
    order = (*RESOURCE_CLASSES, "unknown")
    return (order.index(language_class(lang)), lang)


def in_class(lang: str, cls: str) -> bool:
    """Whether `lang` counts in the aggregate `cls` (the source language never does)."""
    if lang in SOURCE_LANGS:
        return False
    return cls == "all" or language_class(lang) == cls


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values)."""
    array = np.asarray(values, dtype=np.float64)
    sd = float(np.std(array, ddof=1)) if len(array) > 1 else math.nan
    return float(np.mean(array)), sd


# ------------------------------------------------------------------- headline scores


def headline_metrics(target: str, metrics: Iterable[str]) -> tuple[str, ...]:
    """The metrics averaged into `target`'s headline score. Tasks outside XTREME-R
    (the intermediate tasks' dev scores) go by the metrics they report."""
    if target in HEADLINE:
        return HEADLINE[target]
    present = set(metrics)
    if {"exact_match", "f1"} <= present:
        return ("exact_match", "f1")
    for metric in ("map@20", "accuracy", "f1"):
        if metric in present:
            return (metric,)
    return (min(present),) if present else ()


def group_runs(records: Iterable[Record], kind: str) -> dict[RunKey, dict[str, Record]]:
    """The records of one kind by run (path, target, lang, seed), then by metric."""
    runs: dict[RunKey, dict[str, Record]] = defaultdict(dict)
    for r in records:
        if r.kind == kind:
            runs[(r.path, r.target, r.lang, r.seed)][r.metric] = r
    return dict(runs)


def headline_scores(
    records: Iterable[Record], kind: str = "zero_shot"
) -> tuple[dict[RunKey, float], list[dict[str, Any]]]:
    """(headline score per run, the runs that lack a metric of their headline)."""
    scores: dict[RunKey, float] = {}
    incomplete: list[dict[str, Any]] = []
    for key, by_metric in group_runs(records, kind).items():
        wanted = headline_metrics(key[1], by_metric)
        absent = [m for m in wanted if m not in by_metric]
        if absent or not wanted:
            path, target, lang, seed = key
            incomplete.append(
                dict(path=path, target=target, lang=lang, seed=seed, missing=absent or ["?"])
            )
            continue
        scores[key] = float(np.mean([by_metric[m].value for m in wanted]))
    return scores, incomplete


def summarise_seeds(scores: dict[RunKey, float]) -> list[dict[str, Any]]:
    """Mean ± sd over seeds per (path, target, lang), sorted by path, target, language."""
    by_cell: dict[tuple, dict[int, float]] = defaultdict(dict)
    for (path, target, lang, seed), value in scores.items():
        by_cell[(path, target, lang)][seed] = value
    rows = []
    for (path, target, lang), by_seed in by_cell.items():
        mean, sd = mean_sd(list(by_seed.values()))
        rows.append(
            dict(
                path=path,
                target=target,
                lang=lang,
                resource_class=language_class(lang),
                mean=mean,
                sd=sd,
                n_seeds=len(by_seed),
                seeds=sorted(by_seed),
            )
        )
    rows.sort(key=lambda r: (path_order(r["path"]), r["target"], language_order(r["lang"])))
    return rows


def task_scores(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target): the mean over languages of the seed means, overall and per
    resource class (class means leave out the source language)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        grouped[(c["path"], c["target"])].append(c)
    rows = []
    for (path, target), group in grouped.items():
        row: dict[str, Any] = dict(
            path=path, target=target, mean=float(np.mean([c["mean"] for c in group]))
        )
        row["n_langs"] = len(group)
        for cls in RESOURCE_CLASSES:
            members = [c["mean"] for c in group if in_class(c["lang"], cls)]
            row[cls] = float(np.mean(members)) if members else math.nan
        rows.append(row)
    rows.sort(key=lambda r: (path_order(r["path"]), r["target"]))
    return rows


def path_averages(scores: dict[RunKey, float]) -> list[dict[str, Any]]:
    """XTREME-R-style average per path: the mean over target tasks of the mean over
    languages (of the seed means). Its sd is that of the same average computed seed
    by seed, over the seeds that have every task of the path (n_seeds of them), so a
    seed missing a task does not pass for a change of score."""
    tasks = task_scores(summarise_seeds(scores))
    per_seed: dict[tuple[Path, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (path, target, _lang, seed), value in scores.items():
        per_seed[(path, seed)][target].append(value)
    rows = []
    for path in sorted({t["path"] for t in tasks}, key=path_order):
        path_tasks = [t for t in tasks if t["path"] == path]
        seed_averages = [
            float(np.mean([np.mean(v) for v in by_target.values()]))
            for (p, _seed), by_target in sorted(per_seed.items())
            if p == path and len(by_target) == len(path_tasks)
        ]
        sd = mean_sd(seed_averages)[1] if seed_averages else math.nan
        rows.append(
            dict(
                path=path,
                mean=float(np.mean([t["mean"] for t in path_tasks])),
                sd=sd,
                n_seeds=len(seed_averages),
                n_tasks=len(path_tasks),
                tasks=[t["target"] for t in path_tasks],
            )
        )
    return rows


def gains_over_baseline(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target, lang) with a baseline score: seed mean − the baseline path's
    seed mean. Empty when the study has no baseline path []."""
    baseline = {(c["target"], c["lang"]): c["mean"] for c in cells if c["path"] == ()}
    rows = []
    for c in cells:
        base = baseline.get((c["target"], c["lang"]))
        if c["path"] == () or base is None:
            continue
        rows.append(
            dict(
                path=c["path"],
                target=c["target"],
                lang=c["lang"],
                resource_class=c["resource_class"],
                score=c["mean"],
                baseline=base,
                gain=c["mean"] - base,
            )
        )
    return rows


def gains_by_class(gains: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (path, target) and per path over all targets: the mean gain over the
    languages of each class (the "all targets" row averages the per-target means)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for g in gains:
        grouped[(g["path"], g["target"])].append(g)
    rows = []
    for (path, target), group in grouped.items():
        for cls in CLASSES:
            members = [g["gain"] for g in group if in_class(g["lang"], cls)]
            if members:
                rows.append(
                    dict(
                        path=path,
                        target=target,
                        resource_class=cls,
                        gain=float(np.mean(members)),
                        n_langs=len(members),
                    )
                )
    overall: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        overall[(r["path"], r["resource_class"])].append(r["gain"])
    for (path, cls), values in overall.items():
        rows.append(
            dict(
                path=path,
                target=ALL_TARGETS,
                resource_class=cls,
                gain=float(np.mean(values)),
                n_langs=math.nan,
            )
        )
    rows.sort(
        key=lambda r: (path_order(r["path"]), r["target"], CLASSES.index(r["resource_class"]))
    )
    return rows


# ------------------------------------------------------------------ what is missing


def find_missing(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Zero-shot (path, target, seed) runs absent although the study has that path,
    that target and that seed elsewhere; and runs that lack some of the languages
    other runs of their target have."""
    runs = group_runs(records, "zero_shot")
    present: dict[tuple[Path, str, int], set[str]] = defaultdict(set)
    for path, target, lang, seed in runs:
        present[(path, target, seed)].add(lang)
    paths = {p for p, _, _ in present}
    targets = {t for _, t, _ in present}
    seeds = {s for _, _, s in present}
    target_langs: dict[str, set[str]] = defaultdict(set)
    for (_, target, _), langs in present.items():
        target_langs[target] |= langs
    missing = []
    for path in sorted(paths, key=path_order):
        for target in sorted(targets):
            for seed in sorted(seeds):
                langs = present.get((path, target, seed))
                if langs is None:
                    missing.append(dict(path=path, target=target, seed=seed, languages=["all"]))
                elif langs != target_langs[target]:
                    absent = sorted(target_langs[target] - langs, key=language_order)
                    missing.append(dict(path=path, target=target, seed=seed, languages=absent))
    return missing


def order_comparisons(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(comparisons, unmatched): every two present paths holding the same tasks in a
    different order, as (first, second) with first < second by name, so that for the
    pair {A, B} the effect is score(A→B) − score(B→A); and the paths of two or more
    tasks whose other orders are all absent."""
    by_tasks: dict[Path, list[Path]] = defaultdict(list)
    for path in set(paths):
        if len(path) >= 2:
            by_tasks[tuple(sorted(path))].append(path)
    comparisons, unmatched = [], []
    for tasks, group in sorted(by_tasks.items()):
        group.sort()
        if len(group) == 1:
            if len(set(tasks)) > 1:  # [A, A] has no other order
                unmatched.append(group[0])
            continue
        for i, first in enumerate(group):
            comparisons.extend((first, second) for second in group[i + 1 :])
    return comparisons, unmatched


# ------------------------------------------------------------ forgetting, alignment


def forgetting(records: Iterable[Record]) -> list[dict[str, Any]]:
    """For every dev score of task A measured after later stages (path P = ... A, B ...):
    A's dev score right after A's own stage, after P, and their difference (forgetting
    = before − after, paired by seed), as mean ± sd over the seeds that have both."""
    scores, _ = headline_scores(records, "dev")
    by_path: dict[tuple[Path, str], dict[int, float]] = defaultdict(dict)
    for (path, task, _lang, seed), value in scores.items():
        by_path[(path, task)][seed] = value
    rows = []
    for (path, task), after in by_path.items():
        if task not in path:
            continue
        last = len(path) - 1 - path[::-1].index(task)
        before_path = path[: last + 1]
        before = by_path.get((before_path, task))
        if before_path == path or before is None:
            continue
        seeds = sorted(set(before) & set(after))
        if not seeds:
            continue
        before_mean, before_sd = mean_sd([before[s] for s in seeds])
        after_mean, after_sd = mean_sd([after[s] for s in seeds])
        drop_mean, drop_sd = mean_sd([before[s] - after[s] for s in seeds])
        rows.append(
            dict(
                task=task,
                before=before_path,
                after=path,
                trained_after=path[last + 1 :],
                before_mean=before_mean,
                before_sd=before_sd,
                after_mean=after_mean,
                after_sd=after_sd,
                forgetting=drop_mean,
                forgetting_sd=drop_sd,
                n_seeds=len(seeds),
            )
        )
    rows.sort(key=lambda r: (r["task"], path_order(r["after"])))
    return rows


def alignment_table(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Retrieval accuracy of each stage's encoder per (path, language): mean ± sd over
    seeds and the change from the pretrained model (path []) where it was measured."""
    scores, _ = headline_scores(records, "alignment")
    # The pretrained model is one model whatever the seed: results.jsonl repeats its
    # one measurement once per seed, which must not pass for n seeds with sd 0.
    first_seed: dict[str, int] = {}
    for path, _, lang, seed in sorted(scores):
        if path == ():
            first_seed.setdefault(lang, seed)
    scores = {k: v for k, v in scores.items() if k[0] != () or first_seed[k[2]] == k[3]}
    cells = summarise_seeds(scores)
    pretrained = {c["lang"]: c["mean"] for c in cells if c["path"] == ()}
    for c in cells:
        base = pretrained.get(c["lang"])
        c["change"] = c["mean"] - base if base is not None else math.nan
    return cells


def alignment_by_class(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per path and class: the mean alignment over the class's languages, and the
    mean change from the pretrained model over those with a pretrained score."""
    grouped: dict[Path, list[dict]] = defaultdict(list)
    for c in cells:
        grouped[c["path"]].append(c)
    rows = []
    for path in sorted(grouped, key=path_order):
        for cls in CLASSES:
            members = [c for c in grouped[path] if in_class(c["lang"], cls)]
            if not members:
                continue
            changes = [c["change"] for c in members if math.isfinite(c["change"])]
            rows.append(
                dict(
                    path=path,
                    resource_class=cls,
                    mean=float(np.mean([c["mean"] for c in members])),
                    change=float(np.mean(changes)) if changes else math.nan,
                    n_langs=len(members),
                )
            )
    return rows
