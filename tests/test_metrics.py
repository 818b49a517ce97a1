"""The official XTREME-R metrics: hand-computed cases, and per-example statistics that
give back exactly the corpus-level value."""

import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from eval.metrics import (
    XTREME_R_TASKS,
    Answers,
    accuracy,
    average_precision_at_k,
    chunk_joins,
    entity_counts,
    example_stats,
    headline_score,
    metric_from_stats,
    mlqa_normalize,
    qa_scores,
    score_task,
    seqeval_scores,
    squad_normalize,
    xtreme_r_average,
)
from eval.scoring.submission import gold_from_raw
from eval.stats.resampling import resampling_units
from xlmr_flax.tasks import get_task

RAW = "xlmr_flax/assets/sample_data"


# --- accuracy ------------------------------------------------------------------------------


def test_accuracy_is_the_percentage_of_predictions_equal_to_the_gold_label():
    assert accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 75.0
    assert score_task("xcopa", [0, 1, 1], [0, 1, 0]) == {"accuracy": pytest.approx(200 / 3)}
    assert score_task("tatoeba", [0, 2, 1, 3], [0, 1, 2, 3]) == {"accuracy": 50.0}


def test_accuracy_needs_one_prediction_per_example():
    with pytest.raises(ValueError, match="2 predictions for 3 gold examples"):
        score_task("xnli", ["entailment", "neutral"], ["entailment"] * 3)


# --- SQuAD v1.1 (XQuAD, TyDiQA-GoldP) -----------------------------------------------------


def test_squad_normalisation_drops_case_ascii_punctuation_articles_and_extra_spaces():
    assert squad_normalize("  The  Eiffel-Tower, (an) icon!") == "eiffeltower icon"
    # Only ASCII punctuation: guillemets and the typographic apostrophe stay.
    assert squad_normalize("«Paris» is Tower’s") == "«paris» is tower’s"


def test_squad_scores_are_the_best_over_the_gold_answers():
    # "the big red dog" vs "red dog house": 2 shared of 3 and 3 tokens → F1 2/3;
    # vs "a dog": 1 shared, P 1/3, R 1 → F1 1/2. The maximum counts.
    assert qa_scores("the big red dog", ["red dog house", "a dog"], squad_normalize) == (
        0.0,
        pytest.approx(2 / 3),
    )
    assert qa_scores("The big red dog.", ["x", "big red dog"], squad_normalize) == (1.0, 1.0)


def test_squad_f1_is_zero_when_nothing_is_shared_even_for_two_empty_answers():
    assert qa_scores("", [""], squad_normalize) == (1.0, 0.0)  # the v1.1 script's rule
    assert qa_scores("", [""], squad_normalize, v2=True) == (1.0, 1.0)  # SQuAD 2.0's rule
    assert qa_scores("", ["", "an"], squad_normalize, v2=True) == (1.0, 1.0)


def test_squad_rules_treat_an_unspaced_chinese_answer_as_one_token():
    # XQuAD zh is scored with the SQuAD script: no character split, so no partial credit.
    assert score_task("xquad", {"q": "北京大学"}, {"q": ["北京"]}) == {
        "exact_match": 0.0,
        "f1": 0.0,
    }


def test_squad_task_scores_sum_over_questions():
    gold = {"a": ["Paris"], "b": ["the river Seine"], "c": ["1889"]}
    predictions = {"a": "paris", "b": "Seine", "c": "in 1889"}
    # EM: a only → 1/3. F1: a 1; b "river seine" vs "seine" → P 1, R 1/2 → 2/3; c → 2/3.
    assert score_task("tydiqa", predictions, gold) == {
        "exact_match": pytest.approx(100 / 3),
        "f1": pytest.approx(100 * (1 + 2 / 3 + 2 / 3) / 3),
    }


# --- MLQA ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, text, expected",
    [
        # English: a/an/the; every Unicode punctuation mark goes (here U+2019).
        ("en", "The Eiffel Tower’s top.", "eiffel towers top"),
        # Spanish articles un/una/unos/unas/el/la/los/las, whole words only.
        ("es", "La casa de los abuelos, y la lasaña", "casa de abuelos y lasaña"),
        # German: ein/eine/einen/einem/eines/einer/der/die/das/den/dem/des.
        ("de", "Die Katze und der Hund! Dieser Mann", "katze und hund dieser mann"),
        # Vietnamese: của/là/cái/chiếc/những.
        ("vi", "Thủ đô của Việt Nam là Hà Nội.", "thủ đô việt nam hà nội"),
        # Hindi: no articles (not even English ones); the danda is punctuation.
        ("hi", "the भारत की राजधानी।", "the भारत की राजधानी"),
        # Arabic: every "ال" goes, also inside a word (المال → م); ، and ؟ are punctuation.
        ("ar", "الكتاب على الطاولة، أليس كذلك؟", "كتاب على طاولة أليس كذلك"),
        ("ar", "المال", "م"),
        # Chinese: every CJK character is a token; other runs split on whitespace.
        ("zh", "北京大学，位于海淀。iPhone 12手机", "北 京 大 学 位 于 海 淀 iphone 12 手 机"),
    ],
)
def test_mlqa_normalisation_per_language(lang, text, expected):
    assert mlqa_normalize(text, lang) == expected


def test_mlqa_knows_only_its_seven_languages():
    with pytest.raises(ValueError, match="no normalisation for language 'fr'"):
        mlqa_normalize("le chat", "fr")


def test_mlqa_chinese_f1_is_over_characters():
    # "北京大学" vs "北京": 2 shared characters, P 2/4, R 2/2 → F1 2/3.
    expected = {"exact_match": 0.0, "f1": pytest.approx(200 / 3)}
    assert score_task("mlqa", {"q": "北京大学"}, {"q": ["北京"]}, lang="zh") == expected
    # Gold answers that know their language need no `lang`.
    assert score_task("mlqa", {"q": "北京大学"}, Answers({"q": ["北京"]}, "zh")) == expected
    with pytest.raises(ValueError, match="pass lang="):
        score_task("mlqa", {"q": "北京大学"}, {"q": ["北京"]})


def test_mlqa_and_squad_differ_where_the_languages_rules_differ():
    # German articles count for MLQA only; English ones for both.
    assert score_task("mlqa", {"q": "der Hund"}, {"q": ["Hund"]}, lang="de")["exact_match"] == 100
    assert score_task("xquad", {"q": "der Hund"}, {"q": ["Hund"]})["exact_match"] == 0


def test_a_question_without_prediction_is_an_error_or_zero_credit():
    gold = {"a": ["x"], "b": ["y"]}
    with pytest.raises(ValueError, match=r"1 of 2 ids have no prediction: 'b'"):
        score_task("xquad", {"a": "x"}, gold)
    assert score_task("xquad", {"a": "x"}, gold, allow_missing=True) == {
        "exact_match": 50.0,
        "f1": 50.0,
    }
    with pytest.raises(ValueError, match="not in the gold data: 'c'"):
        score_task("xquad", {"a": "x", "b": "y", "c": "z"}, gold)


# --- tagging: seqeval as XTREME calls it ---------------------------------------------------


def test_panx_entities_must_match_in_type_and_span():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"]]
    assert score_task("panx", predicted, gold) == {"f1": 50.0, "precision": 50.0, "recall": 50.0}
    assert entity_counts(predicted, gold).tolist() == [[1, 2, 2]]  # correct, predicted, gold


def test_an_entity_may_start_with_i_as_in_conlleval():
    assert seqeval_scores([["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])["f1"] == 100.0


@pytest.mark.filterwarnings("ignore::UserWarning")  # seqeval: "NOUN seems not to be NE tag"
def test_udpos_tags_are_chunked_the_way_seqeval_reads_them():
    # Without a B-/I- prefix seqeval takes the first letter as the chunk tag and the rest
    # as the type: a run of one POS tag is one chunk. Gold: DET | NOUN NOUN | VERB;
    # predicted: DET | NOUN | VERB VERB → only DET matches: 1 of 3 and 3 → 33.3,
    # although 3 of the 4 words are tagged right.
    gold = [["DET", "NOUN", "NOUN", "VERB"]]
    predicted = [["DET", "NOUN", "VERB", "VERB"]]
    third = pytest.approx(100 / 3)
    assert score_task("udpos", predicted, gold) == {
        "f1": third,
        "precision": third,
        "recall": third,
    }
    assert 100 * f1_score(gold, predicted) == pytest.approx(100 / 3)
    # SCONJ and SYM start with S, seqeval's "single" tag: each word is a chunk of its own.
    assert entity_counts([["SCONJ", "SYM"]], [["SCONJ", "SCONJ"]]).tolist() == [[1, 2, 2]]


def test_entity_counts_sum_to_seqeval_over_a_random_corpus():
    rng = np.random.default_rng(0)
    for task in ("udpos", "panx"):
        tags = get_task(task).labels
        gold = [list(rng.choice(tags, rng.integers(1, 6))) for _ in range(300)]
        predicted = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in gold]
        official = seqeval_scores(predicted, gold)
        counts = entity_counts(predicted, gold)
        for metric in ("f1", "precision", "recall"):
            assert abs(metric_from_stats(metric, counts) - official[metric]) < 1e-9


# Every UD tag; X, INTJ and SCONJ (with SYM) begin with letters seqeval reads as chunk
# tags of its own: X has no type (like the O seqeval puts between sentences), I starts
# or continues a chunk, S is a chunk of one word.
UD_CORPUS_GOLD = [
    ["NOUN"],
    ["X"],
    ["X", "X", "NOUN", "NOUN", "PUNCT"],
    ["INTJ", "INTJ", "PUNCT", "X"],
    ["SCONJ", "SCONJ", "PRON", "VERB", "X", "X"],
    ["X", "ADJ", "ADJ", "NOUN", "CCONJ", "SCONJ", "PUNCT"],
    ["PUNCT"],
    ["DET", "NOUN", "AUX", "VERB", "ADP", "PROPN", "PROPN", "PART", "X"],
    ["NUM", "SYM", "SYM", "ADV", "INTJ"],
    ["INTJ"],
    ["X", "X"],
    ["VERB", "X", "PUNCT"],
]
UD_CORPUS_PREDICTED = [
    ["NOUN"],
    ["NOUN"],
    ["X", "NOUN", "NOUN", "NOUN", "PUNCT"],
    ["INTJ", "X", "PUNCT", "X"],
    ["SCONJ", "CCONJ", "PRON", "VERB", "X", "NOUN"],
    ["X", "ADJ", "NOUN", "NOUN", "CCONJ", "SCONJ", "PUNCT"],
    ["X"],
    ["DET", "NOUN", "VERB", "VERB", "ADP", "PROPN", "NOUN", "PART", "X"],
    ["NUM", "SYM", "X", "ADV", "INTJ"],
    ["INTJ"],
    ["X", "PUNCT"],
    ["VERB", "X", "PUNCT"],
]


def _seqeval_counts(stats):
    correct, predicted, gold = np.asarray(stats)[:, :3].sum(axis=0)
    return {
        "precision": 100 * correct / predicted if predicted else 0.0,
        "recall": 100 * correct / gold if gold else 0.0,
        "f1": 200 * correct / (predicted + gold) if predicted + gold else 0.0,
    }


def _official(gold, predicted):
    return {
        name: 100 * score(gold, predicted)
        for name, score in (("f1", f1_score), ("precision", precision_score),
                            ("recall", recall_score))
    }  # fmt: skip


@pytest.mark.filterwarnings("ignore::UserWarning")  # seqeval: "NOUN seems not to be NE tag"
def test_udpos_sentence_statistics_sum_to_seqeval_on_a_corpus_of_every_tag():
    gold, predicted = UD_CORPUS_GOLD, UD_CORPUS_PREDICTED
    assert {t for s in gold for t in s} == set(get_task("udpos").labels)
    _, stats = example_stats("udpos", predicted, gold)
    official = _official(gold, predicted)
    for metric in ("f1", "precision", "recall"):
        assert metric_from_stats(metric, stats[metric]) == pytest.approx(official[metric], 1e-12)
        assert _seqeval_counts(stats[metric])[metric] == pytest.approx(official[metric], 1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_x_chunks_join_sentences_for_seqeval():
    # The O between sentences has seqeval's type "_", as X has, so it does not close a
    # run of X, and an X after it does not start a chunk: an X run at a sentence's end
    # continues into the next sentence when that one starts with X.
    assert f1_score([["NOUN", "X"], ["X", "NOUN"]], [["NOUN", "X"], ["X", "NOUN"]]) == 1.0
    # Sentence by sentence seqeval would find 4 chunks; over the corpus it finds 3,
    # one running from the first sentence into the second.
    assert entity_counts(
        [["NOUN", "X"], ["X", "NOUN"]], [["NOUN", "X"], ["X", "NOUN"]]
    ).tolist() == [
        [1, 1, 1],
        [2, 2, 2],
    ]
    # A sentence is joined to the one before when it closes a chunk begun there (it
    # starts with X), or passes one on (all X) to a later sentence that closes it.
    tagged = [["NOUN", "X"], ["X", "NOUN"], ["NOUN"], ["X"], ["X", "VERB"], ["X"], ["NOUN"]]
    assert chunk_joins(tagged, tagged).tolist() == [False, True, False, True, True, False, False]
    # A join in the gold or the predicted tags joins the sentences.
    assert chunk_joins([["NOUN"], ["X", "NOUN"]], [["NOUN"], ["NOUN", "NOUN"]]).tolist() == [
        False,
        True,
    ]
    assert chunk_joins(
        [["NOUN"], ["INTJ"], ["SCONJ"]], [["NOUN"], ["INTJ"], ["SCONJ"]]
    ).tolist() == [
        False,
        False,
        False,
    ]


def _units(joined):
    """The sentences of each resampling unit (a sentence joined to the one before it
    is in that one's unit)."""
    units = []
    for k, join in enumerate(joined):
        if join:
            units[-1].append(k)
        else:
            units.append([k])
    return units


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("task", ["udpos", "panx"])
def test_a_resample_of_units_is_scored_as_seqeval_scores_that_corpus_in_any_order(task):
    rng = np.random.default_rng(3)
    tags = list(get_task(task).labels)
    if task == "udpos":
        tags += ["X"] * 8  # X at sentence edges often: many joins
    for _ in range(30):
        gold = []
        for _ in range(30):
            length = int(rng.integers(1, 6))
            sentence: list[str] = []
            while len(sentence) < length:  # runs of one tag
                sentence += [str(rng.choice(tags))] * int(rng.integers(1, 3))
            gold.append(sentence[:length])
        predicted = [[t if rng.random() < 0.7 else str(rng.choice(tags)) for t in s] for s in gold]
        # The corpus's first sentence is read after no O at all, where X starts a
        # chunk: elsewhere it would not, so it starts with another tag here.
        gold[0][0] = predicted[0][0] = tags[1]
        ids, stats = example_stats(task, predicted, gold)
        counts = stats["f1"]
        joined = counts[:, 3].astype(bool)
        if task == "panx":
            assert not joined.any()  # B-, I- and O chunks never leave their sentence
        units = _units(joined)
        pairs = np.array([(k - 1, k) for k in np.flatnonzero(joined)]).reshape(-1, 2)
        unit_ids, (merged,) = resampling_units(np.array(ids, dtype=bytes), [stats], [pairs])
        assert unit_ids.tolist() == [str(u[0]).encode() for u in units]
        for _ in range(5):
            draw = rng.integers(0, len(units), len(units))  # laid out in drawn order
            layout = [k for u in draw for k in units[u]]
            official = _official([gold[k] for k in layout], [predicted[k] for k in layout])
            resampled = _seqeval_counts(merged["f1"][draw])
            for metric, value in official.items():
                assert resampled[metric] == pytest.approx(value, abs=1e-9), metric


def test_tag_sequences_must_have_one_tag_per_word():
    with pytest.raises(ValueError, match="sentence 1: 1 predicted tags for 2 gold words"):
        score_task("panx", [["O"], ["O"]], [["O"], ["O", "O"]])


# --- mAP@20 (LAReQA, Mewsli-X) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "ranked, relevant, expected",
    [
        (["x", "y", "a"], ["a"], 1 / 3),  # one relevant: the reciprocal rank (Mewsli-X)
        ([f"n{i}" for i in range(20)] + ["a"], ["a"], 0.0),  # rank 21 is outside the top 20
        (["a", "x", "b", "y"], ["a", "b", "c"], (1 / 1 + 2 / 3) / 3),  # c never retrieved
        ([f"r{i}" for i in range(20)], [f"r{i}" for i in range(25)], 1.0),  # ÷ min(25, 20)
        (["a", "a", "b"], ["a", "b"], (1 / 1 + 2 / 3) / 2),  # a repeat counts once
        ([], ["a"], 0.0),
    ],
)
def test_average_precision_at_20(ranked, relevant, expected):
    assert average_precision_at_k(ranked, relevant) == pytest.approx(expected)


def test_map_at_20_averages_over_queries():
    predictions = {"q1": ["a", "b"], "q2": ["x", "c", "y"]}
    gold = {"q1": ["a"], "q2": ["c", "y"]}
    # q1: 1. q2: hits at ranks 2 and 3 → (1/2 + 2/3) / 2 = 7/12.
    assert score_task("lareqa", predictions, gold) == {"map@20": pytest.approx(50 * (1 + 7 / 12))}


# --- statistics → metric ---------------------------------------------------------------------


def test_metric_from_stats_for_means_counts_and_ratios():
    assert metric_from_stats("accuracy", np.array([1.0, 0.0, 1.0, 1.0])) == 75.0
    counts = np.array([[1, 2, 2], [1, 1, 2]])  # 2 correct of 3 predicted and 4 gold
    assert metric_from_stats("precision", counts) == pytest.approx(200 / 3)
    assert metric_from_stats("recall", counts) == 50.0
    assert metric_from_stats("f1", counts) == pytest.approx(100 * 4 / 7)
    assert metric_from_stats("f1", np.array([[0, 0, 0]])) == 0.0  # undefined → 0, as seqeval
    assert metric_from_stats("accuracy", np.array([[3, 4], [1, 4]])) == 50.0  # tokens (CCG)
    with pytest.raises(ValueError, match="no examples"):
        metric_from_stats("accuracy", np.array([]))


def _imperfect(task, gold):
    """Deterministic predictions with errors of every kind the task can have."""
    spec = get_task(task)
    if task == "xnli":
        return [spec.labels[(spec.labels.index(g) + 1) % 3] if i % 3 == 0 else g
                for i, g in enumerate(gold)]  # fmt: skip
    if task == "xcopa":
        return [1 - g if i % 2 else g for i, g in enumerate(gold)]
    if task == "tatoeba":
        return [
            gold[i ^ 1] if (i ^ 1) < len(gold) and i % 4 < 2 else gold[i] for i in range(len(gold))
        ]
    if spec.format == "token_tagging":
        labels = spec.labels
        predicted = []
        for i, sentence in enumerate(gold):
            tags = list(sentence)
            j = i % len(tags)
            tags[j] = labels[(labels.index(tags[j]) + 1) % len(labels)]
            if task == "udpos" and i % 2:  # X at a sentence's start and end (seqeval's chunks)
                tags[0] = tags[-1] = "X"
            predicted.append(tags)
        return predicted
    if spec.format == "span_extraction":
        predicted = {}
        for i, (key, answers) in enumerate(gold.items()):
            words = answers[0].split()
            predicted[key] = [answers[0], " ".join(words[: max(1, len(words) // 2)]), ""][i % 3]
        return predicted
    # Retrieval: the relevant candidates pushed down by i other candidates, some reversed.
    return {key: [f"other-{k}" for k in range(i % 4)] + (rel[::-1] if i % 2 else rel)
            for i, (key, rel) in enumerate(gold.items())}  # fmt: skip


@pytest.mark.parametrize("task", XTREME_R_TASKS)
def test_example_statistics_give_back_the_official_corpus_value(task):
    spec = get_task(task)
    langs = [lang for split, lang in spec.available(RAW) if split == spec.eval_split]
    for lang in langs:
        gold = gold_from_raw(task, lang, RAW)
        for predictions in (gold if spec.format != "span_extraction" else
                            {k: v[0] for k, v in gold.items()}, _imperfect(task, gold)):  # fmt: skip
            official = score_task(task, predictions, gold, lang=lang)
            ids, stats = example_stats(task, predictions, gold, lang=lang)
            assert sorted(stats) == sorted(official)
            assert len(ids) == len(gold) and all(len(s) == len(ids) for s in stats.values())
            expected_ids = (
                list(gold) if isinstance(gold, dict) else [str(i) for i in range(len(gold))]
            )
            assert ids == expected_ids
            for metric, value in official.items():
                assert abs(metric_from_stats(metric, stats[metric]) - value) < 1e-9, (lang, metric)


@pytest.mark.parametrize("task", ["xnli", "panx", "xquad", "lareqa"])
def test_a_resample_of_statistics_scores_that_resample_of_examples(task):
    lang = "de"
    gold = gold_from_raw(task, lang, RAW)
    predictions = _imperfect(task, gold)
    ids, stats = example_stats(task, predictions, gold, lang=lang)
    rows = np.random.default_rng(1).integers(0, len(ids), size=2 * len(ids))
    if isinstance(gold, dict):
        keys = [ids[r] for r in rows]
        # A resampled id appears once per draw: give each draw a key of its own.
        sampled_gold = {f"{k}#{n}": gold[k] for n, k in enumerate(keys)}
        sampled_predictions = {f"{k}#{n}": predictions[k] for n, k in enumerate(keys)}
    else:
        sampled_gold = [gold[r] for r in rows]
        sampled_predictions = [predictions[r] for r in rows]
    expected = score_task(task, sampled_predictions, sampled_gold, lang=lang)
    for metric, value in expected.items():
        assert abs(metric_from_stats(metric, stats[metric][rows]) - value) < 1e-9


# --- other tasks the study scores on their dev sets ----------------------------------------


def test_token_accuracy_for_ccg_and_squad_2_rules_for_squad_v2():
    gold, predicted = [["N", "NP/N"], ["S", "N", "N"]], [["N", "N"], ["S", "N", "NP"]]
    assert score_task("ccg", predicted, gold) == {"accuracy": 60.0}
    assert metric_from_stats("accuracy", example_stats("ccg", predicted, gold)[1]["accuracy"]) == 60
    gold = {"a": [""], "b": ["the waggle dance"]}
    assert score_task("squad_v2", {"a": "", "b": "waggle dance"}, gold) == {
        "exact_match": 100.0,
        "f1": 100.0,
    }


# --- headline scores and averages ------------------------------------------------------------


def test_headline_scores():
    assert headline_score("xquad", {"exact_match": 60.0, "f1": 80.0}) == 70.0
    assert headline_score("panx", {"f1": 71.0, "precision": 1.0, "recall": 2.0}) == 71.0
    assert headline_score("mewslix", {"map@20": 40.0}) == 40.0
    assert headline_score("xcopa", {"accuracy": 55.0}) == 55.0


def test_the_xtreme_r_average_is_over_languages_then_tasks():
    results = {
        "xnli": {"en": {"accuracy": 80.0}, "de": {"accuracy": 70.0}},  # 75, English included
        "xquad": {"en": {"exact_match": 60.0, "f1": 80.0}},  # 70
    }
    average = xtreme_r_average(results)
    assert average["tasks"]["xnli"] == {
        "score": 75.0,
        "accuracy": 75.0,
        "languages": 2,
        "official_languages": 15,
    }
    assert average["tasks"]["xquad"]["score"] == 70.0
    assert average["categories"] == {}  # no category has all its tasks
    assert average["xtreme_r"] is None and average["complete"] is False
    assert "de" not in average["missing"]["xnli"] and "ar" in average["missing"]["xnli"]

    full = {
        task: {"xx": _perfect_metrics(task, float(10 * i))} for i, task in enumerate(XTREME_R_TASKS)
    }
    average = xtreme_r_average(full)
    assert average["xtreme_r"] == pytest.approx(45.0)  # mean of 0, 10, ..., 90
    assert average["categories"] == {
        "classification": pytest.approx(5.0),
        "structured_prediction": pytest.approx(25.0),
        "question_answering": pytest.approx(50.0),
        "retrieval": pytest.approx(80.0),
    }


def _perfect_metrics(task, value):
    names = {"udpos": ("f1", "precision", "recall"), "panx": ("f1", "precision", "recall")}
    if get_task(task).format == "span_extraction":
        return {"exact_match": value, "f1": value}
    if get_task(task).metric == "map@20":
        return {"map@20": value}
    return dict.fromkeys(names.get(task, ("accuracy",)), value)
