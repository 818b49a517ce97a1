"""The batched predictor: every target's prediction contract on the sample data, results
independent of batch size, buckets and mesh, one compilation per bucket shape."""

import functools
import os

import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx

from eval.predict.predictor import Predictor
from eval.predict.program import PredictOptions, load_on_mesh
from eval.predict.retrieval import top_k_on_mesh
from xlmr_flax import PretrainedModel, TaskModel, get_model_config, load_tokenizer
from xlmr_flax.data import lareqa, mewslix
from xlmr_flax.data.batching import eval_batches
from xlmr_flax.data.features import classification
from xlmr_flax.formats.decode import top_k
from xlmr_flax.sharding import make_mesh
from xlmr_flax.tasks import TARGETS, get_task
from xlmr_flax.tasks.retrieval.lareqa import lareqa_candidate_id
from xlmr_flax.tokenizer import sample_tokenizer_path

RAW = os.path.join(os.path.dirname(__file__), "..", "xlmr_flax", "assets", "sample_data")
# One bucket of 48 tokens: one compilation per model and output kind. QA windows of 48
# tokens start every 12 context tokens, so most contexts span several windows.
OPTIONS = dict(batch_size=4, bucket_lengths=(), max_length=48, doc_stride=12,
               max_query_length=16)  # fmt: skip
HEADS = {
    "xnli": ("classification", {"num_labels": 3}),
    "xcopa": ("multiple_choice", {}),
    "udpos": ("token_tagging", {"num_labels": 17}),
    "panx": ("token_tagging", {"num_labels": 7}),
    "xquad": ("span_extraction", {}),
    "mlqa": ("span_extraction", {}),
    "tydiqa": ("span_extraction", {}),
    "tatoeba": ("masked_lm", {}),  # Tatoeba reads the encoder whatever the head
    "lareqa": ("sentence_embedding", {}),
    "mewslix": (None, {}),  # no head: the encoder's pooled states
}


@functools.cache
def tokenizer():
    return load_tokenizer(sample_tokenizer_path())


@functools.cache
def tiny_model(head, **kwargs):
    config = get_model_config("tiny", vocab_size=len(tokenizer()))
    module = TaskModel(config, head, rngs=nnx.Rngs(0), **kwargs)
    params = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    return PretrainedModel(config, params, head, kwargs, tokenizer())


def model_for(task):
    head, kwargs = HEADS[task]
    return tiny_model(head, **kwargs)


@functools.cache
def one_device():
    return make_mesh((1, 1, 1), jax.devices()[:1])


def predictor(task, mesh_sizes=(1, 1, 1)):
    """One predictor per model and mesh, shared by the tests (compiled shapes stay)."""
    head, kwargs = HEADS[task]
    return _predictor(head, tuple(sorted(kwargs.items())), mesh_sizes)


@functools.cache
def _predictor(head, kwargs, mesh_sizes):
    mesh = one_device() if mesh_sizes == (1, 1, 1) else make_mesh(mesh_sizes)
    return Predictor(tiny_model(head, **dict(kwargs)), mesh, OPTIONS)


def examples(task, lang):
    return list(get_task(task).read(RAW, get_task(task).eval_split, lang))


def a_language(task):
    """A non-English language of the task's eval split in the sample data."""
    split = get_task(task).eval_split
    return next(lang for s, lang in get_task(task).available(RAW) if s == split and lang != "en")


def lareqa_pool():
    """Every sentence id of every language file: LAReQA's language-agnostic pool."""
    langs = [lang for _, lang in get_task("lareqa").available(RAW)]
    count = {
        lang: len(lareqa.read_candidates(f"{RAW}/lareqa/xquad-r/{lang}.json")) for lang in langs
    }
    return {lareqa_candidate_id(lang, i) for lang in langs for i in range(count[lang])}


def mewslix_entities():
    return {c["id"] for c in mewslix.read_candidates(f"{RAW}/mewslix/candidate_set_entities.jsonl")}


def check_contract(task, lang, prediction):
    """The structure `eval.metrics` is written against, with the right ids and lengths."""
    if task == "tatoeba":
        pairs = examples(task, lang)
        assert len(prediction) == len(pairs)
        assert all(isinstance(i, int) and 0 <= i < len(pairs) for i in prediction)
        return
    if task == "lareqa":
        pool = lareqa_pool()
        assert list(prediction) == [q["id"] for q in examples(task, lang)]
        for ranked in prediction.values():
            assert len(ranked) == min(20, len(pool)) == len(set(ranked)) and set(ranked) <= pool
        return
    if task == "mewslix":
        entities = mewslix_entities()
        assert list(prediction) == [m["id"] for m in examples(task, lang)]
        for ranked in prediction.values():
            assert len(ranked) == min(20, len(entities)) == len(set(ranked))
            assert set(ranked) <= entities
        return
    gold = examples(task, lang)
    fmt = get_task(task).format
    if fmt == "span_extraction":
        assert list(prediction) == [e["id"] for e in gold]
        for e in gold:
            assert isinstance(prediction[e["id"]], str) and prediction[e["id"]] in e["context"]
        return
    assert isinstance(prediction, list) and len(prediction) == len(gold)
    for p, e in zip(prediction, gold, strict=True):
        if fmt == "classification":
            assert p in get_task(task).labels
        elif fmt == "multiple_choice":
            assert isinstance(p, int) and 0 <= p < len(e["choices"])
        else:
            assert len(p) == len(e["tokens"]) and set(p) <= set(get_task(task).labels)


@pytest.mark.parametrize("task", TARGETS)
def test_every_target_predicts_every_sample_language_in_the_contract_format(task):
    by_lang = predictor(task).predict_all(task, raw_dir=RAW)
    split = get_task(task).eval_split
    assert list(by_lang) == [lang for s, lang in get_task(task).available(RAW) if s == split]
    assert len(by_lang) >= 5
    for lang, prediction in by_lang.items():
        check_contract(task, lang, prediction)


@pytest.mark.parametrize("task", ["xcopa", "xquad"])
def test_predictions_do_not_depend_on_batch_size_or_bucket_boundaries(task):
    """Batches of 4 rows of 48 tokens, of 1 row, and of 3 rows split at 24 tokens."""
    lang = a_language(task)
    reference = predictor(task).predict(task, lang, RAW)
    for batch_size, buckets in ((1, ()), (3, (24,))):
        again = predictor(task).predict(
            task, lang, RAW, batch_size=batch_size, bucket_lengths=buckets
        )
        assert again == reference, (batch_size, buckets)


def test_sentence_vectors_do_not_depend_on_batch_size_or_buckets():
    p = predictor("tatoeba")
    texts = [pair["source"] for pair in examples("tatoeba", "ru")]
    reference = p.embed_texts(texts)  # 4 rows of 48 tokens
    options = p.with_options(batch_size=3, bucket_lengths=(16,))
    np.testing.assert_allclose(p.embed_texts(texts, options=options), reference, atol=2e-5)


@pytest.mark.parametrize(
    ("task", "mesh_sizes"),
    [("xnli", (8, 1, 1)), ("tydiqa", (8, 1, 1)), ("mewslix", (8, 1, 1)), ("panx", (2, 2, 2))],
)
def test_a_sharded_mesh_predicts_what_one_device_predicts(task, mesh_sizes):
    """Batches split over 8 data-parallel devices, or parameters sharded over fsdp and
    tensor axes too, give the predictions of a single device."""
    lang = a_language(task)
    expected = predictor(task).predict(task, lang, RAW)
    sharded = predictor(task, mesh_sizes)
    assert sharded.rows_multiple == mesh_sizes[0] * mesh_sizes[1]
    assert sharded.predict(task, lang, RAW) == expected
    if task == "mewslix":  # the ranking itself on the mesh
        assert sharded.predict(task, lang, RAW, device_top_k=True) == expected


def test_one_compilation_per_bucket_shape():
    p = Predictor(model_for("xnli"), one_device(), OPTIONS)
    buckets = (16, 24, 32, 48)

    def shapes(lang):
        features = classification(get_task("xnli"), examples("xnli", lang), tokenizer(), 48)
        return {b["input_ids"].shape for _, b in eval_batches(features, 4, buckets)}

    p.predict("xnli", "en", RAW, bucket_lengths=buckets)
    assert p.compilations == len(shapes("en")) >= 2
    p.predict("xnli", "en", RAW, bucket_lengths=buckets)
    assert p.compilations == len(shapes("en"))  # nothing new
    p.predict("xnli", "sw", RAW, bucket_lengths=buckets)
    assert p.compilations == len(shapes("en") | shapes("sw")) == len(p.compiled_shapes)


def test_multiple_choice_batches_are_bucketed_by_the_longest_choice():
    p = predictor("xcopa")
    task = get_task("xcopa")
    options = p.with_options(bucket_lengths=(8, 16, 24, 32))
    features = p.features(task, "test", "et", RAW, options, examples("xcopa", "et"))
    batches = list(p.choice_batches(features, options, 48))
    assert sorted(i for indices, _ in batches for i in indices) == list(range(len(features)))
    for indices, batch in batches:
        rows, choices, length = batch["input_ids"].shape
        assert (rows, choices) == (4, 2)
        longest = max(len(c) for i in indices for c in features[i]["choices"])
        assert length == next(b for b in (8, 16, 24, 32, 48) if b >= longest)


def test_words_lost_to_truncation_get_the_fallback_tag():
    tagged = predictor("udpos").predict("udpos", "de", RAW, max_length=8)
    sentences = examples("udpos", "de")
    assert [len(t) for t in tagged] == [len(e["tokens"]) for e in sentences]
    longest = max(range(len(sentences)), key=lambda i: len(sentences[i]["tokens"]))
    assert tagged[longest][-3:] == ["X", "X", "X"]  # UPOS fallback: "other"


def test_top_k_on_the_mesh_equals_numpy_ties_included():
    rng = np.random.default_rng(1)
    candidates = np.concatenate([rng.normal(size=(40, 16)), np.repeat(np.eye(16)[:1], 5, 0)])
    queries = np.concatenate([rng.normal(size=(9, 16)), np.eye(16)[:1]])  # the last ties 5-way
    expected_i, expected_s = top_k(queries, candidates, 7)
    got_i, got_s = top_k_on_mesh(
        queries, candidates, 7, make_mesh((8, 1, 1)), query_block=8, candidate_block=16
    )
    np.testing.assert_array_equal(got_i, expected_i)
    np.testing.assert_allclose(got_s, expected_s, atol=1e-6)
    assert got_i[-1, :5].tolist() == [40, 41, 42, 43, 44]


def test_a_model_directory_restored_onto_the_mesh(tmp_path):
    """Each parameter restored straight onto its sharding: what the predictor would
    place it on, with the same values."""
    model = model_for("xnli")
    model.save(str(tmp_path / "model"))
    mesh = make_mesh((2, 2, 2))
    restored = load_on_mesh(str(tmp_path / "model"), mesh)
    placed = Predictor(model, mesh, OPTIONS)._params
    for got, want in zip(jax.tree.leaves(restored.params), jax.tree.leaves(placed), strict=True):
        assert got.sharding.is_equivalent_to(want.sharding, got.ndim)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert {len(x.sharding.device_set) for x in jax.tree.leaves(restored.params)} == {8}


def test_wrong_heads_and_unknown_options_are_errors():
    with pytest.raises(ValueError, match="needs a classification head; the model has token"):
        predictor("udpos").predict("xnli", "en", RAW)
    with pytest.raises(ValueError, match="7 labels; the model's head has 17"):
        predictor("udpos").predict("panx", "en", RAW)
    with pytest.raises(TypeError, match="unknown prediction option"):
        predictor("xnli").predict("xnli", "en", RAW, batchsize=3)
    with pytest.raises(TypeError, match="raw_dir= by name"):
        predictor("xnli").predict_all("xnli", "de", raw_dir=RAW)


def test_options_come_from_a_config_section():
    section = ml_collections.ConfigDict(dict(batch_size=16, bucket_lengths=[64, 128], output="x"))
    options = PredictOptions.create(section, layer=7)
    assert (options.batch_size, options.bucket_lengths, options.layer) == (16, (64, 128), 7)
    assert options.buckets(100) == (64, 100)  # the maximum length is always the last bucket
    assert PredictOptions().length_for(get_task("xquad")) == 384
    assert PredictOptions().length_for(get_task("xnli")) == 256
