"""What a task format owns, and the registry that holds every format.

A format is the shape of a task's examples and of its answers: classification,
multiple choice, span extraction, token tagging, retrieval, masked LM. Everything
that depends on the format and not on the dataset lives on its `Format` object, one
module per format (docs/formats.md):

- featurisation (`featurize`);
- the head it trains and that head's arguments (`head`, `head_kwargs`; the loss is
  the head's: train/losses.py), and how training batches are drawn (`masking`);
- prediction and decoding (`predict`, given a predictor that runs the model);
- gold answers from raw data (`gold`) and the submission file format (`extension`,
  `serialize`, `read_labels`, `read_predictions`);
- which metric scores it (`metric_kind`: a name `eval.metrics` implements);
- what planning needs without weights or data: head arguments where the data is
  absent (`planned_head_kwargs`), the arrays of a training batch (`batch_shapes`), the
  sequences per example (`choices`, `sequences_per_example`) and the output the
  evaluator's compiled forward pass returns (`forward_output`), for compile-only
  and the cost planner (train/study/plan/programs.py, cost.py).

A task keeps `format: str` (the registry key) and its dataset-specific settings;
behaviour particular to one task of a format (a retrieval task's candidate pool)
lives on the task, as `Task.hooks`, and the format calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from xlmr_flax.registry import Registry

# Default maximum lengths in tokens: the original study's 256 (384 for QA windows).
FALLBACK_MAX_LENGTH = 256


class Predictor(Protocol):
    """What a format's `predict` needs from the predictor that runs the model
    (eval.predict.predictor.Predictor): features, batches, model outputs per feature."""

    def features(self, task: Any, split: str, lang: str, raw_dir: str, options: Any,
                 examples: list[dict], **kw: Any) -> list[dict]: ...  # fmt: skip

    def sequence_batches(self, features: Sequence[dict], options: Any, max_length: int): ...

    def choice_batches(self, features: Sequence[dict], options: Any, max_length: int): ...

    def outputs(self, kind: str, batches: Any, count: int) -> dict[str, list]: ...

    def embed_texts(self, texts: Sequence[str], **kw: Any) -> Any: ...

    def search(self, queries: Any, candidates: Any, k: int, options: Any) -> Any: ...

    def cached(self, key: tuple, build: Any) -> Any: ...


class Format:
    """The behaviour of one task format. Subclasses set `name`, `head` and the hooks
    their tasks use; the defaults say "this format has no such thing"."""

    name: str = ""
    head: str = ""  # the training head (xlmr_flax.heads) and so the loss (train/losses.py)
    gold_field: str | None = None  # the example field holding the gold (Task.gold)
    max_length: int = FALLBACK_MAX_LENGTH  # default evaluation length in tokens
    extension: str | None = None  # submission files: tsv, jsonl or json
    # Whether `predict` runs the model's own trained head (checked against `head`).
    predicts_with_head: bool = True
    # Whether one example may become several training features (windows over a long
    # context): then a split of fewer examples than a batch can still fill one.
    windowed: bool = False

    # --- data ---------------------------------------------------------------------------

    def featurize(
        self, task, split: str, examples: list[dict], raw_dir: str, tokenizer, max_length: int,
        **kw: Any,
    ) -> list[dict]:  # fmt: skip
        """Features of one file's examples (xlmr_flax.data.features' conventions)."""
        raise ValueError(f"task {task.name}: {self.name} has no {split} features")

    # --- training -----------------------------------------------------------------------

    def head_kwargs(self, task, raw_dir: str) -> dict[str, Any]:
        """Arguments of the head (`num_labels`, ...)."""
        return {}

    def labels(self, task, raw_dir: str) -> tuple[str, ...] | None:
        """The label names the head's outputs index, if it has a label set."""
        return None

    def feature_kwargs(self, eval_options: Mapping[str, Any]) -> dict[str, Any]:
        """Featurisation arguments training takes from the evaluation settings."""
        return {}

    def masking(self, tokenizer) -> tuple[int, int] | None:
        """(mask token id, vocabulary size) when training batches are masked at draw."""
        return None

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        """Array shapes of one training batch of `rows` examples padded to `length`
        (xlmr_flax.data.batching's layout; `choices`: `self.choices`); default: one
        sequence and one label per row."""
        return sequence_batch(rows, length, labels=(rows,))

    # --- planning -----------------------------------------------------------------------

    def planned_head_kwargs(self, task, raw_dir: str) -> tuple[dict[str, Any], str]:
        """(head arguments, what was assumed for them): `head_kwargs`, or, where those
        need data that is absent, an assumption the planner names."""
        return self.head_kwargs(task, raw_dir), ""

    def choices(self, task, raw_dir: str) -> int:
        """Sequences a batch row holds side by side (a multiple-choice row: one per
        answer choice); 1 for a row of one sequence."""
        return 1

    def sequences_per_example(self, task, raw_dir: str) -> int:
        """Sequences the encoder runs per example in training and evaluation, for the
        cost planner."""
        return self.choices(task, raw_dir)

    # --- evaluation ---------------------------------------------------------------------

    def forward_output(self, task, options: Any, model_head: str | None) -> tuple[str, tuple]:
        """(output kind, static settings) of the compiled forward pass `predict` runs on
        a model with head `model_head` (eval.predict.program.forward_function)."""
        return "logits", ()

    def eval_length(self, task, options: Any) -> int:
        return options.max_length or self.max_length

    def predict(self, predictor: Predictor, task, split: str, lang: str, raw_dir: str,
                options: Any) -> Any:  # fmt: skip
        """Predictions of one language, in the structure `metric_kind` scores."""
        raise ValueError(f"task {task.name}: no predictions for format {self.name!r}")

    def gold(self, task, lang: str, raw_dir: str, split: str) -> Any:
        """The gold structure predictions are scored against."""
        raise ValueError(f"task {task.name}: {self.name} has no gold labels to score")

    def metric_kind(self, task) -> str:
        """The name of the metric (eval.metrics) that scores this task."""
        raise ValueError(f"task {task.name}: no evaluation metric for format {self.name!r}")

    # --- submission files ---------------------------------------------------------------

    def file_extension(self, task) -> str:
        if self.extension is None:
            raise ValueError(f"task {task.name}: no submission format for {self.name!r} tasks")
        return self.extension

    def serialize(self, task, value: Any) -> str:
        raise ValueError(f"task {task.name}: no submission format for {self.name!r} tasks")

    def read_labels(self, path: str, task, lang: str | None) -> Any:
        raise ValueError(f"task {task.name}: no submission format for {self.name!r} tasks")

    def read_predictions(self, path: str, task, gold: Any) -> Any:
        raise ValueError(f"task {task.name}: no submission format for {self.name!r} tasks")


def sequence_batch(rows: int, length: int, **fields: tuple[int, ...]) -> dict[str, tuple]:
    """Shapes of a batch of one sequence per row, with a format's own `fields`."""
    seq = (rows, length)
    return {"input_ids": seq, "attention_mask": seq, "example_weight": (rows,), **fields}


FORMATS: Registry[Format] = Registry("format")


def register_format(fmt: Format) -> Format:
    """Adds `fmt` under its name; a name registered twice is an error."""
    if not fmt.name:
        raise ValueError(f"{type(fmt).__name__}: a format needs a name")
    return FORMATS.add(fmt.name, fmt)


unregister_format = FORMATS.remove
get_format = FORMATS.lookup
