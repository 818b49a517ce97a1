"""Tagging: seqeval's entity precision, recall and F1 (UD-POS, PAN-X), as XTREME's
evaluate.py calls it, and token accuracy (CCG)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import end_of_chunk, get_entities, start_of_chunk

from eval.metrics.kinds import MetricKind, check_lengths, positions, register_metric_kind


def seqeval_scores(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict:
    """`f1`, `precision`, `recall` of `seqeval` called as XTREME's `evaluate.py` calls it
    (micro average over entity types, default conlleval-compatible mode). Tags without
    a B-/I- prefix (UD-POS) are read as seqeval reads them: the first character is the
    chunk tag, the rest the type, so runs of one POS tag form one chunk."""
    y_true, y_pred = _tag_lists(predictions, gold)
    with warnings.catch_warnings():
        # seqeval warns for every tag that is not an IOB tag (all of UD-POS) and for
        # undefined precision or recall (which it scores 0, as the official script does).
        warnings.simplefilter("ignore")
        return {
            "f1": 100 * float(f1_score(y_true, y_pred)),
            "precision": 100 * float(precision_score(y_true, y_pred)),
            "recall": 100 * float(recall_score(y_true, y_pred)),
        }


def entity_counts(
    predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per sentence `(correct, predicted, gold)` entity counts whose column sums are the
    counts `seqeval` computes over the whole corpus.

    seqeval reads the corpus as one sequence with an `O` after each sentence; chunks
    are extracted from that sequence exactly as seqeval does and each is credited to
    the sentence it ends in. (With prefix-less tags a chunk can start before a sentence
    boundary, e.g. a sentence opening with UD-POS `X` after one ending in `X`; it
    then belongs to the sentence it ends in, so the sums still match.)"""
    y_true, y_pred = _tag_lists(predictions, gold)
    # Index of the sentence each position of the flattened sequence belongs to.
    owner = np.repeat(np.arange(len(y_true)), [len(s) + 1 for s in y_true])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-IOB tags (UD-POS)
        true = set(get_entities(y_true))
        pred = set(get_entities(y_pred))
    counts = np.zeros((len(y_true), 3), dtype=np.int64)
    for column, entities in enumerate((true & pred, pred, true)):
        for _, _, end in entities:
            counts[owner[end], column] += 1
    return counts


def chunk_joins(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence, whether it is joined to the sentence before it: whether the entity
    counts of this sentence or of a later one (`entity_counts`) depend on that
    sentence's tags, gold or predicted. Sentences joined this way are resampled as one
    unit (`eval.stats.resampling`), which keeps every resample's counts exactly seqeval's.

    In the sequence seqeval reads, the `O` after a sentence ends every chunk except one
    of a tag without a type (UD-POS `X`, whose type `_` is the separator's own), and
    the word after it starts a chunk unless it is such a tag. A sentence that ends a
    chunk (at one of its words or at its own `O`) before starting one closes a chunk
    begun before it: its counts depend on the sentence holding that chunk's start,
    and on any sentences between, which start and end no chunk (all `X`) and pass it
    on. Every other sentence's counts depend on its own tags only: a chunk is credited
    to the sentence it ends in, so nothing after a sentence changes its counts. The
    first sentence of the corpus has nothing before it and is never joined."""
    y_true, y_pred = _tag_lists(predictions, gold)
    joined = _joined_to_previous(y_true) | _joined_to_previous(y_pred)
    if len(joined):
        joined[0] = False
    return joined


CLEAN, CONTINUES, PASSES_ON = "clean", "continues", "passes on"


def _joined_to_previous(sentences: Sequence[Sequence[str]]) -> np.ndarray:
    joined = np.zeros(len(sentences), dtype=bool)
    carried = False  # a later sentence continues a chunk that passes through this one
    for k in range(len(sentences) - 1, -1, -1):
        kind = _sentence_start(sentences[k])
        if kind == CONTINUES:
            joined[k] = carried = True
        elif kind == PASSES_ON:
            joined[k] = carried
        else:
            carried = False
    return joined


def _sentence_start(sentence: Sequence[str]) -> str:
    """How a sentence read after another one and its `O` begins: it starts a chunk
    before it ends one (CLEAN), ends a chunk begun before it first (CONTINUES), or
    neither starts nor ends one (PASSES_ON the chunk start before it)."""
    prev_tag, prev_type = "O", "_"  # the separator
    for label in [*sentence, "O"]:
        tag = label[0]  # as seqeval's get_entities splits a label (no suffix mode)
        type_ = label[1:].split("-", maxsplit=1)[-1] or "_"
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            return CONTINUES
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            return CLEAN
        prev_tag, prev_type = tag, type_
    return PASSES_ON


def _tag_lists(predictions, gold) -> tuple[list[list[str]], list[list[str]]]:
    check_lengths(predictions, gold, what="sentences")
    for i, (p, g) in enumerate(zip(predictions, gold, strict=True)):
        if len(p) != len(g):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags for {len(g)} gold words")
    # seqeval needs lists (a tuple is not recognised as a sentence).
    return [list(map(str, g)) for g in gold], [list(map(str, p)) for p in predictions]


def _token_counts(predictions, gold) -> np.ndarray:
    y_true, y_pred = _tag_lists(predictions, gold)
    counts = [(sum(p == g for p, g in zip(ps, gs, strict=True)), len(gs))
              for ps, gs in zip(y_pred, y_true, strict=True)]  # fmt: skip
    return np.array(counts, dtype=np.int64).reshape(-1, 2)


class Seqeval(MetricKind):
    """Statistics: one `(n, 4)` array per sentence shared by the three metrics,
    `(correct, predicted, gold)` entity counts (`entity_counts`) and 1 where the
    sentence is joined to the one before it (`chunk_joins`; a resample of sentences
    is seqeval's only where joined sentences are drawn together)."""

    name = "seqeval"
    metrics = ("f1", "precision", "recall")
    headline = ("f1",)

    def score(self, predictions, gold, lang, allow_missing):
        return seqeval_scores(predictions, gold)

    def stats(self, predictions, gold, lang, allow_missing):
        joined = chunk_joins(predictions, gold)
        counts = np.column_stack([entity_counts(predictions, gold), joined.astype(np.int64)])
        return positions(gold), {"f1": counts, "precision": counts, "recall": counts}


class TokenAccuracy(MetricKind):
    """Statistics: `(correct, total)` tokens per sentence."""

    name = "token_accuracy"
    metrics = headline = ("accuracy",)

    def score(self, predictions, gold, lang, allow_missing):
        counts = _token_counts(predictions, gold)
        return {"accuracy": 100.0 * int(counts[:, 0].sum()) / int(counts[:, 1].sum())}

    def stats(self, predictions, gold, lang, allow_missing):
        return positions(gold), {"accuracy": _token_counts(predictions, gold)}


register_metric_kind(Seqeval())
register_metric_kind(TokenAccuracy())
