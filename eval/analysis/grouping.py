"""The layout of a study: how its paths and languages are named, grouped and ordered,
which of its paths are the same tasks in another order, and which runs it lacks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from eval.analysis.records import Path, Record, group_runs
from xlmr_flax.languages import RESOURCE_CLASSES, UnknownLanguageError, language

# The training language: its scores are in the tables but not in the resource-class
# means, which are about transfer to other languages.
SOURCE_LANGS = ("en",)
ALL_TARGETS = "all targets"


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
