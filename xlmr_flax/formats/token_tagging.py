"""Token tagging (UD-POS, PAN-X, CCG): one tag per word.

Labels sit on each word's first sub-word; `decode.word_tags` maps sub-word
predictions back to words. Predictions and gold: `list[list[str]]`, the tags of each
sentence; submission files: `.tsv`, one tag per line, a blank line after each
sentence. Scored by seqeval (`metric="f1"`) or token accuracy (CCG).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xlmr_flax.data import features as F
from xlmr_flax.errors import DataError
from xlmr_flax.formats import files
from xlmr_flax.formats.base import Format, register_format, sequence_batch
from xlmr_flax.formats.decode import word_tags


def tag_vocabulary(task, raw_dir: str) -> tuple[str, ...]:
    """A tagging task's labels: its fixed set, or every tag of its training split (CCG)."""
    if task.labels:
        return task.labels
    return tuple(sorted({t for e in task.read(raw_dir, "train", "en") for t in e["tags"]}))


class TokenTagging(Format):
    name = "token_tagging"
    head = "token_tagging"
    gold_field = "tags"
    extension = "tsv"
    # Tags assumed for planning where a task without a fixed tag set (CCG's supertags,
    # read from its training data) has no data here.
    assumed_tags = 1024

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        labels = tag_vocabulary(task, raw_dir)
        return F.token_tagging(task, examples, tokenizer, max_length, labels)

    def head_kwargs(self, task, raw_dir: str) -> dict[str, Any]:
        return {"num_labels": len(tag_vocabulary(task, raw_dir))}

    def labels(self, task, raw_dir: str) -> tuple[str, ...]:
        return tag_vocabulary(task, raw_dir)  # the label indices training used

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        seq = (rows, length)  # a tag and the word it belongs to per sub-word
        return sequence_batch(rows, length, labels=seq, word_ids=seq)

    def planned_head_kwargs(self, task, raw_dir: str) -> tuple[dict[str, Any], str]:
        try:
            return self.head_kwargs(task, raw_dir), ""
        except (OSError, ValueError):
            assumed = self.assumed_tags
            return {"num_labels": assumed}, f"{task.name}: {assumed} tags assumed"

    def forward_output(self, task, options, model_head) -> tuple[str, tuple]:
        return "tags", ()  # argmax on the devices

    def predict(self, predictor, task, split, lang, raw_dir, options) -> list[list[str]]:
        examples = list(task.read(raw_dir, split, lang))
        features = predictor.features(task, split, lang, raw_dir, options, examples)
        labels = tag_vocabulary(task, raw_dir)
        batches = predictor.sequence_batches(features, options, self.eval_length(task, options))
        tags = predictor.outputs("tags", batches, len(features))["tags"]
        return [
            word_tags(t, f["word_ids"], f["num_words"], labels)
            for t, f in zip(tags, features, strict=True)
        ]

    def gold(self, task, lang: str, raw_dir: str, split: str) -> list[list[str]]:
        return [list(e["tags"]) for e in task.read(raw_dir, split, lang)]

    def metric_kind(self, task) -> str:
        return "seqeval" if task.metric == "f1" else "token_accuracy"

    def serialize(self, task, value) -> str:
        return "".join("".join(f"{tag}\n" for tag in sentence) + "\n" for sentence in value)

    def read_labels(self, path: str, task, lang: str | None) -> list[list[str]]:
        return [tags for _, tags in _sentences(path)]

    def read_predictions(self, path: str, task, gold) -> list[list[str]]:
        return _read_tags(path, task.labels, gold)


def _read_tags(path: str, labels: Sequence[str], gold: Sequence[Sequence[str]]) -> list[list[str]]:
    sentences = list(_sentences(path))
    if len(sentences) != len(gold):
        raise DataError(
            f"{path}: expected {len(gold)} sentences (each followed by a blank line), "
            f"found {len(sentences)}"
        )
    for number, ((line, tags), words) in enumerate(zip(sentences, gold, strict=True), 1):
        if len(tags) != len(words):
            raise DataError(
                f"{path}:{line}: sentence {number} has {len(tags)} tags; "
                f"the labels have {len(words)} words"
            )
        unknown = [t for t in tags if labels and t not in labels]
        if unknown:
            raise DataError(f"{path}:{line}: sentence {number}: unknown tag {unknown[0]!r}")
    return [tags for _, tags in sentences]


def _sentences(path: str):
    """(first line, tags) of each blank-line-separated sentence of a tag file."""
    tags: list[str] = []
    start = 1
    lines = files.text_lines(path)
    if not lines:
        raise DataError(f"{path}: no sentences (empty file)")
    for number, text in enumerate([*lines, ""], 1):
        if text:
            if not tags:
                start = number
            if "\t" in text or " " in text:
                raise DataError(f"{path}:{number}: expected one tag per line, found {text!r}")
            tags.append(text)
        elif tags:
            yield start, tags
            tags = []
        else:
            raise DataError(f"{path}:{number}: empty sentence (two blank lines in a row)")


FORMAT = register_format(TokenTagging())
