"""Featurisation with the XLM-R tokenizer, one function per task format.

Features are lists of dicts of NumPy arrays (ragged lengths: padding happens at
batching, so batches can be bucketed by length). Conventions shared by every
format: `input_ids` int32; labels that carry no loss are IGNORE (-100).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from xlmr_flax.errors import DataError

if TYPE_CHECKING:  # the task formats import this module while the tasks register
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
    pairs: Iterable[tuple[str, str, str | tuple[str, str]]], tokenizer, max_length: int
) -> list[Feature]:
    """(id, query, positive candidate) → dual-encoder training pairs; the other
    candidates of a batch serve as negatives. A candidate given as a (text, text) pair
    is encoded as a sequence pair (LAReQA: answer sentence, its paragraph)."""

    def encode(text):
        first, second = (text, None) if isinstance(text, str) else text
        encoded = tokenizer(first, second, truncation=True, max_length=max_length)
        return _ids(encoded["input_ids"])

    return [
        dict(id=i, input_ids=encode(query), candidate_input_ids=encode(candidate))
        for i, query, candidate in pairs
    ]


# --- retrieval inputs --------------------------------------------------------------
#
# "xtreme_r" follows XTREME-R's reference code (third_party/utils_mewslix.py,
# evaluate_retrieval.py, processors/lareqa.py of google-research/xtreme); "project" is
# this project's earlier variant, kept for comparison.
RETRIEVAL_PROTOCOLS = ("xtreme_r", "project")
# The reference's mention markers, and its escaping of marker pairs already in the text.
MARKER_LEFT, MARKER_RIGHT = "{", "}"
_MARKED = re.compile(r"\{(.*?)\}")


def check_protocol(protocol: str) -> str:
    if protocol not in RETRIEVAL_PROTOCOLS:
        raise ValueError(f"retrieval protocol {protocol!r}; known: {RETRIEVAL_PROTOCOLS}")
    return protocol


def _normalize(text: str) -> str:
    """The reference's light normalisation: newlines to spaces, double spaces halved."""
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def mention_query(mention: dict, protocol: str = "xtreme_r") -> str:
    """A Mewsli-X mention as the query text. "xtreme_r": the sentence holding the
    mention, the mention set off by `{ }` (earlier `{x}` in the sentence become `(x)`),
    the mention text prepended (`Ada: Sie traf { Ada } in Rom.`); "project": the whole
    context with the mention in brackets."""
    text, start, end = mention["context"], mention["mention_start"], mention["mention_end"]
    if check_protocol(protocol) == "project":
        return mark_mention(text, start, end)
    spans = mention.get("sentence_spans") or sentence_spans(text)
    focus = next(((s, e) for s, e in spans if s <= start < e and s < end <= e), (0, len(text)))
    left = _MARKED.sub(r"(\1)", text[focus[0] : start])
    right = _MARKED.sub(r"(\1)", text[end : focus[1]])
    surface = text[start:end]
    return _normalize(f"{surface}: {left} {MARKER_LEFT} {surface} {MARKER_RIGHT} {right}")


def entity_text(entity: dict, protocol: str = "xtreme_r") -> str:
    """A Mewsli-X entity as the candidate text: "xtreme_r" joins its description's
    annotated sentences (the whole description where it has none) and normalises
    spaces; "project": the description as it is."""
    description = entity["description"]
    if check_protocol(protocol) == "project":
        return description
    spans = entity.get("sentence_spans")
    sentences = [description[s:e] for s, e in spans] if spans else [description]
    return _normalize(" ".join(sentences))


def lareqa_candidate(sentence: str, context: str, protocol: str = "xtreme_r") -> str:
    """A LAReQA candidate as embedded at evaluation: "xtreme_r" the sentence followed
    directly by its paragraph (`sentence + context`, newlines removed, as
    evaluate_retrieval.py); "project": the sentence alone."""
    if check_protocol(protocol) == "project":
        return sentence
    return (sentence + context).replace("\n", "")


def mark_mention(context: str, start: int, end: int) -> str:
    """The "project" Mewsli-X query: the mention in its context, set off by brackets."""
    return f"{context[:start]}[{context[start:end]}]{context[end:]}"


# After sentence-final punctuation: followed by space, or at once for CJK full stops.
_SENTENCE_END = re.compile(r"(?<=[.!?؟।])\s+|(?<=[。！？])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of a text's sentences, split after final punctuation (for
    texts that come without sentence annotations)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def answer_sentence(context: str, answer_start: int) -> str:
    """The sentence of a SQuAD context holding the answer (LAReQA's training positives)."""
    for start, end in sentence_spans(context):
        if start <= answer_start < end:
            return context[start:end].strip()
    return context.strip()
