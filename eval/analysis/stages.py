"""Scores measured stage by stage along a path: forgetting of an intermediate task's
dev score under later stages, and cross-lingual alignment of the encoder."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from eval.analysis.grouping import in_class, path_order
from eval.analysis.records import Path, Record
from eval.analysis.scores import headline_scores, mean_sd, summarise_seeds
from xlmr_flax.languages import CLASSES


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
