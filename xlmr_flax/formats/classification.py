"""Classification (XNLI, MNLI, ...): one label per example or sentence pair.

Predictions and gold: `list[str]`, one label per example in file order; submission
files: `.tsv`, one label per line; scored by accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlmr_flax.data import features as F
from xlmr_flax.errors import DataError
from xlmr_flax.formats import files
from xlmr_flax.formats.base import Format, register_format


class Classification(Format):
    name = "classification"
    head = "classification"
    gold_field = "label"
    extension = "tsv"

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        return F.classification(task, examples, tokenizer, max_length)

    def head_kwargs(self, task, raw_dir: str) -> dict[str, Any]:
        return {"num_labels": len(task.labels)}

    def labels(self, task, raw_dir: str) -> tuple[str, ...]:
        return task.labels

    def predict(self, predictor, task, split, lang, raw_dir, options) -> list[str]:
        examples = list(task.read(raw_dir, split, lang))
        features = predictor.features(task, split, lang, raw_dir, options, examples)
        batches = predictor.sequence_batches(features, options, self.eval_length(task, options))
        logits = predictor.outputs("logits", batches, len(features))["logits"]
        return [task.labels[int(np.argmax(x))] for x in logits]

    def gold(self, task, lang: str, raw_dir: str, split: str) -> list[str]:
        return [e["label"] for e in task.read(raw_dir, split, lang)]

    def metric_kind(self, task) -> str:
        return "accuracy"

    def serialize(self, task, value) -> str:
        return "".join(f"{item}\n" for item in value)

    def read_labels(self, path: str, task, lang: str | None) -> list[str]:
        return [text for _, text in files.nonempty_label_lines(path)]

    def read_predictions(self, path: str, task, gold) -> list[str]:
        rows = list(files.label_lines(path))
        files.check_line_count(path, len(rows), len(gold))
        for n, text in rows:
            if task.labels and text not in task.labels:
                raise DataError(
                    f"{path}:{n}: {text!r} is not a {task.name} label {list(task.labels)}"
                )
        return [text for _, text in rows]


FORMAT = register_format(Classification())
