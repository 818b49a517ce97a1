"""Synthetic ordering studies with known effects: the records and per-example
statistics a study has, in memory (`simulate`, for calibration: thousands of
studies) or written as a study folder (`write_study`, through
`eval.analysis.records`, for the report's benchmark and tests).

    records, examples = simulate(Scenario("realistic"), np.random.default_rng(0))
    write_study(root, Scenario("realistic"), np.random.default_rng(0), full_size_targets())

Each test item has a success probability: a base difficulty (shared by the
languages of a parallel target, plus a language shift), an item × order shift
(how differently the two orders treat the item; mean 0 over the item population),
the planted effect of the first order, and seed effects in points: one per run
(path, seed), shared by a target's languages (or, with `shared_across_targets`,
by every target, as shared intermediate stages make it), and one per run and
language. Outcomes are drawn per run, so runs also differ item by item. The true
effect of a language is the planted one in its metric's units (`truth`), since
every other term has mean 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eval import analysis
from eval.analysis.records import Record, examples_file, examples_name, write_results
from eval.analysis.trained import chance_score
from eval.metrics import metric_from_stats
from eval.scoring.example_files import ExampleStats, write_examples
from eval.stats import resampling
from xlmr_flax.tasks import get_task

# Intermediate tasks whose orders are compared: comparison k is TASKS[2k] and
# TASKS[2k + 1] in both orders.
# TASKS[2k] sorts first, so the report's effect is score(first) − score(second).
TASKS = ("mnli", "squad_v1", "qqp", "sst2", "cosmosqa", "hellaswag", "anli", "ccg")
KIND = {"xnli": "accuracy", "xcopa": "accuracy", "panx": "seqeval", "udpos": "seqeval"}
KIND.update({t: "qa" for t in ("xquad", "mlqa", "tydiqa")})
KIND.update({"tatoeba": "accuracy", "lareqa": "map", "mewslix": "map"})
Targets = dict[str, tuple[Sequence[str], int | dict[str, int]]]
# Small test sets for tests: (languages, items per language).
CI_TARGETS: Targets = {
    "xnli": (("en", "sw", "ur", "bg", "de", "zh"), 300),
    "panx": (("en", "yo", "sw", "bg", "de"), 200),
    "tydiqa": (("en", "sw", "bn", "fi", "ko"), 150),
}
# Test items per language (XTREME-R's test sets, rounded; "*" where not listed).
SIZES = {
    "xnli": {"*": 5010},
    "xcopa": {"*": 500},
    "udpos": {"*": 1000, "en": 5440, "ru": 6491, "ja": 1800, "de": 1977, "it": 1789},
    "panx": {
        "*": 10000,
        **dict.fromkeys("jv yo qu my pa gu".split(), 100),
        **dict.fromkeys("sw tl ms ml mr ta te ur af kk".split(), 1000),
    },
    "xquad": {"*": 1190},
    "mlqa": {"*": 5000, "en": 11590},
    "tydiqa": {"*": 700, "en": 440, "bn": 113, "ko": 276},
    "tatoeba": {"*": 1000},
    "lareqa": {"*": 1190},
    "mewslix": {"*": 3000},
}


def full_size_targets(scale: float = 1.0, targets: Sequence[str] = tuple(SIZES)) -> Targets:
    """`targets` at their XTREME-R languages and test sizes (× `scale`, at least 10)."""
    out: Targets = {}
    for target in targets:
        sizes = SIZES[target]
        langs = get_task(target).eval_langs
        out[target] = (langs, {x: max(10, round(scale * sizes.get(x, sizes["*"]))) for x in langs})
    return out


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
    scale: float = 1.0  # test-set sizes × this
    effect: Callable[[str, str], float] | None = None  # None: no effect anywhere
    # A run that did not train (path, target, seed): it scores the target's chance
    # on every item and language (eval/analysis/trained.py's CHANCE).
    failed_run: tuple[tuple[str, ...], str, int] | None = None
    # The study's rule `replace`: every order of the failed run's pair is trained on
    # one more seed (numbered after the others) on the failed run's target.
    replace_failed: bool = False

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
_ENTITY_SLOPE = _entity_factor()


def truth(scenario: Scenario, target: str, lang: str) -> float:
    """The true ordering effect of a language, in its headline's points."""
    kind = KIND[target]
    slope = _ENTITY_SLOPE if kind == "seqeval" else SLOPE[kind]
    return slope * scenario.planted(target, lang)


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


_IDS: dict[tuple[str, int], np.ndarray] = {}


def _ids(target: str, n: int) -> np.ndarray:
    """Item ids as UTF-8 bytes, as examples files hold them (made once per size)."""
    if (target, n) not in _IDS:
        _IDS[(target, n)] = np.char.add(f"{target}-".encode(), np.arange(n).astype(bytes))
    return _IDS[(target, n)]


def simulate(
    scenario: Scenario,
    rng: np.random.Generator,
    targets: Targets = CI_TARGETS,
    paths: Sequence[tuple[str, ...]] | None = None,
    sink: Callable[[str, ExampleStats], None] | None = None,
) -> tuple[list[Record], dict[str, ExampleStats]]:
    """One synthetic study: its zero-shot records and, by each record's `examples`
    name, its runs' per-example statistics (empty without `scenario.examples`), or
    each run's statistics handed to `sink` as they are drawn (a full study's would
    fill gigabytes)."""
    if paths is None:
        paths = [p for k in range(scenario.comparisons) for p in comparison_paths(k)]
    spare = scenario.replace_failed and scenario.failed_run is not None
    seeds = range(scenario.seeds + spare)
    failed_path, failed_target, failed_seed = scenario.failed_run or ((), "", -1)
    pct = 0.01  # points → probability
    run_effect = {(p, s): rng.normal(0, scenario.seed_sd) for p in paths for s in seeds}
    first_orders = {comparison_paths(k)[0] for k in range(len(TASKS) // 2)}
    records: list[Record] = []
    examples: dict[str, ExampleStats] = {}
    for target, (langs, sizes) in targets.items():
        kind = KIND[target]
        parallel = target in resampling.PARALLEL_TARGETS
        size_of = sizes if isinstance(sizes, dict) else dict.fromkeys(langs, sizes)
        size_of = {x: max(10, round(scenario.scale * n)) for x, n in size_of.items()}
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
            ids = _ids(target, n)
            for path in paths:
                shift = rng.normal(0, scenario.item_order_sd * pct, n)
                if parallel:  # the item's translations share most of its order shift
                    shift = 0.8 * shared_shift[path][:n] + 0.6 * shift
                planted = scenario.planted(target, lang) if path in first_orders else 0.0
                for seed in seeds:
                    points = planted + run_effect[(path, seed)]
                    points += rng.normal(0, scenario.lang_seed_sd)
                    p = np.clip(base + shift + points * pct, 0.0, 1.0)
                    if seed == scenario.seeds and not (
                        target == failed_target and sorted(path) == sorted(failed_path)
                    ):
                        continue  # the replacement seed: only where a run failed
                    if (tuple(path), target, seed) == (
                        tuple(failed_path),
                        failed_target,
                        failed_seed,
                    ):
                        p = np.full_like(p, chance_score(target) * pct)
                    stats = _outcomes(kind, rng, p, entities)
                    name = examples_name(analysis.path_key(path), seed, target, lang)
                    if scenario.examples and sink is not None:
                        sink(name, ExampleStats(ids, stats))
                    elif scenario.examples:
                        examples[name] = ExampleStats(ids, stats)
                    records += [
                        Record(
                            kind="zero_shot",
                            path=tuple(path),
                            target=target,
                            lang=lang,
                            seed=seed,
                            metric=metric,
                            value=metric_from_stats(metric, values),
                            examples=name if scenario.examples else None,
                        )
                        for metric, values in stats.items()
                    ]
    return records, examples


def write_study(
    root: str,
    scenario: Scenario,
    rng: np.random.Generator,
    targets: Targets = CI_TARGETS,
    paths: Sequence[tuple[str, ...]] | None = None,
) -> int:
    """`simulate`, written as a study folder: root/results.jsonl and one examples
    file per run and language. Returns the number of records."""
    os.makedirs(root, exist_ok=True)

    def write(name: str, found: ExampleStats) -> None:
        write_examples(examples_file(root, name), _text_ids(found.ids), found.stats)

    records, _ = simulate(scenario, rng, targets, paths, sink=write)
    return write_results(root, records)


def _text_ids(ids: np.ndarray) -> list[str]:
    """`_ids` as text (made once per size: a full study writes 43,848 files)."""
    key = (len(ids), bytes(ids[0]))
    if key not in _TEXT_IDS:
        _TEXT_IDS[key] = [i.decode() for i in ids]
    return _TEXT_IDS[key]


_TEXT_IDS: dict[tuple[int, bytes], list[str]] = {}
