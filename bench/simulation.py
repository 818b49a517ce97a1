"""Synthetic ordering studies with known effects, written in the files a study writes
(results.jsonl lines by `eval.analysis.records.record_line`, as a study writes them,
and per-example `.npy` files), to check the report's intervals and tests by simulation.

    study = write_study(root, Scenario("realistic", seed_sd=0.7), np.random.default_rng(0))
    check = calibrate(Scenario("null"), replicates=50, root=tmp)   # rates over replicates

Each test item has a success probability: a base difficulty (shared by the
languages of a parallel target, plus a language shift), an item × order shift
(how differently the two orders treat the item; mean 0 over the item population),
the planted effect of the first order, and seed effects in points: one per run
(path, seed), shared by a target's languages (or, with `shared_across_targets`,
by every target), and one per run and language. Outcomes are drawn per run, so
runs also differ item by item. The true effect of a language is the planted one
in its metric's units (`truth`), since every other term has mean 0.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval import analysis
from eval.analysis.records import Record, record_line
from eval.metrics import metric_from_stats
from eval.scoring.example_files import write_examples
from eval.stats import ordering, resampling

# Intermediate tasks whose orders are compared: comparison k is TASKS[2k] and
# TASKS[2k + 1] in both orders.
# TASKS[2k] sorts first, so the report's effect is score(first) − score(second).
TASKS = ("mnli", "squad_v1", "qqp", "sst2", "cosmosqa", "hellaswag", "anli", "ccg")
KIND = {"xnli": "accuracy", "xcopa": "accuracy", "panx": "seqeval", "udpos": "seqeval"}
KIND.update({t: "qa" for t in ("xquad", "mlqa", "tydiqa")})
KIND.update({"tatoeba": "accuracy", "lareqa": "map", "mewslix": "map"})
# Small test sets for tests: (languages, items per language).
CI_TARGETS = {
    "xnli": (("en", "sw", "ur", "bg", "de", "zh"), 300),
    "panx": (("en", "yo", "sw", "bg", "de"), 200),
    "tydiqa": (("en", "sw", "bn", "fi", "ko"), 150),
}


@dataclass(frozen=True)
class Scenario:
    """One kind of study. Effects and standard deviations are in points (percent of
    success probability); `effect(target, lang)` is the first order's planted gain."""

    name: str
    seeds: int = 3
    seed_sd: float = 0.7  # per run (path, seed), shared by the target's languages
    lang_seed_sd: float = 0.3  # per run and language
    item_order_sd: float = 5.0  # per item and path: the orders treat items differently
    shared_across_targets: bool = False  # the run-level seed effect is the same everywhere
    comparisons: int = 1
    examples: bool = True
    effect: Callable[[str, str], float] | None = None  # None: no effect anywhere

    def planted(self, target: str, lang: str) -> float:
        return 0.0 if self.effect is None else float(self.effect(target, lang))


def _entity_counts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(gold, predicted) entities per sentence; correct ones are drawn per run."""
    gold = 1 + rng.poisson(1.0, n)
    predicted = np.maximum(gold + rng.integers(-1, 2, n), 0)
    return gold, predicted


# The headline's change per point of success probability: 1 for accuracy and mAP;
# QA (EM + F1) / 2 with F1 = 1 on a hit, else uniform on [0, 1] half of the time;
# seqeval F1 = 2 correct / (predicted + gold) with correct ~ Binomial(min, p).
def _entity_factor() -> float:
    gold, predicted = _entity_counts(np.random.default_rng(12345), 1_000_000)
    return float(2 * np.minimum(gold, predicted).mean() / (gold.mean() + predicted.mean()))


SLOPE = {"accuracy": 1.0, "map": 1.0, "qa": (1 + 0.75) / 2}


def truth(scenario: Scenario, target: str, lang: str) -> float:
    """The true ordering effect of a language, in its headline's points."""
    kind = KIND[target]
    slope = _ENTITY_SLOPE if kind == "seqeval" else SLOPE[kind]
    return slope * scenario.planted(target, lang)


_ENTITY_SLOPE = _entity_factor()


def comparison_paths(k: int) -> tuple[tuple[str, str], tuple[str, str]]:
    a, b = TASKS[2 * k], TASKS[2 * k + 1]
    return (a, b), (b, a)


def _outcomes(kind: str, rng, p: np.ndarray, entities) -> dict[str, np.ndarray]:
    """Per-example statistics (as `eval.metrics.example_stats` gives them)."""
    hits = (rng.random(p.shape) < p).astype(np.float64)
    if kind in ("accuracy", "map"):
        return {"map@20" if kind == "map" else "accuracy": hits}
    if kind == "qa":
        partial = np.where(rng.random(p.shape) < 0.5, rng.random(p.shape), 0.0)
        return {"exact_match": hits, "f1": np.where(hits > 0, 1.0, partial)}
    gold, predicted = entities
    correct = rng.binomial(np.minimum(gold, predicted), p)
    counts = np.stack([correct, predicted, gold], axis=1)
    return {"f1": counts, "precision": counts, "recall": counts}


def write_study(
    root: str,
    scenario: Scenario,
    rng: np.random.Generator,
    targets: dict[str, tuple[Sequence[str], int | dict[str, int]]] = CI_TARGETS,
    paths: Sequence[tuple[str, ...]] | None = None,
) -> int:
    """Writes root/results.jsonl and the examples files (`targets`: languages and
    test items, one number or one per language); returns the number of records."""
    if paths is None:
        paths = [p for k in range(scenario.comparisons) for p in comparison_paths(k)]
    seeds = range(scenario.seeds)
    pct = 0.01  # points → probability
    run_effect = {(p, s): rng.normal(0, scenario.seed_sd) for p in paths for s in seeds}
    first_orders = {comparison_paths(k)[0] for k in range(len(TASKS) // 2)}
    records = []
    for target, (langs, sizes) in targets.items():
        kind = KIND[target]
        parallel = target in resampling.PARALLEL_TARGETS
        size_of = sizes if isinstance(sizes, dict) else dict.fromkeys(langs, sizes)
        most = max(size_of.values())
        shared_base = rng.uniform(0.3, 0.7, most)
        shared_shift = {p: rng.normal(0, scenario.item_order_sd * pct, most) for p in paths}
        if not scenario.shared_across_targets:
            run_effect = {(p, s): rng.normal(0, scenario.seed_sd) for p in paths for s in seeds}
        for lang in langs:
            n = size_of[lang]  # a parallel target's languages hold its first n items
            if parallel:
                base = shared_base[:n] + rng.normal(0, 0.05, n)
            else:
                base = rng.uniform(0.3, 0.7, n)
            entities = _entity_counts(rng, n) if kind == "seqeval" else None
            ids = np.array([f"{target}-{i}" for i in range(n)])
            for path in paths:
                shift = rng.normal(0, scenario.item_order_sd * pct, n)
                if parallel:  # the item's translations share most of its order shift
                    shift = 0.8 * shared_shift[path][:n] + 0.6 * shift
                planted = scenario.planted(target, lang) if path in first_orders else 0.0
                for seed in seeds:
                    points = planted + run_effect[(path, seed)]
                    points += rng.normal(0, scenario.lang_seed_sd)
                    p = np.clip(base + shift + points * pct, 0.0, 1.0)
                    stats = _outcomes(kind, rng, p, entities)
                    rel = f"stages/{analysis.path_key(path)}-{seed}/eval/{target}/{lang}.npy"
                    if scenario.examples:
                        write_examples(os.path.join(root, rel), ids, stats)
                    for metric, values in stats.items():
                        records.append(
                            Record(
                                kind="zero_shot",
                                path=tuple(path),
                                target=target,
                                lang=lang,
                                seed=seed,
                                metric=metric,
                                value=metric_from_stats(metric, values),
                                stage=None,
                                examples=rel if scenario.examples else None,
                            )
                        )
    with open(os.path.join(root, "results.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(record_line(r) + "\n" for r in records)
    return len(records)


@dataclass
class Calibration:
    """Rates over the replicates of one scenario (NaN where nothing was counted)."""

    scenario: str
    replicates: int
    language_tests: int = 0
    language_rejections: int = 0  # unadjusted interval excludes the truth
    language_covered: int = 0
    class_tests: int = 0
    class_covered: int = 0
    class_families: int = 0  # (replicate, family) pairs of class effects
    family_errors: int = 0  # ... with any effect flagged whose truth is 0
    language_families: int = 0  # the same for the per-language families
    language_family_errors: int = 0
    flagged_untested: int = 0  # seeds-only rows flagged (must stay 0)
    warned: int = 0  # replicates whose analysis carries a warning

    @property
    def language_error(self) -> float:
        return self.language_rejections / self.language_tests if self.language_tests else np.nan

    @property
    def language_coverage(self) -> float:
        return self.language_covered / self.language_tests if self.language_tests else np.nan

    @property
    def class_coverage(self) -> float:
        return self.class_covered / self.class_tests if self.class_tests else np.nan

    @property
    def class_family_error(self) -> float:
        return self.family_errors / self.class_families if self.class_families else np.nan

    @property
    def language_family_error(self) -> float:
        if not self.language_families:
            return np.nan
        return self.language_family_errors / self.language_families

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in (
            "language_error",
            "language_coverage",
            "class_coverage",
            "class_family_error",
            "language_family_error",
        ):
            out[name] = getattr(self, name)
        return out


def _class_truth(scenario: Scenario, row: dict[str, Any], langs_of: dict[str, list[str]]) -> float:
    if row["target"] != analysis.ALL_TARGETS:
        return float(np.mean([truth(scenario, row["target"], lang) for lang in row["langs"]]))
    per_target = []
    for target, langs in langs_of.items():
        members = [x for x in langs if analysis.in_class(x, row["resource_class"])]
        if members:
            per_target.append(np.mean([truth(scenario, target, x) for x in members]))
    return float(np.mean(per_target))


def calibrate(
    scenario: Scenario,
    replicates: int,
    root: str,
    *,
    targets: dict[str, tuple[Sequence[str], int | dict[str, int]]] = CI_TARGETS,
    n_boot: int = 200,
    seed: int = 0,
) -> Calibration:
    """Simulates `replicates` studies of `scenario` in `root` (replaced each time),
    analyses each as the report does, and counts errors and coverage against truth."""
    result = Calibration(scenario.name, replicates)
    langs_of = {t: list(langs) for t, (langs, _) in targets.items()}
    for replicate in range(replicates):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        rng = np.random.default_rng([seed, replicate])
        write_study(root, scenario, rng, targets)
        records = analysis.load_results(os.path.join(root, "results.jsonl"))
        found = ordering.ordering_effects(records, root, n_boot=n_boot, seed=replicate)
        result.warned += bool(found.warnings)
        false_flags: dict[str, bool] = {}  # per family: any effect flagged that is 0
        for row in found.languages:
            true = truth(scenario, row["target"], row["lang"])
            false_flags.setdefault(row["family"], False)
            if not np.isfinite(row["p_value"]):  # shown, never tested
                result.flagged_untested += row["significant"] or row["excludes_zero"]
                continue
            result.language_tests += 1
            covered = row["ci_low"] <= true <= row["ci_high"]
            result.language_covered += covered
            result.language_rejections += not covered
            false_flags[row["family"]] |= row["significant"] and true == 0
        result.language_families += len(false_flags)
        result.language_family_errors += sum(false_flags.values())
        false_flags = {}
        for row in found.classes:
            true = _class_truth(scenario, row, langs_of)
            false_flags.setdefault(row["family"], False)
            if not np.isfinite(row["p_value"]):
                result.flagged_untested += row["significant"] or row["excludes_zero"]
                continue
            result.class_tests += 1
            result.class_covered += row["ci_low"] <= true <= row["ci_high"]
            false_flags[row["family"]] |= row["significant"] and true == 0
        result.class_families += len(false_flags)
        result.family_errors += sum(false_flags.values())
    shutil.rmtree(root, ignore_errors=True)
    return result


def scenarios() -> list[Scenario]:
    """The scenarios of docs/report.md's calibration table (null unless `planted`)."""

    def planted(target: str, lang: str) -> float:
        return 4.0 if analysis.language_class(lang) == "low" else 1.5

    return [
        Scenario("realistic (seed sd 0.7 per run)"),
        Scenario("3 comparisons", comparisons=3),
        Scenario("seed effect shared across targets", shared_across_targets=True),
        Scenario("seeds differ a lot (sd 1.8)", seed_sd=1.8),
        Scenario("seeds dominate (sd 4)", seed_sd=4.0, lang_seed_sd=1.0),
        Scenario("test-set noise dominates", seed_sd=0.0, lang_seed_sd=0.0, item_order_sd=10.0),
        Scenario("one seed", seeds=1),
        Scenario("no examples files (seeds only)", examples=False),
        Scenario("planted effect, seeds differ a lot", seed_sd=1.8, effect=planted),
        Scenario("planted effect, realistic", effect=planted),
    ]
