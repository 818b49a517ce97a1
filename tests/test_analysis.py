"""The analysis of an ordering study on synthetic results with known effects: headline
scores, the paired bootstrap (planted effects found, zero effects covered about 95 %
of the time), resource classes, seqeval counts, partial studies, malformed files."""

import json
import math
import os

import numpy as np
import pytest

from eval import analysis as an
from eval.stats import bootstrap, effects
from eval.stats import ordering as od
from xlmr_flax import languages

AB, BA = ("mnli", "squad_v1"), ("squad_v1", "mnli")
PATHS = [(), ("mnli",), ("squad_v1",), AB, BA]
LANGS = {"xnli": ["en", "sw", "yo", "bg", "de"], "panx": ["en", "sw", "bg", "de"]}


def _seqeval(counts):
    correct, predicted, gold = np.sum(counts, axis=0)
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return {"precision": 100 * p, "recall": 100 * r, "f1": 200 * p * r / (p + r) if p + r else 0.0}


def write_study(
    root,
    *,
    langs=None,
    paths=PATHS,
    seeds=(0, 1, 2),
    n=400,
    effect=lambda path, target, lang: 0.0,
    examples=True,
    skip=lambda path, target, lang, seed: False,
    rng_seed=0,
):
    """Writes root/results.jsonl (+ examples files) for a synthetic study. Per-example
    outcomes share each item's difficulty across paths and seeds; `effect(path, target,
    lang)` shifts a path's success probability (in points)."""
    rng = np.random.default_rng(rng_seed)
    records = []
    langs = LANGS if langs is None else langs
    for target, target_langs in langs.items():
        for lang in target_langs:
            difficulty = rng.uniform(0.35, 0.65, size=n)
            for path in paths:
                for seed in seeds:
                    if skip(path, target, lang, seed):
                        continue
                    p = np.clip(difficulty + effect(path, target, lang) / 100, 0, 1)
                    if target == "panx":
                        gold = 1 + rng.poisson(1.0, n)
                        predicted = np.maximum(gold + rng.integers(-1, 2, n), 0)
                        correct = rng.binomial(np.minimum(gold, predicted), p)
                        stats = np.stack([correct, predicted, gold], axis=1)
                        values = _seqeval(stats)
                        file_stats = {m: stats.tolist() for m in values}
                    else:
                        hits = (rng.random(n) < p).astype(float)
                        values = {"accuracy": 100 * hits.mean()}
                        file_stats = {"accuracy": hits.tolist()}
                    rel = f"stages/{an.path_key(path)}-{seed}/eval/{target}/{lang}.json"
                    if examples:
                        os.makedirs(os.path.dirname(root / rel), exist_ok=True)
                        ids = [f"{target}-{i}" for i in range(n)]
                        (root / rel).write_text(json.dumps({"ids": ids, "stats": file_stats}))
                    for metric, value in values.items():
                        records.append(
                            dict(
                                kind="zero_shot",
                                path=list(path),
                                target=target,
                                lang=lang,
                                seed=seed,
                                metric=metric,
                                value=value,
                                stage="s",
                                examples=rel if examples else None,
                            )
                        )
    for seed in seeds:
        for path, dev in ((("mnli",), 80.0), (AB, 74.0), (("squad_v1",), 70.0), (BA, 69.0)):
            records.append(
                dict(
                    kind="dev",
                    path=list(path),
                    target=path[0],
                    lang="en",
                    seed=seed,
                    metric="accuracy",
                    value=dev + seed,
                    stage="s",
                    examples=None,
                )
            )
        for path, base in (((), 40.0), (("mnli",), 45.0), (AB, 50.0)):
            for lang in ("sw", "de"):
                records.append(
                    dict(
                        kind="alignment",
                        path=list(path),
                        target="alignment",
                        lang=lang,
                        seed=seed,
                        metric="accuracy",
                        value=base + (10 if lang == "de" else 0),
                        stage=None,
                        examples=None,
                    )
                )
    with open(root / "results.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return records


def load(root):
    return an.load_results(str(root / "results.jsonl"))


# ----------------------------------------------------------------------- languages


def test_language_facts():
    assert languages.language("sw") == languages.Language("sw", 2, 1.6, "low")
    assert languages.cc100_gib("qu") is None  # not in XLM-R's pretraining data
    assert languages.resource_class("bg") == "mid"
    assert languages.resource_class("de") == languages.resource_class("eu") == "high"
    table = languages.languages()
    assert len(table) == 50
    assert sum(x.resource_class == "low" for x in table.values()) == 13
    with pytest.raises(languages.UnknownLanguageError, match="unknown language code 'xx'"):
        languages.language("xx")
    assert an.language_class("xx") == "unknown"  # the analysis never fails on one


def test_language_table_errors_name_the_line():
    with pytest.raises(ValueError, match=r"t.tsv:3: could not convert"):
        languages.parse_table("code\tjoshi_class\tcc100_gib\nsw\t2\t1.6\nyo\t2\tmany\n", "t.tsv")


# ------------------------------------------------------------------------- loading

GOOD = '{"kind": "zero_shot", "path": [], "target": "xnli", "lang": "de", "seed": 0, "metric": "accuracy", "value": 50.0, "stage": null, "examples": null}'


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"kind": "zero_shot", ', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (GOOD.replace('"seed": 0, ', ""), "missing key 'seed'"),
        (GOOD.replace('"zero_shot"', '"final"'), "kind must be one of"),
        (GOOD.replace('"seed": 0', '"seed": "0"'), "seed must be an integer"),
        (GOOD.replace('"path": []', '"path": "mnli"'), "path must be a list"),
        (GOOD.replace("50.0", '"high"'), "value must be a finite number"),
        (GOOD, "the same record as line 1"),
    ],
)
def test_bad_lines_are_reported_with_file_and_line(tmp_path, line, problem):
    path = tmp_path / "results.jsonl"
    path.write_text(GOOD + "\n\n" + line + "\n")
    with pytest.raises(an.ResultsError) as error:
        an.load_results(str(path))
    assert str(error.value).startswith(f"{path}:3: ")
    assert problem in str(error.value)


def test_missing_results_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file"):
        an.load_results(str(tmp_path / "results.jsonl"))


# --------------------------------------------------------------- scores and tables


def _record(path, target, lang, seed, metric, value, kind="zero_shot"):
    return an.Record(kind, tuple(path), target, lang, seed, metric, value)


def test_headline_scores_follow_xtreme_r():
    records = [
        _record((), "xquad", "de", 0, "exact_match", 40.0),
        _record((), "xquad", "de", 0, "f1", 60.0),
        _record((), "panx", "de", 0, "f1", 70.0),
        _record((), "panx", "de", 0, "precision", 90.0),
        _record((), "mewslix", "de", 0, "map@20", 30.0),
        _record((), "mlqa", "de", 0, "f1", 55.0),  # exact match missing
    ]
    scores, incomplete = an.headline_scores(records)
    assert scores == {
        ((), "xquad", "de", 0): 50.0,
        ((), "panx", "de", 0): 70.0,
        ((), "mewslix", "de", 0): 30.0,
    }
    assert incomplete == [dict(path=(), target="mlqa", lang="de", seed=0, missing=["exact_match"])]
    # Tasks outside XTREME-R (dev scores) go by the metrics they report.
    assert an.headline_metrics("squad_v2", ["f1", "exact_match"]) == ("exact_match", "f1")
    assert an.headline_metrics("ccg", ["accuracy"]) == ("accuracy",)


@pytest.mark.parametrize("target,metrics", [
    ("xnli", ("accuracy",)), ("xcopa", ("accuracy",)), ("tatoeba", ("accuracy",)),
    ("udpos", ("f1",)), ("panx", ("f1",)),
    ("xquad", ("exact_match", "f1")), ("mlqa", ("exact_match", "f1")), ("tydiqa", ("exact_match", "f1")),
    ("lareqa", ("map@20",)), ("mewslix", ("map@20",)), ("alignment", ("accuracy",)),
])  # fmt: skip
def test_headline_metrics_are_xtreme_rs_whatever_the_run_reports(target, metrics):
    assert an.headline_metrics(target, ["accuracy", "f1", "precision"]) == metrics


def test_seed_means_averages_and_gains():
    records = [
        _record(p, t, lang, s, "accuracy", v)
        for p, t, lang, s, v in [
            ((), "xnli", "sw", 0, 40.0),
            ((), "xnli", "sw", 1, 42.0),
            ((), "xnli", "de", 0, 60.0),
            ((), "xnli", "de", 1, 60.0),
            ((), "xcopa", "sw", 0, 50.0),
            ((), "xcopa", "sw", 1, 54.0),
            (("mnli",), "xnli", "sw", 0, 45.0),
            (("mnli",), "xnli", "sw", 1, 47.0),
            (("mnli",), "xnli", "de", 0, 61.0),
            (("mnli",), "xnli", "de", 1, 63.0),
        ]
    ]
    scores, _ = an.headline_scores(records)
    cells = an.summarise_seeds(scores)
    sw = next(c for c in cells if c["path"] == () and c["target"] == "xnli" and c["lang"] == "sw")
    assert (sw["mean"], sw["sd"], sw["n_seeds"]) == (41.0, pytest.approx(math.sqrt(2)), 2)
    xnli = [c["lang"] for c in cells if c["path"] == () and c["target"] == "xnli"]
    assert xnli == ["sw", "de"]  # low-resource languages first
    averages = {r["path"]: r for r in an.path_averages(scores)}
    assert averages[()]["mean"] == pytest.approx(((41 + 60) / 2 + 52) / 2)
    assert averages[()]["n_tasks"] == 2
    # Per seed: seed 0 = (50 + 50) / 2 = 50, seed 1 = (51 + 54) / 2 = 52.5.
    assert averages[()]["sd"] == pytest.approx(np.std([50, 52.5], ddof=1))
    gains = an.gains_over_baseline(cells)
    assert {(g["lang"], g["gain"]) for g in gains} == {("sw", 5.0), ("de", 2.0)}
    by_class = {(r["target"], r["resource_class"]): r["gain"] for r in an.gains_by_class(gains)}
    assert by_class[("xnli", "low")] == 5.0
    assert by_class[("xnli", "all")] == 3.5


# ----------------------------------------------------------------------- bootstrap


def test_resample_counts_are_deterministic_draws_with_replacement():
    counts = bootstrap.resample_counts(np.random.default_rng(3), 7, 50)
    assert counts.shape == (50, 7)
    assert np.all(counts.sum(axis=1) == 7)
    again = bootstrap.resample_counts(np.random.default_rng(3), 7, 50)
    assert np.array_equal(counts, again)
    # Drawn in blocks: the same distribution whatever the block size.
    assert abs(bootstrap.resample_counts(np.random.default_rng(1), 1000, 400).mean() - 1.0) < 1e-12


def _resampled(metric, stats, counts):
    """One run's one metric on every draw, as the analysis resamples it."""
    return bootstrap.resampled_headlines([{metric: stats}], (metric,), counts)[:, 0]


def test_seqeval_counts_are_resampled_as_summed_entity_counts():
    rng = np.random.default_rng(0)
    stats = rng.integers(0, 4, size=(30, 3)).astype(float)
    stats[:, 0] = np.minimum(stats[:, 0], stats[:, 1:].min(axis=1))  # correct ≤ predicted, gold
    stats[:5] = 0  # sentences without entities
    indices = rng.integers(0, 30, size=(6, 30))
    indices[0] = np.arange(5)[np.arange(30) % 5]  # a resample of empty sentences only
    counts = np.stack([np.bincount(i, minlength=30) for i in indices]).astype(float)
    for metric in ("precision", "recall", "f1"):
        got = _resampled(metric, stats, counts)
        want = [_seqeval(stats[i])[metric] for i in indices]
        np.testing.assert_allclose(got, want)
        assert got[0] == 0.0  # zero denominators give 0, as in seqeval
    # A headline over several metrics averages them draw by draw.
    both = bootstrap.resampled_headlines(
        [{"f1": stats, "precision": stats}], ("f1", "precision"), counts
    )
    np.testing.assert_allclose(
        both[:, 0],
        [(_seqeval(stats[i])["f1"] + _seqeval(stats[i])["precision"]) / 2 for i in indices],
    )


def test_resampled_means_and_ratios():
    values = np.array([1.0, 0.0, 0.5, 1.0])
    counts = np.array([[1, 1, 1, 1], [4, 0, 0, 0], [0, 2, 2, 0]], dtype=float)
    np.testing.assert_allclose(_resampled("accuracy", values, counts), [62.5, 100, 25])
    tokens = np.array([[3, 4], [0, 0], [1, 2], [2, 2]], dtype=float)  # (correct, total)
    np.testing.assert_allclose(_resampled("accuracy", tokens, counts), [75, 75, 50])
    qa = {"exact_match": np.array([1.0, 0, 0, 1]), "f1": np.array([1.0, 0.5, 0.2, 1])}
    np.testing.assert_allclose(
        bootstrap.resampled_headlines([qa], ("exact_match", "f1"), counts)[:, 0], [58.75, 100, 17.5]
    )


def test_holm_adjustment():
    adjusted = effects.holm([0.01, 0.04, 0.03, math.nan, 0.005])
    np.testing.assert_allclose(adjusted[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])


def _bootstrap_interval(first, second, rng, n_boot=400):
    """The analysis's primitives on in-memory (seeds, n) outcomes of two orders."""
    seeds, n = first.shape
    counts = bootstrap.resample_counts(rng, n, n_boot)
    runs = [{"accuracy": x} for x in (*first, *second)]
    scores = bootstrap.resampled_headlines(runs, ("accuracy",), counts)
    diffs = 100 * (first.mean(axis=1) - second.mean(axis=1))
    return effects.estimate(diffs, scores[:, :seeds] - scores[:, seeds:])


def test_zero_effect_interval_covers_zero_at_least_95_percent_of_the_time():
    rng = np.random.default_rng(12345)
    covered, draws = 0, 200
    for _ in range(draws):
        # Items differ in how each order treats them (mean 0 over the item population);
        # seeds add a little noise of their own.
        n, seeds = 150, 3
        base = rng.uniform(0.35, 0.65, n)
        item_effect = rng.uniform(-0.3, 0.3, n)
        second = base + rng.normal(0, 0.01, (seeds, n))
        first = base + item_effect + rng.normal(0, 0.01, (seeds, n))
        interval = _bootstrap_interval(np.clip(first, 0, 1), np.clip(second, 0, 1), rng)
        covered += interval["ci_low"] <= 0 <= interval["ci_high"]
        # Test-set noise dominates here: the interval is wider than the bootstrap's
        # normal one by t(2)/z at most (seeds may matter; three seeds cannot tell).
        known = 1.96 * math.sqrt(interval["se_examples"] ** 2 + interval["se_seeds"] ** 2)
        assert interval["ci_high"] - interval["effect"] <= 4.31 / 1.96 * max(
            known, 1.96 * interval["se"]
        )
    assert covered / draws >= 0.95


def test_planted_effect_is_detected_and_covered(tmp_path):
    # Five seeds: with three, t(2) tails leave little power for five tests at once.
    truth = 8.0
    write_study(
        tmp_path,
        n=1500,
        seeds=range(5),
        langs={"xnli": LANGS["xnli"]},
        effect=lambda p, t, lang: truth if p == AB else 0.0,
    )
    result = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=500)
    rows = [r for r in result.languages if r["target"] == "xnli"]
    assert len(rows) == 5
    for row in rows:
        assert (row["first"], row["second"]) == (AB, BA)
        assert row["resampling"] == "examples and seeds"
        assert row["n_seeds"] == 5 and row["n_examples"] == 1500
        assert row["ci_low"] <= truth <= row["ci_high"]
        assert row["ci_low"] > 0 and row["significant"] and row["p_holm"] < 0.05
        assert row["ci_bonf_low"] < row["ci_low"] and row["ci_bonf_high"] > row["ci_high"]
    assert result.languages[0]["family_size"] == len(result.languages) == 5
    # Deterministic: the same seed gives the same intervals, another seed others.
    again = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=500)
    assert [r["ci_low"] for r in again.languages] == [r["ci_low"] for r in result.languages]
    other = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=500, seed=1)
    assert [r["ci_low"] for r in other.languages] != [r["ci_low"] for r in result.languages]
    assert [r["effect"] for r in other.languages] == [r["effect"] for r in result.languages]


def test_resource_class_effects_average_their_languages(tmp_path):
    planted = {"sw": 12.0, "yo": 12.0, "bg": 0.0, "de": 0.0, "en": 30.0}
    write_study(
        tmp_path,
        n=1500,
        seeds=range(5),
        langs={"xnli": list(planted)},
        effect=lambda p, t, lang: planted[lang] if p == AB else 0.0,
    )
    result = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=500)
    by_lang = {r["lang"]: r for r in result.languages}
    classes = {(r["target"], r["resource_class"]): r for r in result.classes}
    low = classes[("xnli", "low")]
    assert low["langs"] == ["sw", "yo"] and low["n_langs"] == 2
    assert low["effect"] == pytest.approx((by_lang["sw"]["effect"] + by_lang["yo"]["effect"]) / 2)
    assert low["ci_low"] <= 12.0 <= low["ci_high"] and low["significant"]
    # An average of two languages is tighter than a language alone.
    assert low["se"] < (by_lang["sw"]["se"] + by_lang["yo"]["se"]) / 2
    for cls in ("mid", "high"):
        assert classes[("xnli", cls)]["ci_low"] <= 0 <= classes[("xnli", cls)]["ci_high"]
    # English is the training language: in no class, not even "all".
    assert classes[("xnli", "all")]["langs"] == ["sw", "yo", "bg", "de"]
    assert classes[("xnli", "all")]["effect"] == pytest.approx(
        np.mean([by_lang[x]["effect"] for x in ("sw", "yo", "bg", "de")])
    )
    overall = classes[(an.ALL_TARGETS, "low")]
    assert overall["effect"] == pytest.approx(low["effect"]) and overall["n_targets"] == 1


def test_a_primary_class_is_tested_alone_and_leaves_the_class_family(tmp_path):
    planted = {"sw": 3.0, "yo": 3.0, "bg": 0.0, "de": 0.0, "en": 0.0}
    write_study(
        tmp_path,
        n=600,
        seeds=range(3),
        langs={"xnli": list(planted)},
        effect=lambda p, t, lang: planted[lang] if p == AB else 0.0,
    )
    plain = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200)
    named = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200, primary_class="low")
    assert len(plain.families) + 1 == len(named.families)
    primary = od.primary_family(AB, BA, "low")
    assert named.families[primary] == 1
    assert named.families[od.class_family(AB, BA)] == plain.families[od.class_family(AB, BA)] - 1
    (row,) = [r for r in named.classes if r["primary"]]
    assert row["family"] == primary and not any(r["primary"] for r in plain.classes)
    key = (an.ALL_TARGETS, "low")
    assert (row["target"], row["resource_class"]) == key
    assert row["p_holm"] == row["p_value"]  # one test: no correction
    before = next(r for r in plain.classes if (r["target"], r["resource_class"]) == key)
    assert before["p_holm"] >= row["p_holm"] and before["effect"] == row["effect"]
    with pytest.raises(ValueError, match=r"^primary class 'lowest' is not a resource class"):
        od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=20, primary_class="lowest")


def test_seqeval_targets_are_resampled_from_counts(tmp_path):
    write_study(
        tmp_path,
        n=800,
        langs={"panx": ["sw", "de"]},
        effect=lambda p, t, lang: 15.0 if p == AB else 0.0,
    )
    result = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=300)
    assert not result.notes  # the examples reproduce every recorded F1
    assert all(r["resampling"] == "examples and seeds" for r in result.languages)
    assert all(r["effect"] > 0 and r["significant"] for r in result.languages)


def test_reordered_ids_give_the_same_result(tmp_path):
    write_study(tmp_path, n=200, langs={"xnli": ["sw"]}, paths=[AB, BA])
    before = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200)
    path = tmp_path / "stages/squad_v1>mnli-1/eval/xnli/sw.json"
    data = json.loads(path.read_text())
    order = np.random.default_rng(0).permutation(200)
    data = {
        "ids": [data["ids"][i] for i in order],
        "stats": {"accuracy": [data["stats"]["accuracy"][i] for i in order]},
    }
    path.write_text(json.dumps(data))
    after = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200)
    assert after.languages[0]["ci_low"] == pytest.approx(before.languages[0]["ci_low"])
    assert not after.notes


def test_without_examples_only_seeds_are_resampled(tmp_path):
    write_study(tmp_path, n=100, langs={"xnli": ["sw"]}, examples=False)
    row = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200).languages[0]
    assert row["resampling"] == "seeds only" and math.isnan(row["n_examples"])
    assert row["ci_low"] < row["ci_high"]
    # One seed and no examples: no spread to estimate, no p-value, never flagged.
    write_study(tmp_path, n=100, langs={"xnli": ["sw"]}, examples=False, seeds=(0,))
    row = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=200).languages[0]
    assert row["ci_low"] == row["ci_high"] == row["effect"]
    assert math.isnan(row["p_value"]) and not row["significant"]


def test_broken_examples_files_fall_back_to_seeds_with_a_note(tmp_path):
    write_study(tmp_path, n=100, langs={"xnli": ["sw", "de"]})
    (tmp_path / "stages/mnli>squad_v1-0/eval/xnli/sw.json").write_text("{not json")
    os.remove(tmp_path / "stages/squad_v1>mnli-2/eval/xnli/de.json")
    result = od.ordering_effects(load(tmp_path), str(tmp_path), n_boot=100)
    assert {r["lang"]: r["resampling"] for r in result.languages} == {
        "sw": "seeds only",
        "de": "seeds only",
    }
    # Each run is named with what is wrong; the rows are shown, never tested.
    unusable, untested = result.notes
    assert unusable.startswith("2 run(s) without usable per-example statistics")
    assert "squad_v1>mnli xnli de seed 2: stages/squad_v1>mnli-2/eval/xnli/de.json is missing" in (
        unusable
    )
    assert "mnli>squad_v1 xnli sw seed 0" in unusable and "not valid JSON" in unusable
    assert untested.startswith("2 of 2 per-language effects")
    assert not any(r["significant"] or r["excludes_zero"] for r in result.languages)
    assert all(math.isnan(r["p_value"]) for r in result.languages + result.classes)


def test_partial_study_lists_what_is_missing(tmp_path):
    def skip(path, target, lang, seed):
        return (path == BA and target == "xnli" and seed == 2) or (
            path == ("mnli",) and target == "panx" and seed == 0 and lang == "bg"
        )

    write_study(tmp_path, n=100, skip=skip, paths=[*PATHS, ("mnli", "qqp")])
    records = load(tmp_path)
    missing = an.find_missing(records)
    assert dict(path=BA, target="xnli", seed=2, languages=["all"]) in missing
    assert dict(path=("mnli",), target="panx", seed=0, languages=["bg"]) in missing
    assert len(missing) == 2
    result = od.ordering_effects(records, str(tmp_path), n_boot=100)
    assert {r["n_seeds"] for r in result.languages if r["target"] == "xnli"} == {2}
    assert {r["n_seeds"] for r in result.languages if r["target"] == "panx"} == {3}
    assert result.unmatched == [("mnli", "qqp")]


def test_order_comparisons():
    comparisons, unmatched = an.order_comparisons(
        [
            (),
            ("a",),
            ("a", "b"),
            ("b", "a"),
            ("c", "a"),
            ("a", "a"),
            ("a", "b", "c"),
            ("c", "b", "a"),
        ]
    )
    assert comparisons == [(("a", "b"), ("b", "a")), (("a", "b", "c"), ("c", "b", "a"))]
    assert unmatched == [("c", "a")]


def test_forgetting_and_alignment(tmp_path):
    records = write_study(tmp_path, n=50, langs={"xnli": ["sw"]})
    assert records
    rows = an.forgetting(load(tmp_path))
    mnli = next(r for r in rows if r["task"] == "mnli")
    assert mnli["before"] == ("mnli",) and mnli["after"] == AB
    assert mnli["trained_after"] == ("squad_v1",)
    assert (mnli["before_mean"], mnli["after_mean"], mnli["forgetting"]) == (81.0, 75.0, 6.0)
    assert mnli["forgetting_sd"] == 0.0 and mnli["n_seeds"] == 3
    cells = an.alignment_table(load(tmp_path))
    sw = {c["path"]: c for c in cells if c["lang"] == "sw"}
    assert sw[AB]["mean"] == 50.0 and sw[AB]["change"] == 10.0
    by_class = {(r["path"], r["resource_class"]): r for r in an.alignment_by_class(cells)}
    assert by_class[(AB, "low")]["mean"] == 50.0 and by_class[(AB, "high")]["mean"] == 60.0
    assert by_class[((), "all")]["change"] == 0.0


def test_shared_statistics_are_resampled_once_with_the_same_result():
    # Every run of a test set has the same gold entity counts: resampled once.
    rng = np.random.default_rng(4)
    gold = 1 + rng.poisson(1.0, 300)
    runs = []
    for _ in range(4):
        predicted = np.maximum(gold + rng.integers(-1, 2, 300), 0)
        correct = rng.binomial(np.minimum(gold, predicted), 0.6)
        runs.append({"f1": np.stack([correct, predicted, gold], axis=1)})
    counts = bootstrap.resample_counts(rng, 300, 50)
    together, full = bootstrap.resampled_and_full_headlines(runs, ("f1",), counts)
    np.testing.assert_allclose(together, bootstrap.resampled_headlines(runs, ("f1",), counts))
    np.testing.assert_allclose(full, bootstrap.full_headlines(runs, ("f1",)))


def _normal_model(rng, rows, seeds, n_boot, seed_var, item_seed_var, shared_var, truth=0.0):
    """(diffs, boot) of `rows` effects: per-seed differences with a run-level seed
    term (variance seed_var), item × seed noise and test-set noise the seeds share;
    boot the same test-set terms redrawn around the observed values."""
    shared = rng.normal(0, math.sqrt(shared_var), (rows, 1))
    item_seed = rng.normal(0, math.sqrt(item_seed_var), (rows, seeds))
    diffs = truth + rng.normal(0, math.sqrt(seed_var), (rows, seeds)) + shared + item_seed
    redrawn = rng.normal(0, math.sqrt(shared_var), (rows, n_boot, 1)) + rng.normal(
        0, math.sqrt(item_seed_var), (rows, n_boot, seeds)
    )
    return diffs, diffs[:, None, :] + redrawn


@pytest.mark.parametrize("seed_var", [0.0, 0.3, 1.0, 3.0, 300.0])
@pytest.mark.parametrize("alpha", [0.05, 0.005])
def test_paired_effects_hold_their_level_whatever_the_seeds_add(seed_var, alpha):
    # A lucky small s² with three seeds must not buy degrees of freedom: at every
    # ratio of seed to test-set variance, at the usual level and in the far tail
    # Holm reads, a zero effect is rejected at most alpha of the time (plus the
    # simulation's error). Satterthwaite's df failed this at seed_var ≈ 1 to 3.
    rng = np.random.default_rng(int(seed_var * 10) + int(alpha * 1000))
    rows = 20_000
    diffs, boot = _normal_model(rng, rows, 3, 60, seed_var, 1.0, 0.3)
    found = effects.paired_effects(diffs, boot, alpha=alpha)
    rejected = np.mean([r["p_value"] < alpha for r in found])
    covered = np.mean([r["ci_low"] <= 0 <= r["ci_high"] for r in found])
    limit = alpha + 3 * math.sqrt(alpha * (1 - alpha) / rows)
    assert rejected <= limit and covered >= 1 - limit
    assert all(r["df"] == 2 and r["tested"] and not r["conditional"] for r in found)
    if seed_var >= 300 and alpha == 0.05:  # seeds dominate: the paired t interval, exact
        assert rejected >= alpha - 3 * math.sqrt(alpha * (1 - alpha) / rows)


@pytest.mark.parametrize("seed_var", [0.0, 1.0])
def test_paired_effects_are_nearly_exact_where_noise_differs_between_seeds(seed_var):
    # Where the test-set noise is item × seed (each seed's model errs on its own
    # items) rather than shared, s²/S carries it and t(S − 1) is close to exact:
    # the level is kept, and not spent on a floor (with se floored at the
    # bootstrap's variance of the seed mean, a zero effect was rejected < 1 % of
    # the time here instead of ≈ 5 %).
    rng = np.random.default_rng(17 + int(seed_var))
    rows = 20_000
    diffs, boot = _normal_model(rng, rows, 3, 60, seed_var, 1.0, 0.0)
    found = effects.paired_effects(diffs, boot)
    rejected = np.mean([r["p_value"] < 0.05 for r in found])
    assert 0.025 <= rejected <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / rows)


def test_seeds_tied_on_a_discrete_metric_do_not_give_a_zero_width_interval():
    # Three seeds with the same difference on a small test set: s² = 0, yet the
    # bootstrap shows the seeds' item × seed noise; the tie guard keeps the interval.
    rng = np.random.default_rng(5)
    boot = 10.0 + rng.normal(0, 2.0, (1, 400, 3))  # item × seed noise only (b ≈ 0)
    (row,) = effects.paired_effects(np.full((1, 3), 10.0), boot)
    parts = effects.variance_components(np.full((1, 3), 10.0), boot)
    floor = effects.tie_floor(parts["of_mean"], parts["shared"], 3)[0]
    assert row["se"] ** 2 == pytest.approx(floor + parts["shared"][0])
    assert row["se"] > 0 and row["ci_low"] < 10.0 < row["ci_high"]
    # ... and it leaves untied seeds alone.
    (untied,) = effects.paired_effects(np.array([[9.0, 10.0, 11.0]]), boot)
    assert untied["se"] ** 2 == pytest.approx(1.0 / 3 + parts["shared"][0])


def test_paired_effects_is_estimate_row_by_row():
    rng = np.random.default_rng(3)
    diffs, boot = _normal_model(rng, 4, 3, 50, 1.0, 1.0, 0.5, truth=2.0)
    together = effects.paired_effects(diffs, boot)
    for k, row in enumerate(together):
        alone = effects.estimate(diffs[k], boot[k])
        for key in ("effect", "se", "se_seeds", "se_examples", "ci_low", "ci_high", "p_value"):
            assert row[key] == pytest.approx(alone[key], rel=1e-12)
        # The components: s²/S from the seeds, b from different seeds' covariance.
        assert row["se_seeds"] ** 2 == pytest.approx(np.var(diffs[k], ddof=1) / 3)
        cov = np.cov(boot[k], rowvar=False)
        assert row["se_examples"] ** 2 == pytest.approx(max((cov.sum() - np.trace(cov)) / 6, 0))


def test_one_seed_intervals_are_conditional_and_untested_unless_asked():
    rng = np.random.default_rng(4)
    diffs, boot = _normal_model(rng, 3, 1, 200, 1.0, 1.0, 0.5, truth=5.0)
    plain = effects.paired_effects(diffs, boot)
    assert all(r["conditional"] and not r["tested"] for r in plain)
    assert all(math.isnan(r["p_value"]) for r in plain)
    assert all(r["ci_low"] < r["effect"] < r["ci_high"] for r in plain)
    asked = effects.paired_effects(diffs, boot, test_one_seed=True)
    assert all(r["tested"] and np.isfinite(r["p_value"]) for r in asked)
    rows = [dict(r, family="f") for r in plain]
    assert effects.adjust_families(rows) == {}  # nothing in any family's count
    assert not any(r["significant"] or r["excludes_zero"] for r in rows)
