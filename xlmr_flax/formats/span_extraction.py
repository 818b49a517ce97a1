"""Span extraction (XQuAD, MLQA, TyDiQA-GoldP, SQuAD): the answer is a span of the context.

Features are windows over long contexts (`features.span_extraction`); a question's
answer is the best span over all its windows (`decode.best_answer`). Predictions:
`dict[str, str]` question id → answer text; gold: `Answers`, id → answer texts.
Submission files: `.json`, `{"id": "answer", ...}` (labels `{"id": ["answer", ...]}`,
or a SQuAD-format dataset). Scored by the task's `metric`: "squad" (v1.1), "squad_v2"
or "mlqa" (language-aware normalisation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xlmr_flax.data import features as F
from xlmr_flax.errors import DataError
from xlmr_flax.formats import files
from xlmr_flax.formats.base import Format, register_format, sequence_batch
from xlmr_flax.formats.decode import best_answer

METRIC_KINDS = ("squad", "squad_v2", "mlqa")


class Answers(dict):
    """Gold answers of one language, `{question id: [answer text, ...]}`, that also
    carry their language: MLQA's normalisation depends on it, so a gold structure
    read from files can be scored without passing `lang` separately."""

    def __init__(self, answers: Mapping[str, Sequence[str]] = (), lang: str | None = None):
        super().__init__(answers)
        self.lang = lang


class SpanExtraction(Format):
    name = "span_extraction"
    head = "span_extraction"
    gold_field = "answers"
    max_length = 384
    extension = "json"
    windowed = True  # a long context gives several training windows

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        return F.span_extraction(task, examples, tokenizer, max_length, **kw)

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        return sequence_batch(rows, length, start_positions=(rows,), end_positions=(rows,))

    def forward_output(self, task, options, model_head) -> tuple[str, tuple]:
        return "spans", ()

    def predict(self, predictor, task, split, lang, raw_dir, options) -> dict[str, str]:
        examples = list(task.read(raw_dir, split, lang))
        length = self.eval_length(task, options)
        # Questions keep at most half the window, so short windows still hold context.
        max_query = min(options.max_query_length, (length - 4) // 2)
        kw = dict(doc_stride=options.doc_stride, max_query_length=max_query)
        features = predictor.features(task, split, lang, raw_dir, options, examples, **kw)
        batches = predictor.sequence_batches(features, options, length)
        outputs = predictor.outputs("spans", batches, len(features))
        start, end = outputs["start_logits"], outputs["end_logits"]
        windows: dict[int, list[int]] = {}
        for i, f in enumerate(features):
            windows.setdefault(f["example_index"], []).append(i)
        # Unanswerable questions in the data (SQuAD v2.0): "" when <s> outscores every span.
        no_answer = any(e["is_impossible"] for e in examples)
        answers = {}
        for index, e in enumerate(examples):
            ws = windows.get(index, [])
            answers[e["id"]] = best_answer(
                [start[i][: len(features[i]["input_ids"])] for i in ws],
                [end[i][: len(features[i]["input_ids"])] for i in ws],
                [features[i]["offsets"] for i in ws],
                e["context"],
                n_best=options.n_best,
                max_answer_length=options.max_answer_length,
                no_answer=no_answer,
            )
        return answers

    def gold(self, task, lang: str, raw_dir: str, split: str) -> Answers:
        # A question without answers (SQuAD 2.0) has the empty answer, as SQuAD's script.
        examples = task.read(raw_dir, split, lang)
        return Answers({e["id"]: [a["text"] for a in e["answers"]] or [""] for e in examples}, lang)

    def metric_kind(self, task) -> str:
        if task.metric not in METRIC_KINDS:
            raise ValueError(f"task {task.name}: metric {task.metric!r}; known: {METRIC_KINDS}")
        return task.metric

    def serialize(self, task, value) -> str:
        return files.json_lines_object(value)

    def read_labels(self, path: str, task, lang: str | None) -> Answers:
        data = files.json_object(path)
        if isinstance(data.get("data"), list):
            return Answers(_squad_answers(path, data["data"]), lang)
        texts = {i: files.strings(path, i, v, "answer texts") for i, v in data.items()}
        return Answers(texts, lang)

    def read_predictions(self, path: str, task, gold) -> dict[str, str]:
        data = files.keyed_predictions(path, gold)
        for i, answer in data.items():
            if not isinstance(answer, str):
                raise DataError(
                    f"{path}: id {i!r}: expected an answer string, found {type(answer).__name__}"
                )
        return data


def _squad_answers(path: str, articles: list) -> dict[str, list[str]]:
    answers = {}
    try:
        for article in articles:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answers[qa["id"]] = [a["text"] for a in qa["answers"]] or [""]
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}: not a SQuAD-format dataset ({err!r} missing)") from None
    return answers


FORMAT = register_format(SpanExtraction())
