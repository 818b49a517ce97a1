"""A task format is one plug-in: a toy format and a toy metric, registered here, run end
to end through featurisation, training batches and loss, prediction, submission files
and scoring; a new task in a known format is one `Task` (docs/formats.md's recipes)."""

import json
import os

import jax
import numpy as np
import pytest
from flax import nnx

from eval.metrics import (
    MetricKind,
    example_stats,
    metric_from_stats,
    register_metric_kind,
    score_task,
    unregister_metric_kind,
)
from eval.predict.predictor import Predictor
from eval.scoring.submission import gold_from_raw, read_predictions, write_predictions
from train.losses import get_loss
from train.stage import head_kwargs
from train.study.plan.compile import compile_study
from train.study.plan.cost import study_cost
from train.study.plan.plan import build_dag, load_config_file
from train.study.plan.programs import study_programs
from train.study.plan.targets import parse_target
from xlmr_flax import PretrainedModel, TaskModel, get_model_config, load_tokenizer
from xlmr_flax.data.batching import TrainBatches
from xlmr_flax.data.cache import cached_features
from xlmr_flax.formats import Format, get_format, register_format, unregister_format
from xlmr_flax.formats import files as format_files
from xlmr_flax.sharding import make_mesh
from xlmr_flax.tasks import Task, get_task, register
from xlmr_flax.tasks.base import Layout, unregister
from xlmr_flax.tokenizer import sample_tokenizer_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARITY = ("even", "odd")
SENTENCES = ["one", "one two", "a b c", "w x y z", "the cat sat", "so it goes", "x", "p q"] * 2


class WordParity(Format):
    """Toy format: is a sentence's word count even or odd? Its gold is derived from
    the text; it trains the classification head and is scored by a toy metric."""

    name = "toy_word_parity"
    head = "classification"
    gold_field = "text"
    extension = "tsv"

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        return [
            dict(
                id=e["id"],
                input_ids=np.asarray(tokenizer(e["text"])["input_ids"], np.int32),
                label=len(e["text"].split()) % 2,
            )
            for e in examples
        ]

    def head_kwargs(self, task, raw_dir):
        return {"num_labels": len(PARITY)}

    def labels(self, task, raw_dir):
        return PARITY

    def predict(self, predictor, task, split, lang, raw_dir, options):
        examples = list(task.read(raw_dir, split, lang))
        features = predictor.features(task, split, lang, raw_dir, options, examples)
        batches = predictor.sequence_batches(features, options, self.eval_length(task, options))
        logits = predictor.outputs("logits", batches, len(features))["logits"]
        return [PARITY[int(np.argmax(x))] for x in logits]

    def gold(self, task, lang, raw_dir, split):
        return [PARITY[len(e["text"].split()) % 2] for e in task.read(raw_dir, split, lang)]

    def metric_kind(self, task):
        return "toy_error_rate"

    def serialize(self, task, value):
        return "".join(f"{v}\n" for v in value)

    def read_predictions(self, path, task, gold):
        rows = list(format_files.label_lines(path))
        format_files.check_line_count(path, len(rows), len(gold))
        return [text for _, text in rows]


class ErrorRate(MetricKind):
    """Toy metric: the share of wrong predictions (a per-example mean)."""

    name = "toy_error_rate"
    metrics = headline = ("error_rate",)

    def score(self, predictions, gold, lang, allow_missing):
        wrong = sum(p != g for p, g in zip(predictions, gold, strict=True))
        return {"error_rate": wrong / len(gold) * 100}

    def stats(self, predictions, gold, lang, allow_missing):
        wrong = np.array([float(p != g) for p, g in zip(predictions, gold, strict=True)])
        return [str(i) for i in range(len(gold))], {"error_rate": wrong}


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            yield dict(id=str(number), text=line.strip())


@pytest.fixture
def toy(tmp_path):
    raw = tmp_path / "raw"
    for split in ("train", "test"):
        os.makedirs(raw / "toy", exist_ok=True)
        (raw / "toy" / f"{split}.txt").write_text("\n".join(SENTENCES) + "\n")
    register_format(WordParity())
    register_metric_kind(ErrorRate())
    task = register(
        Task(
            name="toy_parity",
            format="toy_word_parity",
            source="test sentences",
            metric="error_rate",
            splits=("train", "test"),
            eval_langs=("en",),
            train_on=("toy_parity",),  # a target trained on its own English data
            layouts=(Layout("toy", lambda split, lang: [f"toy/{split}.txt"], read_lines),),
        )
    )
    yield task, str(raw)
    unregister(task.name)
    unregister_metric_kind("toy_error_rate")
    unregister_format("toy_word_parity")


def tiny_model(head, **kwargs):
    tokenizer = load_tokenizer(sample_tokenizer_path())
    config = get_model_config("tiny", vocab_size=len(tokenizer))
    module = TaskModel(config, head, rngs=nnx.Rngs(0), **kwargs)
    params = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    return module, PretrainedModel(config, params, head, kwargs, tokenizer)


def test_a_format_registered_from_outside_runs_end_to_end(toy, tmp_path):
    task, raw = toy
    tokenizer = load_tokenizer(sample_tokenizer_path())
    # Featurisation, through the cache every trainer uses.
    features = cached_features(task, "train", "en", raw, tokenizer, 32, str(tmp_path / "f"))
    assert [f["label"] for f in features[:4]] == [1, 0, 1, 0]
    # Training batches and the loss of the head the format names.
    kwargs = head_kwargs(task, raw)
    assert (task.head, kwargs) == ("classification", {"num_labels": 2})
    batch = TrainBatches(features, 4, seed=0).batch(0)
    module, model = tiny_model(task.head, **kwargs)
    total, weight = get_loss(task.head)(module, batch, jax.random.key(0))
    assert float(weight) == 4 and np.isfinite(float(total)) and float(total) > 0
    # Prediction and decoding, by the format, on the predictor's compiled batches.
    predictor = Predictor(model, make_mesh((1, 1, 1), jax.devices()[:1]), dict(batch_size=4))
    predicted = predictor.predict(task.name, "en", raw)
    assert len(predicted) == len(SENTENCES) and set(predicted) <= set(PARITY)
    # Submission files round trip; scoring by the format's metric kind.
    gold = gold_from_raw(task.name, "en", raw)
    path = write_predictions(str(tmp_path / "out"), task.name, "en", predicted)
    assert path.endswith("toy_parity/test-en.tsv")
    assert read_predictions(path, task.name, gold) == predicted
    wrong = sum(p != g for p, g in zip(predicted, gold, strict=True))
    assert score_task(task.name, predicted, gold) == {"error_rate": wrong / len(gold) * 100}
    _, stats = example_stats(task.name, predicted, gold)
    assert metric_from_stats("error_rate", stats["error_rate"]) == pytest.approx(
        100 * wrong / len(gold)
    )
    assert score_task(task.name, gold, gold) == {"error_rate": 0.0}


def test_a_registered_format_is_planned_and_compiled_before_anything_runs(toy):
    task, raw = toy
    config = load_config_file(os.path.join(ROOT, "configs", "smoke.py")).get_config("quick")
    config.raw_data = raw
    config.study.update(intermediate_tasks=(), orders=(), targets=(task.name,))
    dag = build_dag(config)
    assert [s.task for s in dag.in_order()] == [task.name]
    # Compile-only: the toy task's train step and evaluation buckets, from its format.
    programs = {p.name: p for p in study_programs(config, dag, 8)}
    assert {"train toy_parity 8x64", "eval logits 16x32 (toy_word_parity)"} <= set(programs)
    lines = []
    (compiled,) = compile_study(config, dag, parse_target("cpu-8"), only="train toy_parity",
                                out=lines.append)  # fmt: skip
    assert compiled.peak_bytes > 0 and compiled.flops > 0
    # The planner: the stage's tokens from the toy data's padded lengths, one sequence
    # per example (the format's default).
    cost = study_cost(config, dag, ["v4-8"])
    (length,) = cost["measured_lengths"].values()
    (work,) = cost["kinds"]
    assert work.tokens == 8 * round(8 * length) and 0 < length <= 64
    assert all(c.chip_hours > 0 for c in cost["costs"]["v4-8"])


def test_a_new_task_in_a_known_format_is_one_task_declaration(tmp_path):
    raw = tmp_path / "raw"
    os.makedirs(raw / "pairs")
    rows = [dict(id=str(i), text_a=s, text_b="", label=PARITY[i % 2]) for i, s in
            enumerate(SENTENCES)]  # fmt: skip
    (raw / "pairs" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def read_jsonl(path):
        with open(path, encoding="utf-8") as f:
            yield from (json.loads(line) for line in f)

    task = register(
        Task(
            name="toy_pairs",
            format="classification",
            source="test rows",
            metric="accuracy",
            labels=PARITY,
            splits=("test",),
            train_langs=(),
            eval_langs=("en",),
            layouts=(Layout("toy", lambda split, lang: [f"pairs/{split}.jsonl"], read_jsonl),),
        )
    )
    try:
        _, model = tiny_model("classification", num_labels=2)
        predictor = Predictor(model, make_mesh((1, 1, 1), jax.devices()[:1]), dict(batch_size=4))
        predicted = predictor.predict(task.name, "en", str(raw))
        gold = gold_from_raw(task.name, "en", str(raw))
        assert gold == [r["label"] for r in rows]
        correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
        assert score_task(task.name, predicted, gold) == {"accuracy": correct / len(gold) * 100}
        features = get_format("classification").featurize(
            task, "test", rows, str(raw), load_tokenizer(sample_tokenizer_path()), 32
        )
        assert [f["label"] for f in features] == [i % 2 for i in range(len(rows))]
    finally:
        unregister(task.name)


def test_an_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown format 'nope'; known: .*classification"):
        get_format("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_format(get_format("retrieval"))
    assert get_task("xnli").head == "classification"
