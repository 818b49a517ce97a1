"""The analysis of an ordering study, from the records of `WORKDIR/results.jsonl`.

    records = load_results("runs/x/results.jsonl")
    scores, incomplete = headline_scores(records)        # {(path, target, lang, seed): score}
    cells = summarise_seeds(scores)                      # mean ± sd over seeds per language
    ordering = ordering_effects(records, "runs/x")       # score(A→B) − score(B→A), with CIs

Everything is plain NumPy. The statistics (docs/report.md says more):

- A run's **headline score** is its task's XTREME-R score: the mean of exact match
  and F1 for QA, F1 for UD-POS / PAN-X, accuracy for XNLI / XCOPA / Tatoeba, mAP@20
  for LAReQA / Mewsli-X.
- The **ordering effect** of two paths that hold the same tasks in different orders
  (A→B and B→A) is the mean over seeds of score(A→B) − score(B→A). Its 95 %
  interval is a paired bootstrap: each draw resamples the test examples (the same
  draw for both orders and every seed, since they share one test set) and the seeds
  (jointly for both orders, paired by seed value).
- p-values come from the bootstrap standard error (normal approximation), adjusted
  with Holm's step-down method within a family of comparisons; intervals adjusted
  for the family size are Bonferroni intervals, est ± z(1 − α/2m) · se.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from xlmr_flax.languages import RESOURCE_CLASSES, UnknownLanguageError, language
from xlmr_flax.storage import confined

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
# Targets whose test sets are translations of one set of items, so that example i of
# every language is the same item: resampling the same items in every language keeps
# the correlation between languages that a resource-class mean inherits from them.
PARALLEL_TARGETS = frozenset({"xnli", "xcopa", "xquad", "lareqa"})
# The training language: its scores are in the tables but not in the resource-class
# means, which are about transfer to other languages.
SOURCE_LANGS = ("en",)
CLASSES = (*RESOURCE_CLASSES, "all")  # "all": every language but the source language
ALL_TARGETS = "all targets"
ALPHA = 0.05
# A recomputed score may differ from the recorded one by float rounding only.
CONSISTENCY_TOLERANCE = 1e-3
# Bootstrap index matrices are drawn in blocks of about this many entries.
BLOCK_ENTRIES = 4_000_000

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
    for key in ("stage", "examples"):
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


# ------------------------------------------------------------------------ bootstrap


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n) float64: how often each of n examples is drawn in each bootstrap
    resample (n draws with replacement; every row sums to n). Counts instead of index
    lists turn every resampled sum into one matrix product."""
    counts = np.empty((n_boot, n), dtype=np.float64)
    block = max(1, BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        # int32 halves the memory traffic; a block's offsets stay below BLOCK_ENTRIES.
        drawn = rng.integers(0, n, size=(rows, n), dtype=np.int32)
        drawn += (np.arange(rows, dtype=np.int32) * n)[:, None]
        counts[start : start + rows] = np.bincount(drawn.ravel(), minlength=rows * n).reshape(
            rows, n
        )
    return counts


def metric_of_sums(metric: str, sums: np.ndarray, n: float) -> np.ndarray:
    """A metric (percent) from the sums of its per-example statistics over n examples
    (one sum per resample): (draws,) sums of values in [0, 1] → 100 × mean; (draws, 2)
    sums of (correct, total) → 100 × correct / total; (draws, 3) sums of seqeval's
    (correct, predicted, gold) entity counts → precision, recall or F1 (0 where a
    denominator is 0, as seqeval does)."""
    sums = np.asarray(sums, dtype=np.float64)
    if sums.ndim == 1:
        return 100.0 * sums / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if sums.shape[-1] == 2:
            return np.where(sums[:, 1] > 0, 100.0 * sums[:, 0] / sums[:, 1], 0.0)
        if sums.shape[-1] != 3:
            raise ValueError(f"{metric}: expected 1, 2 or 3 statistics per example")
        correct, predicted, gold = sums[:, 0], sums[:, 1], sums[:, 2]
        precision = np.where(predicted > 0, correct / predicted, 0.0)
        recall = np.where(gold > 0, correct / gold, 0.0)
        if metric == "precision":
            return 100.0 * precision
        if metric == "recall":
            return 100.0 * recall
        total = precision + recall
        return np.where(total > 0, 200.0 * precision * recall / total, 0.0)


def resampled_metric(metric: str, stats: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The metric on each resample given by the rows of `counts` (see `resample_counts`)."""
    stats = np.asarray(stats, dtype=np.float64)
    return metric_of_sums(metric, counts @ stats, stats.shape[0])


def resampled_headlines(
    runs: Sequence[dict[str, np.ndarray]], metrics: Sequence[str], counts: np.ndarray
) -> np.ndarray:
    """(n_boot, len(runs)): the headline score (mean of `metrics`) of every run on every
    resample. All runs share the test examples, so their statistics are stacked into
    one (n, columns) matrix and resampled by a single product with `counts`."""
    n = counts.shape[1]
    columns, layout = [], []  # layout: per run, [(metric, first column, width)]
    for stats in runs:
        arrays = [np.asarray(stats[m], dtype=np.float64) for m in metrics]
        if all(a.ndim == 1 for a in arrays):
            # Means are linear: the mean of the metrics' per-example values is one column.
            layout.append([("mean", len(columns), 1)])
            columns.append(np.mean(arrays, axis=0))
            continue
        placed = []
        for metric, array in zip(metrics, arrays, strict=True):
            array = array.reshape(n, -1)
            placed.append((metric, len(columns), array.shape[1]))
            columns.extend(array.T)
        layout.append(placed)
    sums = counts @ np.stack(columns, axis=1)
    out = np.empty((counts.shape[0], len(runs)))
    for i, placed in enumerate(layout):
        values = [
            metric_of_sums(
                metric, sums[:, start] if width == 1 else sums[:, start : start + width], n
            )
            for metric, start, width in placed
        ]
        out[:, i] = np.mean(values, axis=0)
    return out


def seed_weighted_difference(
    first: np.ndarray, second: np.ndarray, seed_counts: np.ndarray
) -> np.ndarray:
    """(n_boot,): per draw, the mean over resampled seeds of first − second. `first`
    and `second` are (n_boot, seeds) scores, column j of both from seed j; `seed_counts`
    (n_boot, seeds) says how often each seed is drawn, the same for both orders."""
    return np.sum(seed_counts * (first - second), axis=1) / first.shape[1]


def summarise_draws(estimate: float, draws: np.ndarray, alpha: float = ALPHA) -> dict[str, float]:
    """Point estimate, percentile interval (1 − alpha), bootstrap standard error and the
    two-sided p-value of a zero effect from that standard error. With no spread at all
    the p-value is 1 for a zero estimate and NaN (not estimable) otherwise."""
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    # Draws that are all equal (one seed, no examples) have no spread; np.std would
    # give rounding noise instead of 0.
    spread = len(draws) > 1 and float(np.ptp(draws)) > 0
    se = float(np.std(draws, ddof=1)) if spread else 0.0
    if se > 0:
        p_value = math.erfc(abs(estimate) / se / math.sqrt(2))
    else:
        p_value = 1.0 if estimate == 0 else math.nan
    return dict(effect=estimate, ci_low=float(low), ci_high=float(high), se=se, p_value=p_value)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count in m)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def adjust_family(rows: list[dict[str, Any]], alpha: float = ALPHA) -> None:
    """Adds to every row of one family of comparisons: p_holm, the Bonferroni interval
    for the family size (ci_bonf_low/high), whether the unadjusted interval excludes
    zero (excludes_zero) and whether the effect survives Holm (significant)."""
    adjusted = holm([r["p_value"] for r in rows])
    m = int(np.sum(np.isfinite([r["p_value"] for r in rows])))
    z = NormalDist().inv_cdf(1 - alpha / (2 * max(m, 1)))
    for row, p in zip(rows, adjusted, strict=True):
        row["p_holm"] = float(p)
        row["ci_bonf_low"] = row["effect"] - z * row["se"]
        row["ci_bonf_high"] = row["effect"] + z * row["se"]
        row["excludes_zero"] = bool(row["ci_low"] > 0 or row["ci_high"] < 0)
        row["significant"] = bool(np.isfinite(p) and p < alpha)
        row["family_size"] = m


# ------------------------------------------------------------------ ordering effect


def _key_seed(seed: int, *parts: object) -> np.random.Generator:
    """A generator for one named draw: the same name gives the same draw whatever else
    the study holds, so adding a language or a seed does not move other intervals."""
    name = "\x1f".join(map(str, parts)).encode("utf-8")
    return np.random.default_rng([seed, zlib.crc32(name)])


@dataclass
class ExampleStats:
    ids: list[str]
    stats: dict[str, np.ndarray]


def load_example_stats(
    workdir: str, relative: str, metrics: Iterable[str] | None = None
) -> ExampleStats:
    """An examples file `{"ids": [...], "stats": {metric: list}}` (path relative to
    `workdir`), with the statistics of `metrics` only (default: all); ValueError or
    OSError when it is absent or malformed."""
    path = confined(workdir, relative, "examples file")  # never outside the workdir
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or not isinstance(raw.get("ids"), list):
        raise ValueError(f"{path}: expected an object with 'ids' and 'stats'")
    if not isinstance(raw.get("stats"), dict):
        raise ValueError(f"{path}: expected an object with 'ids' and 'stats'")
    ids = [str(i) for i in raw["ids"]]
    stats = {}
    wanted = set(raw["stats"]) if metrics is None else set(metrics) & set(raw["stats"])
    for metric in sorted(wanted):  # converting lists is most of the cost: only what is used
        values = raw["stats"][metric]
        array = np.asarray(values, dtype=np.float64)
        if array.shape[:1] != (len(ids),) or array.ndim > 2:
            raise ValueError(f"{path}: stats[{metric!r}] has shape {array.shape}, ids {len(ids)}")
        stats[metric] = array
    if len(ids) == 0:
        raise ValueError(f"{path}: no examples")
    return ExampleStats(ids, stats)


@dataclass
class OrderingAnalysis:
    """Per-language effects, resource-class effects (per target and over all targets),
    the bootstrap draws behind them, and notes on what limited the analysis."""

    languages: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    draws: dict[tuple, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unmatched: list[Path] = field(default_factory=list)
    n_boot: int = 0


def _cell_statistics(
    runs: dict[RunKey, dict[str, Record]],
    needed: Sequence[tuple[Path, int]],
    target: str,
    lang: str,
    metrics: Sequence[str],
    workdir: str,
    problems: list[str],
) -> tuple[list[str] | None, dict[tuple[Path, int], dict[str, np.ndarray]]]:
    """The per-example statistics of the needed (path, seed) runs of one (target,
    language), aligned to one id order; runs without usable statistics are left out
    (and named in `problems` where a file is broken or its examples disagree)."""
    reference: list[str] | None = None
    found: dict[tuple[Path, int], dict[str, np.ndarray]] = {}
    for path, seed in needed:
        by_metric = runs[(path, target, lang, seed)]
        files = {by_metric[m].examples for m in metrics}
        if None in files:
            continue
        stats: dict[str, np.ndarray] = {}
        ids: list[str] | None = None
        try:
            for relative in sorted(files):
                loaded = load_example_stats(workdir, relative, metrics)
                if ids is not None and loaded.ids != ids:
                    raise ValueError(f"{relative}: ids differ from the run's other metric file")
                ids = loaded.ids
                stats.update({m: loaded.stats[m] for m in metrics if m in loaded.stats})
            absent = [m for m in metrics if m not in stats]
            if absent:
                raise ValueError(f"{sorted(files)[0]}: no statistics for {', '.join(absent)}")
        except (OSError, ValueError) as error:
            run = f"{path_key(path)} {target} {lang} seed {seed}"
            problems.append(f"{run}: {error}")
            continue
        assert ids is not None
        if reference is None:
            reference = ids
        elif ids != reference:
            if sorted(ids) != sorted(reference) or len(set(ids)) != len(ids):
                run = f"{path_key(path)} {target} {lang} seed {seed}"
                problems.append(f"{run}: its test examples differ from the other runs'")
                continue
            position = {i: k for k, i in enumerate(ids)}
            order = np.array([position[i] for i in reference])
            stats = {m: a[order] for m, a in stats.items()}
        found[(path, seed)] = stats
    return reference, found


def ordering_effects(
    records: Sequence[Record],
    workdir: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
) -> OrderingAnalysis:
    """The ordering effect of every comparison from `order_comparisons`, per target
    and language, then per resource class; with paired bootstrap intervals and Holm
    adjustment (per-language effects are one family, class effects another)."""
    scores, _ = headline_scores(records, "zero_shot")
    runs = group_runs(records, "zero_shot")
    comparisons, unmatched = order_comparisons({k[0] for k in scores})
    result = OrderingAnalysis(unmatched=unmatched, n_boot=n_boot)
    if not comparisons:
        return result
    involved = {p for pair in comparisons for p in pair}
    cells = sorted({(t, lang) for p, t, lang, _ in scores if p in involved})
    seeds_of: dict[tuple[Path, str, str], set[int]] = defaultdict(set)
    for path, target, lang, s in scores:
        seeds_of[(path, target, lang)].add(s)
    seed_draws: dict[tuple[int, ...], np.ndarray] = {}
    # The latest example draw: consecutive languages of a parallel target share it.
    last_draw: tuple[tuple, np.ndarray] | None = None
    mismatched: list[str] = []
    problems: list[str] = []
    for target, lang in cells:
        paired: dict[tuple[Path, Path], list[int]] = {}
        for first, second in comparisons:
            seeds = sorted(seeds_of[(first, target, lang)] & seeds_of[(second, target, lang)])
            if seeds:
                paired[(first, second)] = seeds
        if not paired:
            continue
        needed = sorted({(p, s) for pair, seeds in paired.items() for p in pair for s in seeds})
        first_path, first_seed = needed[0]
        metrics = headline_metrics(target, runs[(first_path, target, lang, first_seed)])
        ids, found = _cell_statistics(runs, needed, target, lang, metrics, workdir, problems)
        resampled: dict[tuple[Path, int], np.ndarray] = {}
        if ids is not None and found:
            parallel = target in PARALLEL_TARGETS
            digest = hashlib.sha1("\n".join(ids).encode("utf-8")).hexdigest()
            name = ("examples", target, digest if parallel else lang)
            if last_draw is None or last_draw[0] != name:
                rng = _key_seed(seed, *name)
                last_draw = (name, resample_counts(rng, len(ids), n_boot))
            counts = last_draw[1]
            keys = list(found)
            matrix = resampled_headlines([found[k] for k in keys], metrics, counts)
            full = resampled_headlines([found[k] for k in keys], metrics, np.ones((1, len(ids))))
            for j, key in enumerate(keys):
                resampled[key] = matrix[:, j]
                recorded = scores[(key[0], target, lang, key[1])]
                if abs(full[0, j] - recorded) > CONSISTENCY_TOLERANCE:
                    run = f"{path_key(key[0])} {target} {lang} seed {key[1]}"
                    mismatched.append(
                        f"{run}: {full[0, j]:.3f} from examples, {recorded:.3f} recorded"
                    )
        for (first, second), seeds in paired.items():
            observed = {
                (p, s): scores[(p, target, lang, s)] for p in (first, second) for s in seeds
            }
            by_examples = all((p, s) in resampled for p, s in observed)
            columns = {
                key: resampled[key] if by_examples else np.full(n_boot, value)
                for key, value in observed.items()
            }
            if tuple(seeds) not in seed_draws:
                rng = _key_seed(seed, "seeds", *seeds)
                seed_draws[tuple(seeds)] = resample_counts(rng, len(seeds), n_boot)
            draws = seed_weighted_difference(
                np.stack([columns[(first, s)] for s in seeds], axis=1),
                np.stack([columns[(second, s)] for s in seeds], axis=1),
                seed_draws[tuple(seeds)],
            )
            estimate = float(np.mean([observed[(first, s)] - observed[(second, s)] for s in seeds]))
            row = dict(
                first=first,
                second=second,
                target=target,
                lang=lang,
                resource_class=language_class(lang),
                cc100_gib=language_cc100(lang),
                **summarise_draws(estimate, draws, alpha),
                n_seeds=len(seeds),
                seeds=seeds,
                n_examples=len(ids) if by_examples and ids is not None else math.nan,
                resampling="examples and seeds" if by_examples else "seeds only",
            )
            result.languages.append(row)
            result.draws[(first, second, target, lang)] = draws
    adjust_family(result.languages, alpha)
    result.classes = _class_effects(result, alpha)
    adjust_family(result.classes, alpha)
    if problems:
        result.notes.append(_listed("run(s) left out of the example resampling", problems))
    if mismatched:
        result.notes.append(_listed("run(s) whose examples file gives another score", mismatched))
    return result


def _listed(what: str, items: Sequence[str], limit: int = 10) -> str:
    """'N what: a; b; ...' naming at most `limit` items (a full study can have thousands)."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}: " + "; ".join(items[:limit]) + more


def _class_effects(analysis: OrderingAnalysis, alpha: float) -> list[dict[str, Any]]:
    """Mean effect over the languages of each class, per target and over all targets,
    bootstrapped by averaging the languages' draws (seeds are drawn jointly, so the
    average of draws is a draw of the average)."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for row in analysis.languages:
        grouped[(row["first"], row["second"], row["target"])].append(row)
    rows: list[dict[str, Any]] = []
    per_class: dict[tuple, list[tuple[float, np.ndarray, str]]] = defaultdict(list)
    for (first, second, target), group in grouped.items():
        for cls in CLASSES:
            members = sorted(
                (r for r in group if in_class(r["lang"], cls)),
                key=lambda r: language_order(r["lang"]),
            )
            if not members:
                continue
            draws = np.mean(
                [analysis.draws[(first, second, target, r["lang"])] for r in members], axis=0
            )
            estimate = float(np.mean([r["effect"] for r in members]))
            kinds = {r["resampling"] for r in members}
            resampling = kinds.pop() if len(kinds) == 1 else "mixed"
            rows.append(
                dict(
                    first=first,
                    second=second,
                    target=target,
                    resource_class=cls,
                    n_langs=len(members),
                    langs=[r["lang"] for r in members],
                    **summarise_draws(estimate, draws, alpha),
                    resampling=resampling,
                )
            )
            per_class[(first, second, cls)].append((estimate, draws, resampling))
    for (first, second, cls), parts in per_class.items():
        kinds = {k for _, _, k in parts}
        rows.append(
            dict(
                first=first,
                second=second,
                target=ALL_TARGETS,
                resource_class=cls,
                n_langs=math.nan,
                langs=[],
                **summarise_draws(
                    float(np.mean([e for e, _, _ in parts])),
                    np.mean([d for _, d, _ in parts], axis=0),
                    alpha,
                ),
                resampling=kinds.pop() if len(kinds) == 1 else "mixed",
                n_targets=len(parts),
            )
        )
    rows.sort(
        key=lambda r: (
            r["first"],
            r["second"],
            (r["target"] == ALL_TARGETS, r["target"]),
            CLASSES.index(r["resource_class"]),
        )
    )
    return rows


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
