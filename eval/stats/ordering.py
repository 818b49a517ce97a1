"""The ordering effect: score(A→B→T) − score(B→A→T) per target and language, then
per resource class (per target and over all targets), with intervals that hold
both seed-to-seed variation and test-set sampling (`eval.stats.effects`).

    analysis = ordering_effects(records, "runs/x", n_boot=1000)
    analysis.languages, analysis.classes, analysis.notes, analysis.families

Test examples are resampled once per (target, language) — or once per target
where its languages' items are translations of each other (PARALLEL_TARGETS),
jointly by item id — and every run of that test set is rescored on the same
draws, so the two orders and all seeds are paired. Sentences that seqeval's chunks
join (`eval.metrics.chunk_joins`) are drawn as one unit (`resampling_units`).
A class effect averages its languages seed by seed, so run-level seed effects that
its languages share (and, over all targets, that the targets share) stay in its
seed-to-seed variance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.analysis import (
    ALL_TARGETS,
    CLASSES,
    Path,
    Record,
    RunKey,
    group_runs,
    headline_metrics,
    headline_scores,
    in_class,
    language_cc100,
    language_class,
    language_order,
    order_comparisons,
    path_key,
)
from eval.stats import bootstrap, effects
from eval.stats.cells import ExamplesReader, cell_statistics, read_study_examples, run_name
from eval.stats.resampling import PARALLEL_TARGETS, Cell, draws, resampling_units

ALPHA = effects.ALPHA
# A recomputed score may differ from the recorded one by float rounding only.
CONSISTENCY_TOLERANCE = 1e-3


# Families of tests: one question each — does the order of these tasks matter on
# this target's languages; does it matter for the resource classes.
def language_family(first: Path, second: Path, target: str) -> str:
    return f"per-language effects of {path_key(first)} vs {path_key(second)} on {target}"


def class_family(first: Path, second: Path) -> str:
    return f"resource-class effects of {path_key(first)} vs {path_key(second)}"


# A primary effect named before the results (config.report.primary_class) is one
# question on its own: the class over all targets, tested alone at alpha.
def primary_family(first: Path, second: Path, cls: str) -> str:
    return f"primary: {cls}-resource effect of {path_key(first)} vs {path_key(second)}"


@dataclass
class OrderingAnalysis:
    """Per-language and resource-class effects, their per-seed series (seeds,
    differences, resampled differences) and notes on what limited the analysis."""

    languages: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    series: dict[tuple, tuple[list[int], np.ndarray, np.ndarray | None]] = field(
        default_factory=dict
    )
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unmatched: list[Path] = field(default_factory=list)
    families: dict[str, int] = field(default_factory=dict)
    n_boot: int = 0
    alpha: float = ALPHA
    test_one_seed: bool = False  # effects on one seed are tested (else conditional)
    primary_class: str = ""  # its all-targets row is tested alone (primary_family)

    @property
    def report_error_bound(self) -> float:
        """Chance of any false flag in the whole report: at most alpha per family."""
        return min(1.0, self.alpha * len(self.families))


def _listed(what: str, items: Sequence[str], limit: int = 10) -> str:
    """'N what: a; b; ...' naming at most `limit` items (a full study can have thousands)."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}: " + "; ".join(items[:limit]) + more


def ordering_effects(
    records: Sequence[Record],
    workdir: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    test_one_seed: bool = False,
    primary_class: str = "",
    read: ExamplesReader = read_study_examples,
) -> OrderingAnalysis:
    """The ordering effect of every comparison from `order_comparisons`, per target
    and language, then per resource class; each with its t interval and Holm's
    correction within its family (per-language effects: one family per comparison
    and target; class effects: one family per comparison). Effects on one seed are
    tested only with `test_one_seed` (otherwise their intervals are conditional on
    the seed). `primary_class` (a resource class, named before the results): its
    all-targets effect of each comparison is a family of its own, tested at alpha
    alone, and leaves the class family (class rows say so in `primary`). `read`
    reads a run's per-example statistics (default: the files the records name)."""
    if primary_class and primary_class not in CLASSES:
        raise ValueError(
            f"primary class {primary_class!r} is not a resource class; "
            f"expected one of {', '.join(CLASSES)} or empty"
        )
    scores, _ = headline_scores(records, "zero_shot")
    runs = group_runs(records, "zero_shot")
    comparisons, unmatched = order_comparisons({k[0] for k in scores})
    result = OrderingAnalysis(
        unmatched=unmatched,
        n_boot=n_boot,
        alpha=alpha,
        test_one_seed=test_one_seed,
        primary_class=primary_class,
    )
    if not comparisons:
        return result
    involved = {p for pair in comparisons for p in pair}
    seeds_of: dict[tuple[Path, str, str], set[int]] = defaultdict(set)
    langs_of: dict[str, set[str]] = defaultdict(set)
    for path, target, lang, s in scores:
        seeds_of[(path, target, lang)].add(s)
        if path in involved:
            langs_of[target].add(lang)
    problems: list[str] = []
    mismatched: list[str] = []
    for target in sorted(langs_of):
        # A parallel target's languages share one draw over their items' union, so
        # all are read first; any other target's languages are analysed one by one
        # and only one language's statistics are held (PAN-X: 48 languages × 216 runs).
        jointly = target in PARALLEL_TARGETS
        cells = []
        for lang in sorted(langs_of[target]):
            paired = {}
            for first, second in comparisons:
                both = seeds_of[(first, target, lang)] & seeds_of[(second, target, lang)]
                if both:
                    paired[(first, second)] = sorted(both)
            if not paired:
                continue
            needed = sorted({(p, s) for pair, ss in paired.items() for p in pair for s in ss})
            metrics = headline_metrics(target, runs[(needed[0][0], target, lang, needed[0][1])])
            cell = Cell(lang, paired, metrics)
            ids, found, joins = cell_statistics(
                runs, needed, target, lang, metrics, workdir, problems, read
            )
            if found:
                cell.n_examples = len(ids)
                cell.ids, merged = resampling_units(ids, list(found.values()), joins)
                cell.found = dict(zip(found, merged, strict=True))
            cells.append(cell)
            if not jointly:
                _analyse_cells(result, scores, target, cells[-1:], n_boot, seed, mismatched)
        if jointly:
            _analyse_cells(result, scores, target, cells, n_boot, seed, mismatched)
    result.families.update(effects.adjust_families(result.languages, alpha))
    result.classes = _class_effects(result, alpha)
    result.families.update(effects.adjust_families(result.classes, alpha))
    _add_notes(result, problems, mismatched)
    return result


def _analyse_cells(
    result: OrderingAnalysis,
    scores: dict[RunKey, float],
    target: str,
    cells: list[Cell],
    n_boot: int,
    seed: int,
    mismatched: list[str],
) -> None:
    """The per-language rows of `cells`, then their statistics are freed."""
    counts = draws(target, cells, n_boot, seed)
    for cell in cells:
        counts_of = counts.get(cell.lang)
        _language_rows(result, scores, target, cell, counts_of, mismatched, result.alpha)
        cell.found.clear()


def _language_rows(
    result: OrderingAnalysis,
    scores: dict[RunKey, float],
    target: str,
    cell: Cell,
    counts: np.ndarray | None,
    mismatched: list[str],
    alpha: float,
) -> None:
    lang = cell.lang
    column: dict[tuple[Path, int], int] = {}
    resampled = None
    if counts is not None and cell.found:
        keys = list(cell.found)
        column = {key: j for j, key in enumerate(keys)}
        stats = [cell.found[k] for k in keys]
        resampled, full = bootstrap.resampled_and_full_headlines(stats, cell.metrics, counts)
        for key, value in zip(keys, full, strict=True):
            recorded = scores[(key[0], target, lang, key[1])]
            if abs(value - recorded) > CONSISTENCY_TOLERANCE:
                mismatched.append(
                    f"{run_name(key[0], target, lang, key[1])}: {value:.3f} from its "
                    f"examples, {recorded:.3f} recorded"
                )
    # Comparisons on the same seeds (and with or without resampling) are estimated
    # together: one vectorised call per group instead of one per comparison.
    groups: dict[tuple, list[tuple[Path, Path]]] = defaultdict(list)
    for pair, seeds in cell.paired.items():
        resampled_pair = resampled is not None and all(
            (p, s) in column for p in pair for s in seeds
        )
        groups[(tuple(seeds), resampled_pair)].append(pair)
    for (seeds, with_boot), pairs in groups.items():
        diffs = np.array(
            [[scores[(a, target, lang, s)] - scores[(b, target, lang, s)] for s in seeds]
             for a, b in pairs]
        )  # fmt: skip
        boot = None
        if with_boot:
            firsts = [[column[(first, s)] for s in seeds] for first, _ in pairs]
            seconds = [[column[(second, s)] for s in seeds] for _, second in pairs]
            # (pairs, B, S), float32 like the resampled scores: a full study keeps
            # every language's series for its class means.
            boot = np.moveaxis(resampled[:, firsts] - resampled[:, seconds], 1, 0)
            boot = boot.astype(np.float32, copy=False)
        found = effects.paired_effects(
            diffs, boot, alpha=alpha, test_one_seed=result.test_one_seed, finish=False
        )
        for k, ((first, second), estimate) in enumerate(zip(pairs, found, strict=True)):
            result.languages.append(
                dict(
                    first=first,
                    second=second,
                    target=target,
                    lang=lang,
                    resource_class=language_class(lang),
                    cc100_gib=language_cc100(lang),
                    **estimate,
                    seeds=list(seeds),
                    n_examples=cell.n_examples if boot is not None else math.nan,
                    family=language_family(first, second, target),
                )
            )
            series = (list(seeds), diffs[k], None if boot is None else boot[k])
            result.series[(first, second, target, lang)] = series


def _combine(
    parts: list[tuple[list[int], np.ndarray, np.ndarray | None]],
) -> tuple[list[int], np.ndarray, np.ndarray | None] | None:
    """The seed-by-seed mean of several per-seed series over their common seeds
    (None when they share no seed); resampled only when every part is."""
    common = sorted(set.intersection(*(set(seeds) for seeds, _, _ in parts)))
    if not common:
        return None
    picked = [[seeds.index(s) for s in common] for seeds, _, _ in parts]
    diffs = np.mean([d[k] for (_, d, _), k in zip(parts, picked, strict=True)], axis=0)
    boot = None
    if all(b is not None for _, _, b in parts):
        boot = np.mean([b[:, k] for (_, _, b), k in zip(parts, picked, strict=True)], axis=0)
    return common, diffs, boot


def _class_effects(result: OrderingAnalysis, alpha: float) -> list[dict[str, Any]]:
    """Mean effect over the languages of each class, per target and over all targets,
    computed seed by seed on the seeds its members share."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for row in result.languages:
        grouped[(row["first"], row["second"], row["target"])].append(row)
    rows: list[dict[str, Any]] = []
    per_class: dict[tuple, list] = defaultdict(list)
    for (first, second, target), group in grouped.items():
        for cls in CLASSES:
            members = sorted(
                (r for r in group if in_class(r["lang"], cls)),
                key=lambda r: language_order(r["lang"]),
            )
            if not members:
                continue
            series = _combine([result.series[(first, second, target, r["lang"])] for r in members])
            if series is None:
                continue
            _, diffs, boot = series
            rows.append(
                dict(
                    first=first,
                    second=second,
                    target=target,
                    resource_class=cls,
                    n_langs=len(members),
                    langs=[r["lang"] for r in members],
                    **effects.estimate(diffs, boot, alpha, False, result.test_one_seed),
                    family=class_family(first, second),
                    primary=False,
                )
            )
            per_class[(first, second, cls)].append(series)
    for (first, second, cls), parts in per_class.items():
        series = _combine(parts)
        if series is None:
            continue
        _, diffs, boot = series
        rows.append(
            dict(
                first=first,
                second=second,
                target=ALL_TARGETS,
                resource_class=cls,
                n_langs=math.nan,
                langs=[],
                **effects.estimate(diffs, boot, alpha, False, result.test_one_seed),
                n_targets=len(parts),
                family=primary_family(first, second, cls)
                if cls == result.primary_class
                else class_family(first, second),
                primary=cls == result.primary_class,
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


def _add_notes(result: OrderingAnalysis, problems: list[str], mismatched: list[str]) -> None:
    if problems:
        result.notes.append(_listed("run(s) without usable per-example statistics", problems))
    if mismatched:
        result.notes.append(_listed("run(s) whose examples file gives another score", mismatched))
    seeds_only = [r for r in result.languages if r["resampling"] == effects.SEEDS_ONLY]
    if seeds_only:
        result.notes.append(
            f"{len(seeds_only)} of {len(result.languages)} per-language effects (and the "
            "class effects they enter) lack per-example statistics for some run: their "
            "intervals hold seed-to-seed variation only, not the test-set sampling the "
            "seeds share, so they are shown but never tested or flagged"
        )
    one_seed = [r for r in result.languages if r["resampling"] == effects.ONE_SEED]
    if one_seed:
        result.warnings.append(_one_seed_warning(result, one_seed))


def _one_seed_warning(result: OrderingAnalysis, one_seed: list[dict[str, Any]]) -> str:
    """What one seed means for this study, with rates computed from its own rows."""
    level = 1 - result.alpha
    outside = sum(r["ci_low"] > 0 or r["ci_high"] < 0 for r in one_seed)
    ratio = [r["se_examples"] for r in one_seed if r["se"] > 0]
    text = (
        f"{len(one_seed)} of {len(result.languages)} per-language effects rest on one seed: "
        f"seed-to-seed variation cannot be estimated, so their {level:.0%} intervals hold "
        "test-set sampling only and are conditional on that seed (how precisely its "
        f"models were measured, not how another seed would do); {outside} of them "
        f"({outside / len(one_seed):.0%}) exclude zero, against {result.alpha:.0%} if "
        "seeds did not matter"
    )
    if ratio:
        text += f" (median test-set se {float(np.median(ratio)):.2f} points)"
    if result.test_one_seed:
        return text + "; they are tested as asked, so flags may be the seed's luck"
    return text + "; they are not tested and nothing on them is flagged"
