"""From model outputs to predictions, in NumPy: QA spans, word tags, cosine top-k.

Nothing here runs the model, so every rule is unit-tested on hand-made arrays.

- `qa_nbest` / `best_answer`: the n-best answer spans of one question over all the
  windows of its context, mapped back to the context text through character offsets.
- `word_tags`: one tag per word from per-sub-word predictions (each word's first sub-word).
- `top_k`: the k most cosine-similar candidates of each query, in blocks of queries and
  candidates so memory stays bounded however large the pool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

MAX_ANSWER_LENGTH = 30  # sub-words, as in XTREME's and SQuAD's reference decoders
N_BEST = 20


@dataclasses.dataclass(frozen=True)
class Answer:
    """One candidate span: its text, score (start + end logit), window, token and
    character positions (`context[char_start:char_end] == text` before stripping)."""

    text: str
    score: float
    window: int
    start: int
    end: int
    char_start: int
    char_end: int


def _top_indices(logits: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest values, largest first; ties keep the lower index first."""
    return np.argsort(-logits, kind="stable")[:n]


def qa_nbest(
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    context: str,
    *,
    n_best: int = N_BEST,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> list[Answer]:
    """The best spans of one question over all windows of its context, best first.

    Window w has per-token `start_logits[w]`, `end_logits[w]` and `offsets[w]`
    (`[tokens, 2]` character spans in `context`, negative for tokens outside the
    context: `<s>`, the question, separators, padding). In each window the
    `n_best` highest start and end tokens are paired; a pair counts when both
    tokens are in the context part, start <= end and the span has at most
    `max_answer_length` tokens. Its score is start logit + end logit, compared
    across every window; ties go to the earlier window, then the earlier start,
    then the earlier end. Returns up to `n_best` answers (none if no pair counts).
    """
    if not len(start_logits) == len(end_logits) == len(offsets):
        raise ValueError("one start, end and offsets array per window expected")
    found: list[tuple[float, int, int, int, int, int]] = []
    for w, (starts, ends, spans) in enumerate(zip(start_logits, end_logits, offsets, strict=True)):
        starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
        spans = np.asarray(spans).reshape(-1, 2)
        n = min(len(starts), len(ends), len(spans))  # logits may carry padding positions
        starts, ends, spans = starts[:n], ends[:n], spans[:n]
        in_context = (spans[:, 0] >= 0) & (spans[:, 1] > spans[:, 0])
        for s in _top_indices(starts, n_best):
            if not in_context[s]:
                continue
            for e in _top_indices(ends, n_best):
                if not in_context[e] or e < s or e - s + 1 > max_answer_length:
                    continue
                char_start, char_end = int(spans[s, 0]), int(spans[e, 1])
                found.append((starts[s] + ends[e], w, int(s), int(e), char_start, char_end))
    found.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
    return [
        Answer(context[a:b].strip(), float(score), w, s, e, a, b)
        for score, w, s, e, a, b in found[:n_best]
    ]


def null_score(start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray]) -> float:
    """The "no answer" score of a question: start + end logit of `<s>` (token 0), the
    lowest over its windows (SQuAD v2.0 reference decoders)."""
    return min(float(s[0]) + float(e[0]) for s, e in zip(start_logits, end_logits, strict=True))


def best_answer(
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    context: str,
    *,
    n_best: int = N_BEST,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    no_answer: bool = False,
) -> str:
    """The text of the best span (see `qa_nbest`), or "" when no span is allowed.

    With `no_answer` (tasks with unanswerable questions, SQuAD v2.0), "" also when
    the `null_score` beats the best span's score.
    """
    answers = qa_nbest(
        start_logits,
        end_logits,
        offsets,
        context,
        n_best=n_best,
        max_answer_length=max_answer_length,
    )
    if not answers:
        return ""
    if no_answer and null_score(start_logits, end_logits) > answers[0].score:
        return ""
    return answers[0].text


def fallback_tag(labels: Sequence[str]) -> str:
    """The tag given to words without a prediction (cut off by truncation): "O" where the
    tag set has it (NER: no entity), else "X" (UPOS: other), else the first label."""
    for tag in ("O", "X"):
        if tag in labels:
            return tag
    return labels[0]


def word_tags(
    token_predictions: np.ndarray,
    word_ids: np.ndarray,
    num_words: int,
    labels: Sequence[str],
    fallback: str | None = None,
) -> list[str]:
    """One tag per word: the prediction at the word's first sub-word.

    `word_ids[t]` is the word whose first sub-word token t is, or negative (specials,
    later sub-words, padding). Words with no such token (truncated away) get
    `fallback` (default `fallback_tag(labels)`).
    """
    fallback = fallback_tag(labels) if fallback is None else fallback
    tags = [fallback] * num_words
    n = min(len(token_predictions), len(word_ids))
    for prediction, word in zip(token_predictions[:n], word_ids[:n], strict=True):
        if 0 <= word < num_words:
            tags[int(word)] = labels[int(prediction)]
    return tags


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _block_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k best scores, ordered by (score desc, index asc):
    exact tie-breaking without sorting the whole row."""
    rows, cols = scores.shape
    if k >= cols:
        return np.argsort(-scores, axis=1, kind="stable")
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]  # each row's k-th best value
    above = scores > kth
    tied = scores == kth
    need = k - above.sum(axis=1, keepdims=True)  # how many tied values still fit
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))  # lowest-index ties first
    columns = np.nonzero(chosen)[1].reshape(rows, k)  # ascending within each row
    picked = np.take_along_axis(scores, columns, axis=1)
    return np.take_along_axis(columns, np.argsort(-picked, axis=1, kind="stable"), axis=1)


def top_k(
    queries: np.ndarray,
    candidates: np.ndarray,
    k: int,
    *,
    query_block: int = 1024,
    candidate_block: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) `[queries, min(k, candidates)]` of the most cosine-similar
    candidates, best first; equal scores keep the lower candidate index first.

    Works on `query_block x candidate_block` score blocks and keeps a running top-k
    per query, so memory is O(query_block x (candidate_block + k)) whatever the
    pool size.
    """
    if k < 1:
        raise ValueError(f"k={k}: at least 1 expected")
    q, c = normalize_rows(queries), normalize_rows(candidates)
    if q.ndim != 2 or c.ndim != 2 or q.shape[1] != c.shape[1]:
        raise ValueError(f"queries {q.shape} and candidates {c.shape}: [n, dim] of one dim")
    k = min(k, len(c))
    indices = np.zeros((len(q), k), np.int64)
    scores = np.zeros((len(q), k), np.float32)
    for q0 in range(0, len(q), query_block):
        block = q[q0 : q0 + query_block]
        best_i = np.zeros((len(block), 0), np.int64)
        best_s = np.zeros((len(block), 0), np.float32)
        for c0 in range(0, len(c), candidate_block):
            s = block @ c[c0 : c0 + candidate_block].T
            # The best so far hold lower indices than this block: listing them first
            # keeps (score desc, index asc) order through the stable selection.
            merged_s = np.concatenate([best_s, s], axis=1)
            merged_i = np.concatenate(
                [best_i, np.broadcast_to(np.arange(c0, c0 + s.shape[1]), s.shape)], axis=1
            )
            keep = _block_top_k(merged_s, k)
            best_i = np.take_along_axis(merged_i, keep, axis=1)
            best_s = np.take_along_axis(merged_s, keep, axis=1)
        indices[q0 : q0 + len(block)] = best_i
        scores[q0 : q0 + len(block)] = best_s
    return indices, scores
