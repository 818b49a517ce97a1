"""Rules that pair each transformers weight name with a path in our parameter tree.

One `Rule` per tensor (t5x's importer pattern): the converter applies them in
both directions and reports every unmatched or mis-shaped weight by name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from xlmr_flax.config import XLMRConfig

Path = tuple[str | int, ...]


class Rule(NamedTuple):
    hf_key: str  # without the `roberta.` prefix of task models
    path: Path  # keys into our parameter tree
    hf_shape: tuple[int, ...]
    # torch.nn.Linear stores [out, in]; our kernels are [in..., out...].
    transpose: bool


def dense(hf_prefix: str, path: Path, in_shape: Sequence[int], out_shape: Sequence[int]):
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    return [
        Rule(f"{hf_prefix}.weight", (*path, "kernel"), (n_out, n_in), True),
        Rule(f"{hf_prefix}.bias", (*path, "bias"), (n_out,), False),
    ]


def layer_norm(hf_prefix: str, path: Path, size: int):
    return [
        Rule(f"{hf_prefix}.weight", (*path, "scale"), (size,), False),
        Rule(f"{hf_prefix}.bias", (*path, "bias"), (size,), False),
    ]


def encoder_rules(c: XLMRConfig) -> list[Rule]:
    e, n, h, f = c.hidden_size, c.num_heads, c.head_dim, c.intermediate_size
    emb = ("encoder", "embeddings")
    rules = [
        Rule("embeddings.word_embeddings.weight", (*emb, "word_embeddings", "embedding"),
             (c.vocab_size, e), False),
        Rule("embeddings.position_embeddings.weight", (*emb, "position_embeddings", "embedding"),
             (c.max_position_embeddings, e), False),
        Rule("embeddings.token_type_embeddings.weight",
             (*emb, "token_type_embeddings", "embedding"), (c.type_vocab_size, e), False),
        *layer_norm("embeddings.LayerNorm", (*emb, "layer_norm"), e),
    ]  # fmt: skip
    for i in range(c.num_layers):
        hf, ours = f"encoder.layer.{i}", ("encoder", "layers", i)
        for name in ("query", "key", "value"):
            rules += dense(f"{hf}.attention.self.{name}", (*ours, "attention", name), (e,), (n, h))
        rules += dense(f"{hf}.attention.output.dense", (*ours, "attention", "out"), (n, h), (e,))
        rules += layer_norm(f"{hf}.attention.output.LayerNorm", (*ours, "attention_norm"), e)
        rules += dense(f"{hf}.intermediate.dense", (*ours, "intermediate"), (e,), (f,))
        rules += dense(f"{hf}.output.dense", (*ours, "output"), (f,), (e,))
        rules += layer_norm(f"{hf}.output.LayerNorm", (*ours, "output_norm"), e)
    return rules
