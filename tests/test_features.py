"""Featurisation: QA windows map answers back exactly, tags sit on first sub-words,
pairs and choices are encoded the XLM-R way."""

import os
import pickle

import numpy as np
import pytest

from xlmr_flax.data import features as F
from xlmr_flax.data.cache import CacheFormatError, cached_features, dump_features, load_features
from xlmr_flax.tasks import TASKS, get_task
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

from .test_data_readers import SAMPLE


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(sample_tokenizer_path())


def answer_spans(features, examples):
    """(example id, text between the gold tokens' offsets) for windows holding the answer."""
    by_id = {e["id"]: e for e in examples}
    spans = []
    for f in features:
        if f["start_position"] > 0:
            context = by_id[f["id"]]["context"]
            start = f["offsets"][f["start_position"]][0]
            end = f["offsets"][f["end_position"]][1]
            spans.append((f["id"], context[start:end]))
    return spans


CONTEXTS = {
    "de": ("Der Fluss fließt durch das alte Dorf. Wir haben auf dem Markt frisches Brot und Gemüse "
           "gekauft. Die Bibliothek ist sonntags geschlossen.", "Bibliothek"),
    "zh": ("我们在市场买了新鲜的面包和蔬菜。这条河流过古老的村庄。图书馆星期天不开门。"
           "我爷爷四十年前种了这些树。", "图书馆"),
    "ru": ("Река течёт через старую деревню. Библиотека закрыта по воскресеньям. "
           "Мой дедушка посадил эти деревья сорок лет назад.", "сорок лет"),
}  # fmt: skip


@pytest.mark.parametrize("lang", list(CONTEXTS))
def test_qa_windows_cover_the_context_and_map_answers_back_exactly(tokenizer, lang):
    context, answer = CONTEXTS[lang]
    example = dict(id=f"q-{lang}", context=context, question="?", is_impossible=False,
                   answers=[dict(text=answer, start=context.index(answer))])  # fmt: skip
    task = get_task("squad_v1")
    features = F.span_extraction(task, [example], tokenizer, max_length=24, doc_stride=6)
    assert len(features) > 2  # the context needed several windows
    assert all(len(f["input_ids"]) <= 24 for f in features)
    # Every context token appears in some window.
    covered = {tuple(o) for f in features for o in f["offsets"] if o[0] >= 0}
    all_offsets = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    assert covered == {tuple(o) for o in all_offsets}
    spans = answer_spans(features, [example])
    assert spans and all(text == answer for _, text in spans)
    # Windows that cut the answer off point at <s>.
    assert any(f["start_position"] == 0 for f in features)


def test_unanswerable_questions_point_at_the_first_token(tokenizer):
    example = dict(
        id="u",
        context="Die Kinder spielen im Park.",
        question="Wer?",
        is_impossible=True,
        answers=[],
    )
    (feature,) = F.span_extraction(get_task("squad_v2"), [example], tokenizer)
    assert feature["start_position"] == feature["end_position"] == 0


def test_sample_squad_answers_round_trip(tokenizer):
    """The gold tokens are the smallest token span covering the answer: exactly the
    answer when its ends fall on token boundaries (most answers), otherwise the answer
    plus the rest of a straddling sub-word (e.g. '1832.' for '1832')."""
    task = get_task("squad_v1")
    examples = list(task.read(SAMPLE, "train", "en"))
    features = F.span_extraction(task, examples, tokenizer, max_length=128, doc_stride=32)
    assert len(features) > len(examples)  # the long paragraph was windowed
    by_id = {e["id"]: e for e in examples}
    exact = 0
    for f in features:
        if f["start_position"] == 0:
            continue
        answer = by_id[f["id"]]["answers"][0]
        first, last = f["offsets"][f["start_position"]], f["offsets"][f["end_position"]]
        assert first[0] <= answer["start"] < first[1]
        assert last[0] < answer["start"] + len(answer["text"]) <= last[1]
        exact += by_id[f["id"]]["context"][first[0] : last[1]] == answer["text"]
    assert exact >= 0.8 * len(examples)
    assert {f["id"] for f in features if f["start_position"] > 0} == set(by_id)


def test_tagging_labels_first_sub_word_and_keeps_word_ids(tokenizer):
    task = get_task("panx")
    example = dict(id="s", tokens=["Dada", "yangu", "anaishi", "Nairobi", "."],
                   tags=["O", "O", "O", "B-LOC", "O"])  # fmt: skip
    (f,) = F.token_tagging(task, [example], tokenizer, 64, task.labels)
    pieces = tokenizer.convert_ids_to_tokens(f["input_ids"].tolist())
    labelled = [i for i, label in enumerate(f["labels"]) if label != F.IGNORE]
    assert len(labelled) == 5 and all(pieces[i].startswith("▁") for i in labelled)
    assert [int(f["word_ids"][i]) for i in labelled] == [0, 1, 2, 3, 4]
    assert task.labels[f["labels"][labelled[3]]] == "B-LOC"
    assert f["labels"][0] == F.IGNORE and f["labels"][-1] == F.IGNORE  # <s>, </s>


def test_pairs_and_choices_use_xlmr_separators(tokenizer):
    xnli = get_task("xnli")
    (f,) = F.classification(
        xnli, [dict(id="1", text_a="Hallo", text_b="Welt", label="neutral")], tokenizer, 32
    )
    assert list(f["input_ids"]).count(tokenizer.sep_token_id) == 3 and f["label"] == 1
    copa = dict(id="1", context="Es regnete.", question="What happened as a result?",
                choices=["Die Straße wurde nass.", "Die Sonne schien."], label=0)  # fmt: skip
    (m,) = F.multiple_choice(get_task("copa"), [copa], tokenizer, 32)
    assert len(m["choices"]) == 2 and m["label"] == 0


def test_features_are_cached_per_tokenizer_and_length(tokenizer, tmp_path):
    task = get_task("xnli")
    first = cached_features(task, "test", "sw", SAMPLE, tokenizer, 64, str(tmp_path))
    files = list(tmp_path.rglob("*.msgpack"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.partial"))
    again = cached_features(task, "test", "sw", SAMPLE, tokenizer, 64, str(tmp_path))
    assert [f["input_ids"].tolist() for f in again] == [f["input_ids"].tolist() for f in first]
    cached_features(task, "test", "sw", SAMPLE, tokenizer, 32, str(tmp_path))
    assert len(list(tmp_path.rglob("*.msgpack"))) == 2
    assert all(
        len(f["input_ids"]) <= 32
        for f in cached_features(task, "test", "sw", SAMPLE, tokenizer, 32, str(tmp_path))
    )
    np.testing.assert_array_equal(first[0]["input_ids"], again[0]["input_ids"])


def test_a_planted_pickle_is_never_executed_and_corrupt_caches_are_rebuilt(
    tokenizer, tmp_path, caplog
):
    """Whoever can write to the workdir cannot make a run execute code: the cache is
    data only, and bytes that are not a cache are replaced, with a warning."""
    task = get_task("xnli")
    first = cached_features(task, "test", "sw", SAMPLE, tokenizer, 64, str(tmp_path))
    (path,) = tmp_path.rglob("*.msgpack")
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    planted = pickle.dumps([Payload()])
    for victim in (path, path.with_suffix(".pkl")):  # the cache file, and the old name
        victim.write_bytes(planted)
        again = cached_features(task, "test", "sw", SAMPLE, tokenizer, 64, str(tmp_path))
        assert [f["input_ids"].tolist() for f in again] == [f["input_ids"].tolist() for f in first]
    assert not marker.exists()
    assert f"feature cache {path} is corrupt" in caplog.text
    path.write_bytes(path.read_bytes()[:-7])  # truncated
    assert len(cached_features(task, "test", "sw", SAMPLE, tokenizer, 64, str(tmp_path))) == len(
        first
    )
    assert load_features(path.read_bytes())[0]["id"] == first[0]["id"]


def test_the_cache_stores_numbers_and_text_only():
    features = [dict(id="a", n=3, x=np.arange(6, dtype=np.int32).reshape(2, 3), c=[np.ones(2)])]
    (back,) = load_features(dump_features(features))
    assert back["id"] == "a" and back["n"] == 3 and back["x"].dtype == np.int32
    np.testing.assert_array_equal(back["x"], features[0]["x"])
    with pytest.raises(TypeError, match="must hold numbers"):
        dump_features([dict(x=np.array([object()], dtype=object))])
    with pytest.raises(CacheFormatError):
        load_features(b"\x80\x04garbage")


def test_dual_encoder_training_pairs(tokenizer, tmp_path):
    mewslix = cached_features(
        get_task("mewslix"), "train", "en", SAMPLE, tokenizer, 64, str(tmp_path)
    )
    assert len(mewslix) == 10 and all(len(f["candidate_input_ids"]) > 2 for f in mewslix)
    lareqa = cached_features(
        get_task("lareqa"), "train", "en", SAMPLE, tokenizer, 64, str(tmp_path)
    )
    assert len(lareqa) == len(list(get_task("squad_v1").read(SAMPLE, "train")))


def test_answer_sentence_and_mention_marking():
    context = "Der Zug fährt ab. Die Bibliothek ist zu! Wir gehen heim."
    assert F.answer_sentence(context, context.index("Bibliothek")) == "Die Bibliothek ist zu!"
    assert F.answer_sentence("我们买了面包。图书馆不开门。", 8) == "图书馆不开门。"
    assert F.mark_mention("Sie traf Ada in Rom.", 9, 12) == "Sie traf [Ada] in Rom."


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_featurises_its_sample_training_data(tokenizer, tmp_path, name):
    task = get_task(name)
    if "train" not in task.splits and not task.train_on:
        pytest.skip(f"{name} has no training data (evaluation only)")
    if len(task.train_on) > 1:
        pytest.skip(f"{name} trains in stages {task.train_on}, each tested on its own")
    features = cached_features(task, "train", "en", SAMPLE, tokenizer, 128, str(tmp_path))
    examples = list(task.data_task("train").read(SAMPLE, "train"))
    if "example_index" in features[0]:  # QA windows: each question gives one or more
        assert sorted({f["example_index"] for f in features}) == list(range(len(examples)))
    else:  # one feature per example, none lost, each named by its example
        assert len(features) == len(examples) == len({f["id"] for f in features})
    vocab = tokenizer.vocab_size if hasattr(tokenizer, "vocab_size") else len(tokenizer)
    for feature in features:
        sequences = [feature[k] for k in ("input_ids", "candidate_input_ids") if k in feature]
        sequences += list(feature.get("choices", []))
        assert sequences, f"{name}: a feature without token ids: {sorted(feature)}"
        for ids in (np.asarray(s) for s in sequences):
            assert 3 <= len(ids) <= 128 and ids[0] == 0  # <s> ... within the max length
            assert ids.min() >= 0 and ids.max() < vocab
            assert (ids > 3).any()  # some text, not only special tokens
        if "choices" in feature:
            assert 0 <= feature["label"] < len(feature["choices"])
        elif "label" in feature and task.labels:
            assert 0 <= feature["label"] < len(task.labels)
