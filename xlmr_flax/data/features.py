"""Featurisation with the XLM-R tokenizer, one function per task format.

Features are lists of dicts of NumPy arrays (ragged lengths: padding happens at
batching, so batches can be bucketed by length). Conventions shared by every
format: `input_ids` int32; labels that carry no loss are IGNORE (-100).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from xlmr_flax.errors import DataError
from xlmr_flax.tasks.base import Task

IGNORE = -100
Feature = dict[str, Any]


def _ids(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def label_index(task: Task, labels: Sequence[str], example: dict) -> int:
    if example["label"] is None:  # a split without gold: predicted, never trained on
        return IGNORE
    try:
        return labels.index(example["label"])
    except ValueError:
        raise DataError(
            f"{task.name} example {example['id']}: label {example['label']!r} not in {labels}"
        ) from None


def classification(
    task: Task, examples: Iterable[dict], tokenizer, max_length: int
) -> list[Feature]:
    features = []
    for e in examples:
        encoded = tokenizer(
            e["text_a"], e["text_b"] or None, truncation=True, max_length=max_length
        )
        features.append(
            dict(
                id=e["id"],
                input_ids=_ids(encoded["input_ids"]),
                label=label_index(task, task.labels, e),
            )
        )
    return features


def multiple_choice(
    task: Task, examples: Iterable[dict], tokenizer, max_length: int
) -> list[Feature]:
    """One `<s> context question </s></s> choice </s>` sequence per choice."""
    features = []
    for e in examples:
        first = " ".join(part for part in (e["context"], e["question"]) if part)
        encoded = tokenizer(
            [first] * len(e["choices"]),
            e["choices"],
            truncation="only_first",
            max_length=max_length,
        )
        features.append(
            dict(
                id=e["id"],
                choices=[_ids(x) for x in encoded["input_ids"]],
                label=IGNORE if e["label"] is None else e["label"],
            )
        )
    return features


def token_tagging(
    task: Task, examples: Iterable[dict], tokenizer, max_length: int, labels: Sequence[str]
) -> list[Feature]:
    """Label on each word's first sub-word; `word_ids` (-1 for specials and later
    sub-words) map token predictions back to words."""
    features = []
    for e in examples:
        encoded = tokenizer(
            e["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
        )
        word_ids, tags, previous = [], [], None
        for word in encoded.word_ids():
            first = word is not None and word != previous
            word_ids.append(word if first else -1)
            tag = e["tags"][word] if first and e["tags"] is not None else None
            tags.append(labels.index(tag) if tag in labels else IGNORE)
            previous = word
        features.append(
            dict(
                id=e["id"],
                input_ids=_ids(encoded["input_ids"]),
                labels=_ids(tags),
                word_ids=_ids(word_ids),
                num_words=len(e["tokens"]),
            )
        )
    return features


def span_extraction(
    task: Task,
    examples: Iterable[dict],
    tokenizer,
    max_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
) -> list[Feature]:
    """Windows over long contexts: `<s> question </s></s> context window </s>`.

    Windows start every `doc_stride` context tokens (XTREME's convention). A window
    that holds the whole first answer marks its token span; otherwise (or for an
    unanswerable question) start = end = 0, the `<s>` token. `offsets` give each
    context token's character span in the context, (-1, -1) for other tokens.
    """
    features = []
    for example_index, e in enumerate(examples):
        question = tokenizer(e["question"], add_special_tokens=False)["input_ids"][
            :max_query_length
        ]
        context = tokenizer(e["context"], add_special_tokens=False, return_offsets_mapping=True)
        ctx_ids, ctx_offsets = context["input_ids"], context["offset_mapping"]
        room = max_length - len(question) - 4  # <s> q </s></s> c </s>
        if room <= 0:
            raise DataError(f"{task.name} example {e['id']}: question leaves no room for context")
        answer = e["answers"][0] if e["answers"] and not e.get("is_impossible") else None
        if answer:
            a_start, a_end = answer["start"], answer["start"] + len(answer["text"])
            inside = [
                i for i, (s, t) in enumerate(ctx_offsets) if s < a_end and t > a_start and t > s
            ]
            if not inside:
                raise DataError(f"{task.name} example {e['id']}: answer covers no token")
        window_start = 0
        while True:
            window = range(window_start, min(window_start + room, len(ctx_ids)))
            prefix = [
                tokenizer.cls_token_id,
                *question,
                tokenizer.sep_token_id,
                tokenizer.sep_token_id,
            ]
            ids = prefix + [ctx_ids[i] for i in window] + [tokenizer.sep_token_id]
            offsets = [(-1, -1)] * len(prefix) + [ctx_offsets[i] for i in window] + [(-1, -1)]
            start = end = 0
            if answer and inside[0] >= window.start and inside[-1] < window.stop:
                start, end = (
                    len(prefix) + inside[0] - window.start,
                    len(prefix) + inside[-1] - window.start,
                )
            features.append(
                dict(
                    id=e["id"],
                    example_index=example_index,
                    input_ids=_ids(ids),
                    offsets=np.asarray(offsets, np.int32),
                    start_position=start,
                    end_position=end,
                )
            )
            if window.stop >= len(ctx_ids):
                break
            window_start += doc_stride
    return features


def sentences(
    examples_text: Iterable[tuple[str, str]], tokenizer, max_length: int
) -> list[Feature]:
    """(id, text) pairs → one encoded sentence each (retrieval queries and candidates)."""
    return [
        dict(
            id=i,
            input_ids=_ids(tokenizer(text, truncation=True, max_length=max_length)["input_ids"]),
        )
        for i, text in examples_text
    ]


def masked_lm_text(examples: Iterable[dict], tokenizer, max_length: int) -> list[Feature]:
    """Token ids of each line; masking is drawn at batching from (seed, step)."""
    return sentences(((e["id"], e["text"]) for e in examples), tokenizer, max_length)


def retrieval_pairs(
    pairs: Iterable[tuple[str, str, str]], tokenizer, max_length: int
) -> list[Feature]:
    """(id, query, positive candidate) → dual-encoder training pairs; the other
    candidates of a batch serve as negatives."""

    def encode(text):
        return _ids(tokenizer(text, truncation=True, max_length=max_length)["input_ids"])

    return [
        dict(id=i, input_ids=encode(query), candidate_input_ids=encode(candidate))
        for i, query, candidate in pairs
    ]


def mark_mention(context: str, start: int, end: int) -> str:
    """Mewsli-X queries: the mention in its context, set off by brackets."""
    return f"{context[:start]}[{context[start:end]}]{context[end:]}"


# After sentence-final punctuation: followed by space, or at once for CJK full stops.
_SENTENCE_END = re.compile(r"(?<=[.!?؟।])\s+|(?<=[。！？])")


def answer_sentence(context: str, answer_start: int) -> str:
    """The sentence of a SQuAD context holding the answer (LAReQA's training positives)."""
    start = 0
    for match in _SENTENCE_END.finditer(context):
        if match.start() > answer_start:
            return context[start : match.start()].strip()
        start = match.end()
    return context[start:].strip()
