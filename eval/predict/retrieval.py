"""Sentence retrieval by cosine similarity on a mesh.

The evaluator (`eval.predict.predictor.Predictor`) embeds with length buckets on the mesh and
ranks with `xlmr_flax.formats.decode.top_k` (NumPy) or, for large pools on an accelerator,
`top_k_on_mesh` (one jitted search, queries split over the data-parallel axes).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from xlmr_flax.data.batching import round_up
from xlmr_flax.formats.decode import normalize_rows
from xlmr_flax.sharding import (
    DEFAULT_RULES,
    batch_sharding,
    is_cpu,
    replicated,
    to_host,
    to_mesh,
)

# --- arrays on the mesh ------------------------------------------------------------------


def data_parallel_size(mesh: Mesh, rules: Mapping[str, Any] = DEFAULT_RULES) -> int:
    """How many shards a batch is split into (the product of its mesh axes)."""
    axes = rules["batch"]
    axes = (axes,) if isinstance(axes, str) else tuple(axes or ())
    return int(np.prod([mesh.shape[a] for a in axes]))


# --- top-k on the mesh -------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _search_fn(mesh: Mesh, num_candidates: int, k: int, rules_key: tuple):
    rules = dict(rules_key)
    rows = batch_sharding(mesh, 2, rules)

    def search(queries, blocks):
        """queries [q, d]; blocks [count, size, d] → scores, indices [q, k] (best first)."""
        size = blocks.shape[1]

        def step(carry, xs):
            best_s, best_i = carry
            block, first = xs
            s = jnp.einsum("qd,cd->qc", queries, block, precision=jax.lax.Precision.HIGHEST)
            ids = first + jnp.arange(size, dtype=jnp.int32)
            s = jnp.where(ids[None] < num_candidates, s, -jnp.inf)
            # The best so far hold lower indices and come first: lax.top_k keeps the
            # lower position first on ties, so ties resolve to the lower candidate index.
            merged_s = jnp.concatenate([best_s, s], axis=1)
            merged_i = jnp.concatenate([best_i, jnp.broadcast_to(ids, s.shape)], axis=1)
            top_s, position = jax.lax.top_k(merged_s, k)
            return (top_s, jnp.take_along_axis(merged_i, position, axis=1)), None

        init = (
            jnp.full((queries.shape[0], k), -jnp.inf, jnp.float32),
            jnp.zeros((queries.shape[0], k), jnp.int32),
        )
        firsts = jnp.arange(blocks.shape[0], dtype=jnp.int32) * size
        (scores, indices), _ = jax.lax.scan(step, init, (blocks, firsts))
        return scores, indices

    return jax.jit(search, in_shardings=(rows, replicated(mesh)), out_shardings=(rows, rows)), rows


def top_k_on_mesh(
    queries: np.ndarray,
    candidates: np.ndarray,
    k: int,
    mesh: Mesh,
    *,
    query_block: int = 1024,
    candidate_block: int = 8192,
    rules: Mapping[str, Any] = DEFAULT_RULES,
) -> tuple[np.ndarray, np.ndarray]:
    """`xlmr_flax.formats.decode.top_k` as one jitted search: (indices, scores), best first.

    Candidates are replicated on every device (a 1M x 768 float32 pool is 3 GB)
    and scanned in blocks of `candidate_block`; queries go `query_block` rows at a
    time (rounded to the data-parallel size), split over the data-parallel axes.
    Scores use full float32 matmul precision; equal scores keep the lower index.
    Every process passes the same arrays and gets the whole result.
    """
    q, c = normalize_rows(queries), normalize_rows(candidates)
    k = min(k, len(c))
    if k < 1 or not len(q):
        return np.zeros((len(q), max(k, 0)), np.int64), np.zeros((len(q), max(k, 0)), np.float32)
    dp = data_parallel_size(mesh, rules)
    size = min(candidate_block, round_up(len(c), 8))
    count = -(-len(c) // size)
    blocks = np.zeros((count * size, c.shape[1]), np.float32)
    blocks[: len(c)] = c
    search, rows = _search_fn(mesh, len(c), k, tuple(sorted(rules.items())))
    blocks = to_mesh(blocks.reshape(count, size, -1), replicated(mesh))
    step = round_up(min(query_block, round_up(len(q), dp)), dp)
    indices, scores = [], []
    for start in range(0, len(q), step):
        chunk = np.zeros((step, q.shape[1]), np.float32)
        part = q[start : start + step]
        chunk[: len(part)] = part
        s, i = search(to_mesh(chunk, rows), blocks)
        if is_cpu():  # emulated devices deadlock when sharded calls queue up
            jax.block_until_ready(s)
        s, i = to_host((s, i))
        scores.append(s[: len(part)])
        indices.append(i[: len(part)].astype(np.int64))
    return np.concatenate(indices), np.concatenate(scores)
