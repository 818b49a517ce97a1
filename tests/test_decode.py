"""From model outputs to predictions: QA spans over windows, word tags, cosine top-k."""

import numpy as np
import pytest

from xlmr_flax import load_tokenizer, sample_tokenizer_path
from xlmr_flax.data.features import span_extraction
from xlmr_flax.formats.decode import best_answer, fallback_tag, qa_nbest, top_k, word_tags
from xlmr_flax.tasks import get_task

CONTEXT = "zero one two three four five"
WORDS = [(0, 4), (5, 8), (9, 12), (13, 18), (19, 23), (24, 28)]
PREFIX = 3  # <s> question </s> (no context offsets), then the window's words, then </s>


def window(first, last):
    """Offsets of a window holding words first..last (inclusive)."""
    return np.array([(-1, -1)] * PREFIX + WORDS[first : last + 1] + [(-1, -1)])


def logits(length, **high):
    """Low everywhere, `high` maps token position → value."""
    x = np.full(length, -10.0)
    for position, value in high.items():
        x[int(position.removeprefix("t"))] = value
    return x


# Two windows with stride 2: words 0-3 and words 2-5; word w of window 1 is token PREFIX + w - 2.
W0, W1 = window(0, 3), window(2, 5)


def test_answer_found_in_the_second_window():
    start = [logits(8), logits(8, t5=4.0)]  # word 4 ("four") in window 1
    end = [logits(8), logits(8, t6=4.0)]  # word 5 ("five")
    assert best_answer(start, end, [W0, W1], CONTEXT) == "four five"
    best = qa_nbest(start, end, [W0, W1], CONTEXT)[0]
    assert (best.window, best.start, best.end, best.char_start, best.char_end) == (1, 5, 6, 19, 28)


def test_an_answer_across_the_window_boundary_comes_from_the_overlapping_window():
    # Window 0 ends at "three": it can only offer the cut-off span "three".
    start = [logits(8, t6=5.0), logits(8, t4=5.0)]
    end = [logits(8, t6=1.0), logits(8, t5=5.0)]
    assert best_answer(start, end, [W0, W1], CONTEXT) == "three four"
    texts = [a.text for a in qa_nbest(start, end, [W0, W1], CONTEXT)]
    assert texts.index("three four") < texts.index("three")


def test_start_after_end_is_rejected():
    start = [logits(8, t6=9.0, t3=1.0)]  # best start "three", then "zero"
    end = [logits(8, t4=9.0, t5=0.5)]  # best end "one", then "two"
    # (three, one) is the highest sum but ends before it starts.
    assert best_answer(start, end, [W0], CONTEXT) == "zero one"


def test_over_long_spans_are_rejected():
    start = [logits(8, t3=9.0, t5=1.0)]  # "zero", then "two"
    end = [logits(8, t6=9.0)]  # "three"
    assert best_answer(start, end, [W0], CONTEXT) == "zero one two three"
    assert best_answer(start, end, [W0], CONTEXT, max_answer_length=2) == "two three"


def test_tokens_outside_the_context_never_start_or_end_an_answer():
    start = [logits(8, t0=50.0, t1=40.0, t4=1.0)]  # <s> and the question score highest
    end = [logits(8, t7=50.0, t2=40.0, t5=1.0)]  # </s> too
    assert best_answer(start, end, [W0], CONTEXT) == "one two"


def test_no_allowed_span_gives_an_empty_answer():
    start = [logits(8, t6=1.0)]
    end = [logits(8, t6=1.0)]
    assert best_answer(start, end, [W0], CONTEXT, n_best=1, max_answer_length=0) == ""
    assert qa_nbest([], [], [], CONTEXT) == []


def test_unanswerable_questions_answer_empty_when_s_outscores_every_span():
    start = [logits(8, t0=3.0, t4=1.0), logits(8, t0=6.0, t4=1.0)]
    end = [logits(8, t0=3.0, t5=1.0), logits(8, t0=6.0, t5=1.0)]
    assert best_answer(start, end, [W0, W1], CONTEXT) == "one two"  # SQuAD v1: always a span
    # The null score is the lowest over windows (6 here): it beats the span's 2.
    assert best_answer(start, end, [W0, W1], CONTEXT, no_answer=True) == ""
    start[0][0] = end[0][0] = 0.5
    assert best_answer(start, end, [W0, W1], CONTEXT, no_answer=True) == "one two"


def test_logits_of_padding_positions_are_ignored():
    start = [np.concatenate([logits(8, t3=1.0), [99.0, 99.0]])]  # two padding positions
    end = [np.concatenate([logits(8, t3=1.0), [99.0, 99.0]])]
    assert best_answer(start, end, [W0], CONTEXT) == "zero"


def test_equal_scores_go_to_the_earlier_window_then_the_earlier_start():
    start = [logits(8, t5=2.0), logits(8, t3=2.0)]  # "two" in both windows
    end = [logits(8, t5=2.0), logits(8, t3=2.0)]
    best = qa_nbest(start, end, [W0, W1], CONTEXT)
    assert (best[0].text, best[0].window) == ("two", 0)
    assert (best[1].text, best[1].window) == ("two", 1)
    assert [a.score for a in best] == sorted((a.score for a in best), reverse=True)


def test_real_windows_map_the_gold_tokens_back_to_the_answer_text():
    """Features from the real featuriser: wherever a window holds the answer, logits
    peaking at its gold tokens decode to exactly the answer's text."""
    tokenizer = load_tokenizer(sample_tokenizer_path())
    context = " ".join(
        f"Sentence number {i} talks about the weather in Nairobi." for i in range(12)
    )
    answer = "the weather in Nairobi"
    start_char = context.index(answer, len(context) // 2)
    example = dict(id="q", context=context, question="What is it about?",
                   answers=[dict(text=answer, start=start_char)], is_impossible=False)  # fmt: skip
    features = span_extraction(get_task("xquad"), [example], tokenizer, 48, doc_stride=16)
    holding = [i for i, f in enumerate(features) if f["start_position"] > 0]
    assert len(features) > 3 and holding and holding[0] > 0  # not in the first window
    starts = [np.zeros(len(f["input_ids"])) for f in features]
    ends = [np.zeros(len(f["input_ids"])) for f in features]
    for i in holding:
        starts[i][features[i]["start_position"]] = 5.0
        ends[i][features[i]["end_position"]] = 5.0
    offsets = [f["offsets"] for f in features]
    best = qa_nbest(starts, ends, offsets, context)[0]
    assert best.text == answer and best.window == holding[0]
    assert context[best.char_start : best.char_end] == answer


# --- word tags ---------------------------------------------------------------------------

LABELS = ("O", "B-PER", "I-PER")


def test_each_word_takes_its_first_sub_words_prediction():
    # <s> w0 w0' w1 w2 w2' </s> pad: word_ids -1 except on first sub-words.
    word_ids = np.array([-1, 0, -1, 1, 2, -1, -1, -100])
    predictions = np.array([2, 1, 0, 2, 0, 1, 1, 1])
    assert word_tags(predictions, word_ids, 3, LABELS) == ["B-PER", "I-PER", "O"]


def test_words_cut_off_by_truncation_get_the_fallback_tag():
    word_ids = np.array([-1, 0, 1, -1])  # a 4-word sentence truncated after word 1
    predictions = np.array([0, 1, 2, 0])
    assert word_tags(predictions, word_ids, 4, LABELS) == ["B-PER", "I-PER", "O", "O"]
    assert word_tags(predictions, word_ids, 4, LABELS, fallback="I-PER")[2:] == ["I-PER"] * 2


def test_fallback_tags():
    assert fallback_tag(("B-LOC", "O")) == "O"  # NER: no entity
    assert fallback_tag(("ADJ", "NOUN", "X")) == "X"  # UPOS: other
    assert fallback_tag(("N", "NP")) == "N"  # otherwise the first label


# --- top-k -------------------------------------------------------------------------------


def test_top_k_orders_by_cosine_best_first():
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    queries = np.array([[2.0, 0.1], [-1.0, -3.0]])
    indices, scores = top_k(queries, candidates, 3)
    assert indices.tolist() == [[0, 2, 1], [3, 0, 2]]
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert scores[0, 0] == pytest.approx(2.0 / np.hypot(2.0, 0.1), rel=1e-6)  # a cosine


def test_top_k_ties_keep_the_lower_index_across_blocks():
    candidates = np.array([[1.0, 0.0]] * 5 + [[2.0, 0.0]] * 3 + [[0.0, 1.0]])
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = [[0, 1, 2, 3], [8, 0, 1, 2]]
    for block in (1, 2, 3, 100):
        indices, _ = top_k(queries, candidates, 4, query_block=1, candidate_block=block)
        assert indices.tolist() == expected, block


def test_top_k_in_blocks_equals_a_full_sort():
    rng = np.random.default_rng(0)
    queries, candidates = rng.normal(size=(37, 8)), rng.normal(size=(501, 8))
    indices, scores = top_k(queries, candidates, 20, query_block=8, candidate_block=64)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    full = np.argsort(-(q @ c.T), axis=1, kind="stable")[:, :20]
    np.testing.assert_array_equal(indices, full)
    np.testing.assert_allclose(scores, np.take_along_axis(q @ c.T, full, axis=1), rtol=1e-5)


def test_top_k_returns_the_whole_pool_when_k_exceeds_it():
    indices, scores = top_k(np.ones((2, 3)), np.eye(3), 20)
    assert indices.shape == scores.shape == (2, 3)
    assert indices[0].tolist() == [0, 1, 2]
