"""Which seeds each comparison of an adaptive study analyses at a look, and its
per-seed series over them (eval/stats/adaptive_study.py records the looks).

Under `config.report.failed_runs = "replace"` a seed on which either order of a pair
failed on a target is skipped for that pair and target, and the pair's next seed
takes its place; every seed trained, the failed ones included, counts against the
design's budget (docs/adaptive.md, "Failed runs").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from eval.analysis import Record, in_class, trained
from eval.stats.ordering import ordering_effects

Run = tuple[tuple[str, ...], str, int]  # (path, target, seed)


def comparison_seeds(
    seeds: Sequence[int], failed: Iterable[int], count: int
) -> tuple[list[int], list[int]] | None:
    """(analysed, spent): the first `count` of the design's `seeds`, in order, on which
    neither order of a pair failed on its target, and every seed trained to reach them,
    the failed ones included: under `replace` a failed run is replaced by the pair's
    next seed, and each seed trained counts against the budget. None when the budget's
    seeds run out before `count` analysed seeds (the comparison stops at its budget)."""
    failed = set(failed)
    analysed: list[int] = []
    spent: list[int] = []
    for s in seeds:
        if len(analysed) == count:
            break
        spent.append(s)
        if s not in failed:
            analysed.append(s)
    return (analysed, spent) if len(analysed) == count else None


def failed_seeds(planned, failed: set[Run], rule: str) -> dict[tuple, set[int]]:
    """{(first, second, target): seeds a run of either order failed on}; empty under
    `keep`, which analyses failed runs as they came out."""
    if rule != trained.REPLACE:
        return {}
    found: dict[tuple, set[int]] = {}
    for a, b in planned["pairs"]:
        for p, t, s in failed:
            if p in (tuple(a), tuple(b)):
                found.setdefault((tuple(a), tuple(b), t), set()).add(s)
    return found


def comparison_series(records: Sequence[Record], workdir: str, planned, seeds_of, n_boot, seed):
    """{(first, second, target, class): (diffs (S,), boot (n_boot, S), langs)} over
    `seeds_of[(first, second, target)]` (comparisons without an entry are left out),
    the class mean over its languages seed by seed. Comparisons on the same seeds are
    analysed together (all of them, unless a failed run was replaced)."""
    groups: dict[tuple, list[tuple]] = {}
    for key, seeds in seeds_of.items():
        groups.setdefault(tuple(seeds), []).append(key)
    found = {}
    for seeds, keys in sorted(groups.items()):
        found.update(_group_series(records, workdir, planned, list(seeds), keys, n_boot, seed))
    return found


def _group_series(records, workdir, planned, seeds, keys, n_boot, seed):
    involved = {p for first, second, _ in keys for p in (first, second)}
    targets = {t for _, _, t in keys}
    chosen = [
        r
        for r in records
        if r.kind == "zero_shot" and r.seed in seeds and r.path in involved and r.target in targets
    ]
    analysis = ordering_effects(chosen, workdir, n_boot=n_boot, seed=seed)
    found = {}
    for first, second in [(tuple(a), tuple(b)) for a, b in planned["pairs"]]:
        for target in planned["targets"]:
            if (first, second, target) not in keys:
                continue
            for cls in planned["design"]["families"]:
                parts = [
                    (lang, value)
                    for (a, b, t, lang), value in analysis.series.items()
                    if (a, b, t) == (first, second, target) and in_class(lang, cls)
                ]
                if not parts or any(sorted(s) != sorted(seeds) for _, (s, _, _) in parts):
                    continue
                # Every part holds the same seeds in the same (sorted) order.
                diffs = np.mean([d for _, (_, d, _) in parts], axis=0)
                boot = None
                if all(b is not None for _, (_, _, b) in parts):
                    boot = np.mean([b for _, (_, _, b) in parts], axis=0)
                found[(first, second, target, cls)] = (
                    diffs,
                    boot,
                    sorted(lang for lang, _ in parts),
                )
    return found
