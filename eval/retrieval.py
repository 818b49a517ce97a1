"""Sentence retrieval by cosine nearest neighbour (Tatoeba-style alignment)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xlmr_flax.pretrained import PretrainedModel


def embed_sentences(
    model: PretrainedModel,
    sentences: Sequence[str],
    *,
    layer: int = -1,
    pooling: str = "mean",
    max_length: int = 128,
    batch_size: int = 32,
) -> np.ndarray:
    """One float32 vector per sentence from `layer` of the encoder."""
    if model.tokenizer is None:
        raise ValueError("the model has no tokenizer; pass one to load_pretrained")
    vectors = []
    for start in range(0, len(sentences), batch_size):
        batch = model.tokenizer(
            list(sentences[start : start + batch_size]),
            max_length=max_length,
            truncation=True,
            padding=True,
            pad_to_multiple_of=16,  # few distinct shapes, so few compilations
            return_tensors="np",
        )
        embedding = model.embed(
            batch["input_ids"], batch["attention_mask"], layer=layer, pooling=pooling
        )
        vectors.append(np.asarray(embedding))
    return np.concatenate(vectors)


def nearest_neighbours(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the most cosine-similar candidate for each query."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    c = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    return np.argmax(q @ c.T, axis=1)


def retrieval_accuracy(queries: np.ndarray, candidates: np.ndarray) -> float:
    """Percentage of queries whose nearest candidate is the one at the same index."""
    if len(queries) != len(candidates):
        raise ValueError(f"{len(queries)} queries but {len(candidates)} candidates; need pairs")
    hits = nearest_neighbours(queries, candidates) == np.arange(len(queries))
    return 100.0 * float(hits.mean())
