"""Training losses, one per head format, registered by head name.

A loss returns `(sum, weight)`: the summed loss of the batch and the number of
items it counts (examples or tokens). The train step divides the totals, so
gradient accumulation over micro-batches equals one large batch exactly, and
examples with weight 0 (padding in a last partial batch) count for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from xlmr_flax.layers import sub_rng

Batch = Mapping[str, jax.Array]
LossFn = Callable[..., tuple[jax.Array, jax.Array]]
IGNORE = -100  # label of positions without a loss (transformers' convention)
LOSSES: dict[str, LossFn] = {}


def register_loss(head: str) -> Callable[[LossFn], LossFn]:
    def add(fn: LossFn) -> LossFn:
        LOSSES[head] = fn
        return fn

    return add


def get_loss(head: str) -> LossFn:
    if head not in LOSSES:
        raise ValueError(f"no loss for head {head!r}; known: {sorted(LOSSES)}")
    return LOSSES[head]


def cross_entropy(logits: jax.Array, labels: jax.Array, weights: jax.Array) -> jax.Array:
    """Summed negative log-likelihood of `labels`, each term times its weight."""
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    safe = jnp.where(labels == IGNORE, 0, labels)
    nll = -jnp.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    return (nll * weights).sum()


def example_weights(batch: Batch) -> jax.Array:
    return batch.get("example_weight", jnp.ones(batch["input_ids"].shape[0])).astype(jnp.float32)


def _inputs(batch: Batch, prefix: str = "") -> dict[str, jax.Array]:
    names = ("input_ids", "attention_mask", "token_type_ids")
    return {n: batch[prefix + n] for n in names if prefix + n in batch}


@register_loss("classification")
@register_loss("multiple_choice")
def example_cross_entropy(model, batch: Batch, rng):
    """One label per example (classes, or choices for multiple choice)."""
    weights = example_weights(batch)
    logits = model(_inputs(batch), dropout_rng=rng)["logits"]
    return cross_entropy(logits, batch["labels"], weights), weights.sum()


@register_loss("token_tagging")
@register_loss("masked_lm")
def token_cross_entropy(model, batch: Batch, rng):
    """One label per token; positions labelled IGNORE (sub-words, unmasked) count for nothing."""
    weights = (batch["labels"] != IGNORE) * example_weights(batch)[:, None]
    logits = model(_inputs(batch), dropout_rng=rng)["logits"]
    return cross_entropy(logits, batch["labels"], weights), weights.sum()


@register_loss("span_extraction")
def span_cross_entropy(model, batch: Batch, rng):
    """Mean of the start and end position losses (transformers' QA loss)."""
    weights = example_weights(batch)
    out = model(_inputs(batch), dropout_rng=rng)
    start = cross_entropy(out["start_logits"], batch["start_positions"], weights)
    end = cross_entropy(out["end_logits"], batch["end_positions"], weights)
    return (start + end) / 2, weights.sum()


CONTRASTIVE_TEMPERATURE = 0.05


@register_loss("sentence_embedding")
def in_batch_contrastive(model, batch: Batch, rng):
    """Dual encoder: each query's positive is its own candidate, the other candidates in
    the (global) batch are its negatives; softmax over cosine similarities / temperature.

    Unlike the other losses this one depends on the batch composition, so gradient
    accumulation changes it (fewer negatives per micro-batch).
    """
    weights = example_weights(batch)
    queries = model(_inputs(batch), dropout_rng=sub_rng(rng, 0))["embedding"]
    candidates = model(_inputs(batch, "candidate_"), dropout_rng=sub_rng(rng, 1))["embedding"]
    q = queries / jnp.linalg.norm(queries, axis=-1, keepdims=True).clip(1e-6)
    c = candidates / jnp.linalg.norm(candidates, axis=-1, keepdims=True).clip(1e-6)
    # Padding examples must not serve as negatives either.
    logits = jnp.where(weights[None, :] > 0, q @ c.T / CONTRASTIVE_TEMPERATURE, -1e9)
    return cross_entropy(logits, jnp.arange(q.shape[0]), weights), weights.sum()
