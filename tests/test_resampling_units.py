"""What the ordering analysis resamples: parallel targets' items jointly across their
languages (by item id), other targets' examples language by language, UD-POS
sentences joined by seqeval's chunks as one unit, and every run of a (target,
language) against the test examples most runs have."""

import numpy as np
import pytest

from eval.analysis import Record
from eval.metrics import metric_from_stats
from eval.scoring.example_files import write_examples
from eval.stats import effects, resampling
from eval.stats import ordering as od

AB, BA = ("mnli", "squad_v1"), ("squad_v1", "mnli")
MID = ("bg", "el", "he", "id", "ro")  # one resource class


def _write_runs(root, runs, target, metric="accuracy"):
    """Examples files and records for {(path, lang, seed): (ids, stats)}."""
    records = []
    for (path, lang, seed), (ids, stats) in runs.items():
        rel = f"stages/{'-'.join(path)}-{seed}/eval/{target}/test-{lang}.npy"
        write_examples(str(root / rel), ids, {metric: stats})
        value = metric_from_stats(metric, stats)
        records.append(Record("zero_shot", path, target, lang, seed, metric, value, examples=rel))
    return records


def _class_row(analysis, target):
    (row,) = [
        r
        for r in analysis.classes
        if r["target"] == target and r["resource_class"] == "mid" and r["n_langs"] == len(MID)
    ]
    return row


# --- parallel test sets -------------------------------------------------------------------


def _shared_difficulty_study(root, target, n=500, seed=0):
    """One seed of two orders; per item, the first order's outcome shares a difficulty
    d_i across the languages (sd 0.15) plus a language's own part (sd 0.05); the
    second order scores 0.5 on every item. The class mean's test-set variance over
    fresh items is (0.15² + 0.05² / 5) / n, in points² × 10⁴."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 0.15, n)
    ids = [f"{target}-{i}" for i in range(n)]
    runs = {}
    for lang in MID:
        first = np.clip(0.5 + shared + rng.normal(0, 0.05, n), 0, 1)
        runs[(AB, lang, 0)] = (ids, first)
        runs[(BA, lang, 0)] = (ids, np.full(n, 0.5))
    return _write_runs(root, runs, target)


def test_a_parallel_target_is_resampled_jointly_and_gets_the_class_mean_s_true_variance(
    tmp_path,
):
    n = 500
    joint = (0.15**2 + 0.05**2 / len(MID)) / n * 1e4  # item difficulty shared
    apart = (0.15**2 + 0.05**2) / len(MID) / n * 1e4  # as if every language had its own items
    records = _shared_difficulty_study(tmp_path, "xnli", n)
    row = _class_row(od.ordering_effects(records, str(tmp_path), n_boot=2000), "xnli")
    assert row["resampling"] == effects.ONE_SEED
    assert row["se"] == pytest.approx(np.sqrt(joint), rel=0.15)
    assert row["se"] > 1.8 * np.sqrt(apart)  # wider than language-by-language draws


def test_a_target_whose_languages_have_their_own_items_is_resampled_language_by_language(
    tmp_path,
):
    # The same numbers under Tatoeba, whose languages' test sentences differ: equal
    # ids do not make items the same, and each language is drawn on its own.
    n = 500
    apart = (0.15**2 + 0.05**2) / len(MID) / n * 1e4
    records = _shared_difficulty_study(tmp_path, "tatoeba", n)
    assert "tatoeba" not in resampling.PARALLEL_TARGETS
    row = _class_row(od.ordering_effects(records, str(tmp_path), n_boot=2000), "tatoeba")
    assert row["se"] == pytest.approx(np.sqrt(apart), rel=0.15)


def _cell(lang, ids):
    cell = resampling.Cell(lang, {}, ("accuracy",), ids=np.array(ids, dtype=bytes))
    cell.found = {(AB, 0): {}}
    return cell


def test_languages_of_a_parallel_target_draw_each_item_the_same_number_of_times():
    # MLQA: a language may hold part of the items; it takes the draw's counts of its own.
    full = _cell("de", ["q1", "q2", "q3", "q4"])
    part = _cell("hi", ["q4", "q2"])
    counts = resampling.draws("mlqa", [full, part], n_boot=50, seed=0)
    assert np.array_equal(counts["hi"], counts["de"][:, [3, 1]])
    assert not np.all(counts["hi"].sum(axis=1) == 2)  # a draw holds a varying number
    apart = resampling.draws(
        "panx", [full, _cell("fr", ["q1", "q2", "q3", "q4"])], n_boot=50, seed=0
    )
    assert not np.array_equal(apart["de"], apart["fr"])


# --- UD-POS: sentences joined by seqeval's chunks ----------------------------------------------


@pytest.mark.parametrize("listed", ["in order", "backwards"])
def test_sentences_joined_in_any_run_are_resampled_as_one_unit(tmp_path, listed):
    # 100 pairs of sentences, the second of each joined to the first (an X chunk runs
    # across them) in one order's predictions only. Each pair holds 1 correct of
    # 2 predicted and 2 gold entities in both orders, split differently between its
    # sentences: resampled by pairs both orders always score F1 50, so the test set
    # adds no variance at all; resampled by sentences it would. A run may list its
    # sentences in another order: its joins are its own order's.
    pairs = 100
    ids = [str(i) for i in range(2 * pairs)]
    first = np.tile([[1, 1, 1, 0], [0, 1, 1, 0]], (pairs, 1))
    second = np.tile([[0, 1, 1, 0], [1, 1, 1, 1]], (pairs, 1))
    second_ids = ids
    if listed == "backwards":  # sentence 2k + 1 listed just before 2k, which joins it
        second = np.tile([[1, 1, 1, 0], [0, 1, 1, 1]], (pairs, 1))
        second_ids = ids[::-1]
    runs = {}
    for lang in MID:
        runs[(AB, lang, 0)] = (ids, first)
        runs[(BA, lang, 0)] = (second_ids, second)
    records = _write_runs(tmp_path, runs, "udpos", metric="f1")
    analysis = od.ordering_effects(records, str(tmp_path), n_boot=200)
    for row in analysis.languages:
        assert row["effect"] == 0.0 and row["resampling"] == effects.ONE_SEED
        assert row["se"] == 0.0
        assert row["n_examples"] == 2 * pairs  # sentences, though drawn in 100 units
    assert not analysis.notes  # every examples file gives back its recorded score


def test_units_sum_their_sentences_and_keep_the_first_sentence_s_id():
    ids = np.array([b"0", b"1", b"2", b"3", b"4"])
    counts = np.array([[1, 1, 1, 0], [0, 1, 2, 1], [1, 1, 1, 0], [1, 2, 1, 0], [0, 0, 1, 1]])
    other = np.array([[0, 1, 1, 0], [1, 1, 2, 0], [1, 1, 1, 1], [1, 2, 1, 0], [0, 1, 1, 0]])
    joins = [np.array([[0, 1], [3, 4]]), np.array([[1, 2]])]  # from two runs
    units, (a, b) = resampling.resampling_units(ids, [{"f1": counts}, {"f1": other}], joins)
    assert units.tolist() == [b"0", b"3"]
    assert a["f1"].tolist() == [[2, 3, 4], [1, 2, 2]]
    assert b["f1"].tolist() == [[2, 3, 4], [1, 3, 2]]
    # A run listing its examples in another order can join examples apart in the
    # reference order.
    apart, (d,) = resampling.resampling_units(ids, [{"f1": counts}], [np.array([[2, 0]])])
    assert apart.tolist() == [b"0", b"1", b"3", b"4"]
    assert d["f1"].tolist() == [[2, 2, 2], [0, 1, 2], [1, 2, 1], [0, 0, 1]]
    alone, (c,) = resampling.resampling_units(ids, [{"f1": counts}], [])
    assert alone.tolist() == ids.tolist() and c["f1"].tolist() == counts[:, :3].tolist()


# --- the reference ids: the test examples most runs have ---------------------------------------


def _id_study(root, id_lists):
    """Runs of one language with the given id lists (first order's seeds, then the
    second's); every example scores 1 in the first order and 0 in the second."""
    runs = {}
    seeds = len(id_lists) // 2
    for k, ids in enumerate(id_lists):
        path, seed = (AB, k) if k < seeds else (BA, k - seeds)
        runs[(path, "sw", seed)] = (ids, np.full(len(ids), 1.0 if path == AB else 0.0))
    return _write_runs(root, runs, "xnli")


def test_the_reference_is_the_set_of_test_examples_most_runs_have(tmp_path):
    usual = [f"x{i}" for i in range(50)]
    other = [*usual[:49], "y"]
    # The first run seen has other examples; the three others agree on the set but
    # each lists it in its own order, so no single order is held by most runs.
    lists = [other, usual, usual[::-1], usual[1:] + usual[:1]]
    analysis = od.ordering_effects(_id_study(tmp_path, lists), str(tmp_path), n_boot=50)
    (note,) = analysis.notes[:1]
    assert "1 run(s) without usable per-example statistics" in note
    assert (
        "mnli>squad_v1 xnli sw seed 0: its 50 test examples differ from the 50 "
        "that 3 of 4 runs have" in note
    )
    assert "no majority" not in note and "seed 1" not in note
    (row,) = analysis.languages
    assert row["seeds"] == [0, 1]
    assert row["resampling"] == effects.SEEDS_ONLY  # seed 0 lacks its first order
    found = resampling.reference_ids({("a", 0): np.array(other, dtype=bytes),
                               ("b", 0): np.array(usual, dtype=bytes),
                               ("c", 0): np.array(usual[::-1], dtype=bytes),
                               ("d", 0): np.array(usual[::-1], dtype=bytes)})  # fmt: skip
    reference, kept, excluded = found
    assert reference.tolist() == [x.encode() for x in usual[::-1]]  # the order most have
    assert kept == [("b", 0), ("c", 0), ("d", 0)] and list(excluded) == [("a", 0)]


def test_without_a_majority_the_first_run_s_examples_are_kept_and_the_message_says_so():
    usual = np.array([f"x{i}" for i in range(5)], dtype=bytes)
    other = np.array([f"y{i}" for i in range(4)], dtype=bytes)
    found = {("a", 0): other, ("b", 0): usual, ("c", 0): other, ("d", 0): usual}
    reference, kept, excluded = resampling.reference_ids(found)
    assert reference.tolist() == other.tolist() and kept == [("a", 0), ("c", 0)]
    assert excluded[("b", 0)] == (
        "its 5 test examples differ from the 4 that 2 of 4 runs have "
        "(no majority: as many runs have other examples; the first run's kept)"
    )
    repeated = {("a", 0): np.array([b"x", b"x"]), ("b", 0): np.array([b"x", b"z"])}
    reference, kept, excluded = resampling.reference_ids(repeated)
    assert kept == [("b", 0)] and excluded == {("a", 0): "repeated ids"}
