"""Whether each run trained: a run (path, target, seed) whose English score on its
target lies at or below the task's chance score plus a margin did not learn the task
(the fine-tuning-stability literature calls a run at or below the majority baseline
failed). The check reads what the study already records — the English zero-shot
score of the run; the pipeline adds the stage's training loss, first steps against
last, to the reason it writes on the run's records (`training_failed`).

    failed = failed_runs(records, margin=5.0)        # FailedRun per run, in order
    kept = apply_rule(records, failed, REPLACE)      # the analysed records under a rule
    rates = failure_rates(records, failed)           # per path and per ordered pair

The rule (`config.report.failed_runs`, fixed before anything trains): `keep` analyses
every run as it came out; `replace` drops seed s of every order of a pair on a target
where one of them failed at s, and the study trains the next seed in its place for
every order of that pair alike, so the rule cannot favour one order.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eval.analysis.grouping import order_comparisons, path_key
from eval.analysis.records import Path, Record
from eval.analysis.scores import headline_scores

KEEP, REPLACE = "keep", "replace"
RULES = (KEEP, REPLACE)
DEFAULT_MARGIN = 5.0  # points above chance at or below which a run did not train
SOURCE_LANG = "en"  # every target trains on English

# The headline score a model scores without having learnt the task: uniform (= the
# majority class on balanced XNLI) over XNLI's three labels and XCOPA's two choices.
# The other targets score 0 without training: PAN-X's F1 when every token is "O", span
# extraction's exact match and F1 on empty answers, retrieval's accuracy and mAP@20 on
# pools of a thousand and more candidates (< 0.1 points). UD-POS is per-token F1 over
# 17 tags, whose majority tag (NOUN) scores about 17: 0 there is a floor, not a match.
CHANCE = {"xnli": 100.0 / 3, "xcopa": 50.0}


def chance_score(target: str) -> float:
    """The target's chance (majority-baseline) headline score, in points."""
    return CHANCE.get(target, 0.0)


class RuleError(ValueError):
    """A rule for failed runs that cannot be used (one line naming the key)."""


def check_rule(rule: str, margin: float, where: str = "config.report") -> None:
    if rule not in RULES:
        raise RuleError(f"{where}.failed_runs: expected {' or '.join(RULES)}, got {rule!r}")
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin):
        raise RuleError(f"{where}.failure_margin: expected a number of points, got {margin!r}")


@dataclass(frozen=True)
class FailedRun:
    """One run that did not train, and why (one line)."""

    path: Path
    target: str
    seed: int
    score: float  # its English headline score (NaN when only the record's flag says so)
    chance: float
    reason: str

    def name(self) -> str:
        return f"{path_key(self.path)} on {self.target}, seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return dict(
            path=list(self.path),
            target=self.target,
            seed=self.seed,
            score=self.score,
            chance=self.chance,
            reason=self.reason,
        )


def score_reason(score: float, target: str, margin: float) -> str | None:
    """Why an English score says the run did not train; None when it trained."""
    chance = chance_score(target)
    if score > chance + margin:
        return None
    return f"English score {score:.1f} at or below chance {chance:.1f} + margin {margin:g}"


def failed_runs(records: Iterable[Record], margin: float = DEFAULT_MARGIN) -> list[FailedRun]:
    """The zero-shot runs that did not train, by path, target and seed: those whose
    English headline score is at or below chance + `margin`, and those whose records
    carry the pipeline's `training_failed` reason."""
    records = list(records)
    scores, _ = headline_scores(records, "zero_shot")
    flagged: dict[tuple[Path, str, int], str] = {}
    for r in records:
        if r.kind == "zero_shot" and r.training_failed:
            flagged.setdefault((r.path, r.target, r.seed), r.training_failed)
    english = {(p, t, s): v for (p, t, lang, s), v in scores.items() if lang == SOURCE_LANG}
    found = []
    for key in sorted(set(english) | set(flagged), key=lambda k: (k[1], path_key(k[0]), k[2])):
        path, target, seed = key
        score = english.get(key, math.nan)
        reason = flagged.get(key) or score_reason(score, target, margin)
        if reason is not None:
            found.append(FailedRun(path, target, seed, score, chance_score(target), reason))
    return found


def order_group(path: Path) -> Path:
    """The paths whose runs the rule treats alike: every order of the same tasks."""
    return tuple(sorted(path))


def apply_rule(records: Sequence[Record], failed: Iterable[FailedRun], rule: str) -> list[Record]:
    """The zero-shot records the analysis uses under `rule` (other kinds unchanged).
    `replace`: no record of seed s on target t for any order of a pair where one order
    failed there; the replacement seeds the study trained take their places, the k-th
    replacement (by seed) carrying the k-th failed seed's number, so that a pair's
    seeds still line up across targets (the class effects over targets average seed by
    seed). A replacement seed is one the pair has on the target and on no target
    without a failure."""
    if rule == KEEP:
        return list(records)
    if rule != REPLACE:
        raise RuleError(f"failed_runs: expected {' or '.join(RULES)}, got {rule!r}")
    dropped = {(order_group(f.path), f.target, f.seed) for f in failed}
    seeds: dict[tuple[Path, str], set[int]] = defaultdict(set)
    for r in records:
        if r.kind == "zero_shot":
            seeds[(order_group(r.path), r.target)].add(r.seed)
    failed_targets = {(g, t) for g, t, _ in dropped}
    relabel: dict[tuple[Path, str, int], int] = {}
    for group, target in failed_targets:
        planned = set().union(
            *(s for (g, t), s in seeds.items() if g == group and (g, t) not in failed_targets)
        )
        if not planned:
            continue
        holes = sorted(s for s in seeds[(group, target)] if (group, target, s) in dropped)
        spare = sorted(
            s for s in seeds[(group, target)] - planned if (group, target, s) not in dropped
        )
        holes = [h for h in holes if h in planned]
        for hole, seed in zip(holes, spare, strict=False):
            relabel[(group, target, seed)] = hole
    kept = []
    for r in records:
        if r.kind != "zero_shot":
            kept.append(r)
            continue
        key = (order_group(r.path), r.target, r.seed)
        if key in dropped:
            continue
        kept.append(dataclasses.replace(r, seed=relabel[key]) if key in relabel else r)
    return kept


def replacement_runs(
    failed: Iterable[FailedRun], paths: Iterable[Path], used_seeds: Iterable[int]
) -> list[tuple[Path, str, int]]:
    """(path, target, seed) to train under `replace`: one new seed per failed run, for
    every order of its pair, numbered after every seed the study has used."""
    groups: dict[Path, list[Path]] = defaultdict(list)
    for p in sorted(set(paths)):
        groups[order_group(p)].append(p)
    next_seed = max(used_seeds, default=-1) + 1
    counts: dict[tuple[Path, str], int] = defaultdict(int)
    for f in failed:
        counts[(order_group(f.path), f.target)] += 1
    runs = []
    for (group, target), n in sorted(counts.items()):
        for k in range(n):
            runs += [(p, target, next_seed + k) for p in groups.get(group, [group])]
    return runs


def exact_order_test(first_only: int, second_only: int) -> float:
    """Two-sided exact p-value that one order fails as often as the other, from the
    discordant seeds (one order failed, the other trained): McNemar's exact test, the
    binomial test of first_only in first_only + second_only at 1/2. Seeds where both
    or neither failed carry no information on which order fails more."""
    from scipy import stats  # only where failure rates are computed: the CLI stays light

    n = first_only + second_only
    if n == 0:
        return 1.0
    return float(stats.binomtest(first_only, n, 0.5).pvalue)


def failure_rates(records: Iterable[Record], failed: Iterable[FailedRun]) -> dict[str, Any]:
    """Failure as a finding: per path (runs checked, failed) and per ordered pair on
    each target and over all targets (runs paired by target and seed, the discordant
    counts and the exact test of `exact_order_test`)."""
    scores, _ = headline_scores(list(records), "zero_shot")
    checked = {(p, t, s) for (p, t, lang, s) in scores if lang == SOURCE_LANG}
    bad = {(f.path, f.target, f.seed) for f in failed}
    per_path = []
    for path in sorted({p for p, _, _ in checked}, key=path_key):
        runs = [k for k in checked if k[0] == path]
        per_path.append(dict(path=list(path), runs=len(runs), failed=sum(k in bad for k in runs)))
    pairs, _ = order_comparisons({p for p, _, _ in checked})
    per_pair = []
    for first, second in pairs:
        targets = sorted({t for p, t, _ in checked if p in (first, second)})
        for target in [*targets, None]:
            both = [
                (t, s)
                for (p, t, s) in checked
                if p == first and (target is None or t == target) and (second, t, s) in checked
            ]
            a = sum((first, t, s) in bad and (second, t, s) not in bad for t, s in both)
            b = sum((second, t, s) in bad and (first, t, s) not in bad for t, s in both)
            together = sum((first, t, s) in bad and (second, t, s) in bad for t, s in both)
            per_pair.append(
                dict(
                    first=list(first),
                    second=list(second),
                    target=target or "all targets",
                    paired_runs=len(both),
                    first_failed=a + together,
                    second_failed=b + together,
                    first_only=a,
                    second_only=b,
                    p_value=exact_order_test(a, b),
                )
            )
    return dict(paths=per_path, pairs=per_pair)
