"""Multiple choice (XCOPA, COPA, SIQA, ...): one of a few candidate continuations.

Predictions and gold: `list[int]`, the chosen choice per example; submission files:
`.jsonl`, one `{"label": choice index}` per line (XTREME-R's evaluate.py reads XCOPA's
so); scored by accuracy. Each task's `hooks` is a `ChoiceHooks` naming its dataset's
number of answer choices, for planning without the data.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from xlmr_flax.data import features as F
from xlmr_flax.errors import DataError
from xlmr_flax.formats import files
from xlmr_flax.formats.base import Format, register_format


@dataclasses.dataclass(frozen=True)
class ChoiceHooks:
    """What a multiple-choice task declares besides its data."""

    choices: int  # answer choices per example in the dataset's release


class MultipleChoice(Format):
    name = "multiple_choice"
    head = "multiple_choice"
    gold_field = "label"
    extension = "jsonl"

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        return F.multiple_choice(task, examples, tokenizer, max_length)

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        grid = (rows, choices, length)
        return {"input_ids": grid, "attention_mask": grid, "labels": (rows,),
                "example_weight": (rows,)}  # fmt: skip

    def choices(self, task, raw_dir: str) -> int:
        """Counted on the first example of the data the task trains or is scored on;
        the task's `ChoiceHooks` where that data is absent."""
        split = task.eval_split if task.is_target else "train"
        lang = task.eval_langs[0] if task.is_target else "en"
        try:
            return len(next(task.read(raw_dir, split, lang))["choices"])
        except (OSError, ValueError, StopIteration):
            if not isinstance(task.hooks, ChoiceHooks):
                raise ValueError(
                    f"task {task.name}: no {split} data to count its answer choices, and no "
                    "ChoiceHooks(choices=N) to assume them"
                ) from None
            return task.hooks.choices

    def predict(self, predictor, task, split, lang, raw_dir, options) -> list[int]:
        examples = list(task.read(raw_dir, split, lang))
        features = predictor.features(task, split, lang, raw_dir, options, examples)
        batches = predictor.choice_batches(features, options, self.eval_length(task, options))
        logits = predictor.outputs("logits", batches, len(features))["logits"]
        return [int(np.argmax(row)) for row in logits]

    def gold(self, task, lang: str, raw_dir: str, split: str) -> list[int]:
        return [e["label"] for e in task.read(raw_dir, split, lang)]

    def metric_kind(self, task) -> str:
        return "accuracy"

    def serialize(self, task, value) -> str:
        return "".join(json.dumps({"label": item}) + "\n" for item in value)

    def read_labels(self, path: str, task, lang: str | None) -> list[int]:
        return jsonl_labels(path)

    def read_predictions(self, path: str, task, gold) -> list[int]:
        predicted = jsonl_labels(path)
        files.check_line_count(path, len(predicted), len(gold))
        return predicted


def jsonl_labels(path: str) -> list[int]:
    """The `label` of every line of a JSON-lines file (XCOPA's submission and its
    original test files, whose other fields are ignored)."""
    labels = []
    for number, text in enumerate(files.text_lines(path), 1):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: invalid JSON ({err.msg})") from None
        label = record.get("label") if isinstance(record, dict) else None
        if not isinstance(label, int) or isinstance(label, bool) or label < 0:
            raise DataError(f"{path}:{number}: expected an object with an integer 'label'")
        labels.append(label)
    if not labels:
        raise DataError(f"{path}: no labels (empty file)")
    return labels


FORMAT = register_format(MultipleChoice())
