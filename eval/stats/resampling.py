"""The units test examples are resampled in, and the draws: which runs' examples
are the reference (the majority's), which examples form one unit (seqeval chunks
that cross sentences), and the per-language counts of each bootstrap draw (jointly
for parallel test sets). `eval.stats.ordering` builds the intervals from them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse as scipy_sparse
from scipy.sparse import csgraph as scipy_csgraph

from eval.analysis import Path
from eval.stats import bootstrap

# Targets whose languages' test items are translations of one set of items, with
# the same id in every language (positions for XNLI and XCOPA, SQuAD ids for XQuAD,
# MLQA's question ids, LAReQA's question ids): resampling them jointly keeps the
# correlation between languages that a class mean inherits. A language holding
# part of the items (MLQA) takes the draw's counts of its own items. UD-POS is not
# here: only its PUD treebanks are parallel, and its sentence ids do not say which;
# nor Tatoeba, whose languages have sentence pairs of their own (ids by position).
PARALLEL_TARGETS = frozenset({"xnli", "xcopa", "xquad", "mlqa", "lareqa"})


def reference_ids(
    found: dict[tuple[Path, int], np.ndarray],
) -> tuple[np.ndarray | None, list[tuple[Path, int]], dict[tuple[Path, int], str]]:
    """The reference ids of one (target, language): the set of test examples most runs
    have, in the order most of those runs have it; the runs kept (that set, in any
    order) and why each other run is left out. Where two sets are held by equally
    many runs there is no majority: the first run's set is kept, and the message
    says so. A run whose ids repeat is left out."""
    by_order: dict[tuple, list[tuple[Path, int]]] = {}  # raw bytes: equal lists found fast
    for key, ids in found.items():
        by_order.setdefault((ids.dtype.str, ids.tobytes()), []).append(key)
    by_set: dict[tuple, list[list[tuple[Path, int]]]] = {}
    excluded = {}
    for members in by_order.values():  # one sort per distinct order, not per run
        canonical = np.sort(found[members[0]])
        if len(canonical) > 1 and bool(np.any(canonical[1:] == canonical[:-1])):
            excluded.update(dict.fromkeys(members, "repeated ids"))
            continue
        by_set.setdefault((canonical.dtype.str, canonical.tobytes()), []).append(members)
    if not by_set:
        return None, [], excluded
    count = {raw: sum(map(len, orders)) for raw, orders in by_set.items()}
    most = max(count.values())
    chosen = next(raw for raw, n in count.items() if n == most)  # the first among ties
    tie = list(count.values()).count(most) > 1
    holders = max(by_set[chosen], key=len)  # the order most of them have
    reference = found[holders[0]]
    for raw, orders in by_set.items():
        if raw == chosen:
            continue
        for key in (k for members in orders for k in members):
            why = (
                f"its {len(found[key])} test examples differ from the {len(reference)} "
                f"that {most} of {len(found)} runs have"
            )
            if tie:
                why += " (no majority: as many runs have other examples; the first run's kept)"
            excluded[key] = why
    kept = {k for members in by_set[chosen] for k in members}
    return reference, [k for k in found if k in kept], excluded


def joined_rows(stats: dict[str, np.ndarray], position: np.ndarray | None) -> np.ndarray:
    """(k, 2) reference positions of examples joined to the example before them in the
    run's own order (the fourth column of seqeval counts, `eval.metrics.chunk_joins`),
    from the run's statistics in its own order; `position` maps its rows to reference
    positions (None: the same order)."""
    for array in stats.values():
        if array.ndim == 2 and array.shape[1] == 4:
            rows = np.flatnonzero(array[:, 3] > 0)
            rows = rows[rows > 0]
            if position is None:
                return np.stack([rows - 1, rows], axis=1)
            return np.stack([position[rows - 1], position[rows]], axis=1)
    return np.empty((0, 2), dtype=np.int64)


def resampling_units(
    ids: np.ndarray, stats: list[dict[str, np.ndarray]], joins: list[np.ndarray]
) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """The units test examples are resampled in, and every run's statistics summed per
    unit: examples joined in any run (`joins`, pairs of positions) form one unit (its
    id the first member's), all others stay units of their own. seqeval counts lose
    their join column here; statistics are summed, which is exact for counts, the
    only statistics that are ever joined."""
    n = len(ids)
    pairs = np.concatenate(joins) if joins else np.empty((0, 2), dtype=np.int64)
    if len(pairs):
        graph = scipy_sparse.coo_matrix(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
        )
        _, label = scipy_csgraph.connected_components(graph, directed=False)
        # Units numbered in the order of their first example.
        first = np.full(label.max() + 1, n)
        np.minimum.at(first, label, np.arange(n))
        rank = np.empty_like(first)
        rank[np.argsort(first)] = np.arange(len(first))
        label = rank[label]
        first = np.sort(first)
        contiguous = bool(np.all(np.diff(label) >= 0))  # each unit's examples side by side
    else:
        label, first, contiguous = None, None, False
    merged = []
    for run in stats:
        done: dict[int, np.ndarray] = {}  # metrics sharing one array stay shared
        out = {}
        for metric, array in run.items():
            if id(array) not in done:
                values = array[:, :3] if array.ndim == 2 and array.shape[1] == 4 else array
                if label is not None and contiguous:  # the usual case: one fast call
                    values = np.add.reduceat(values.astype(np.float64), first, axis=0)
                elif label is not None:
                    summed = np.zeros((len(first), *values.shape[1:]), dtype=np.float64)
                    np.add.at(summed, label, values)
                    values = summed
                done[id(array)] = values
            out[metric] = done[id(array)]
        merged.append(out)
    return (ids if first is None else ids[first]), merged


@dataclass
class Cell:
    lang: str
    paired: dict[tuple[Path, Path], list[int]]
    metrics: tuple[str, ...]
    ids: np.ndarray | None = None  # of the units examples are resampled in
    n_examples: int = 0
    found: dict[tuple[Path, int], dict[str, np.ndarray]] = field(default_factory=dict)


class Draws(Mapping[str, np.ndarray]):
    """Per language, its (n_boot, n) example counts, drawn when asked for: one draw
    over the union of item ids for a parallel target (made once), else one draw per
    language. Only the languages being analysed hold their counts (a full PAN-X has
    48 languages of 10,000 sentences: 1.9 GB of counts if drawn at once)."""

    def __init__(self, target: str, cells: list[Cell], n_boot: int, seed: int) -> None:
        self.target, self.n_boot, self.seed = target, n_boot, seed
        self.ids = {c.lang: c.ids for c in cells if c.ids is not None and c.found}
        self.union: np.ndarray | None = None
        self.joint: np.ndarray | None = None
        if target in PARALLEL_TARGETS and len(self.ids) > 1:
            self.union = np.unique(np.concatenate(list(self.ids.values())))

    def __getitem__(self, lang: str) -> np.ndarray:
        ids = self.ids[lang]
        if self.union is None:
            name = bootstrap.key_generator(self.seed, "examples", self.target, lang)
            return bootstrap.resample_counts(name, len(ids), self.n_boot)
        if self.joint is None:
            name = bootstrap.key_generator(self.seed, "examples", self.target)
            self.joint = bootstrap.resample_counts(name, len(self.union), self.n_boot)
        return self.joint[:, np.searchsorted(self.union, ids)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def draws(target: str, cells: list[Cell], n_boot: int, seed: int) -> Draws:
    """Per language, its (n_boot, n) example counts (`Draws`, drawn when asked for)."""
    return Draws(target, cells, n_boot, seed)
