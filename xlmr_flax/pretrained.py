"""`load_pretrained`: one entry point for transformers checkpoints and our own directories."""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from xlmr_flax import checkpoint, convert, hf_io
from xlmr_flax.atomic import new_directory
from xlmr_flax.config import XLMRConfig
from xlmr_flax.heads import SentenceEmbeddingHead, TaskModel
from xlmr_flax.tokenizer import SPM_FILE, load_tokenizer

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", SPM_FILE)


@functools.partial(jax.jit, static_argnums=0)
def _encode(graphdef, state, input_ids, attention_mask):
    model = nnx.merge(graphdef, state)
    return model.encoder(input_ids, attention_mask).last_hidden_state.astype(jnp.float32)


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _embed(graphdef, state, input_ids, attention_mask, layer, pooling):
    encoder = nnx.merge(graphdef, state).encoder
    head = SentenceEmbeddingHead(encoder.config, pooling=pooling, layer=layer)
    return head(encoder, {"input_ids": input_ids, "attention_mask": attention_mask}, None)


@functools.partial(jax.jit, static_argnums=0)
def _apply(graphdef, state, batch):
    return nnx.merge(graphdef, state)(batch)


class PretrainedModel:
    """Parameters with their config, head and tokenizer, ready for inference."""

    def __init__(
        self,
        config: XLMRConfig,
        params: dict[str, Any],
        head: str | None = None,
        head_kwargs: dict[str, Any] | None = None,
        tokenizer: Any | None = None,
    ):
        self.config, self.head, self.head_kwargs = config, head, dict(head_kwargs or {})
        self.tokenizer = tokenizer
        abstract = nnx.eval_shape(
            lambda: TaskModel(config, head, rngs=nnx.Rngs(0), **self.head_kwargs)
        )
        self.graphdef, self.state = nnx.split(abstract)
        nnx.replace_by_pure_dict(self.state, params)

    @property
    def params(self) -> dict[str, Any]:
        return nnx.to_pure_dict(self.state)

    def module(self) -> TaskModel:
        """The NNX module (encoder + head) holding these parameters."""
        return nnx.merge(self.graphdef, self.state)

    def encode(self, input_ids: Any, attention_mask: Any | None = None) -> jax.Array:
        """Last hidden states, float32 `[batch, seq, hidden]`, without dropout."""
        input_ids = jnp.asarray(input_ids, jnp.int32)
        mask = jnp.ones_like(input_ids) if attention_mask is None else jnp.asarray(attention_mask)
        return _encode(self.graphdef, self.state, input_ids, mask.astype(jnp.int32))

    def embed(
        self, input_ids: Any, attention_mask: Any, *, layer: int = -1, pooling: str = "mean"
    ) -> jax.Array:
        """Sentence vectors `[batch, hidden]` from hidden state `layer` (0 = embeddings)."""
        ids, mask = jnp.asarray(input_ids, jnp.int32), jnp.asarray(attention_mask, jnp.int32)
        return _embed(self.graphdef, self.state, ids, mask, layer, pooling)["embedding"]

    def __call__(self, batch: dict[str, Any]) -> dict[str, jax.Array]:
        """The head's outputs (or the last hidden states without a head), without dropout."""
        return _apply(self.graphdef, self.state, {k: jnp.asarray(v) for k, v in batch.items()})

    def save(self, out_dir: str) -> None:
        checkpoint.save_model_dir(
            out_dir, self.params, self.config, self.head, self.head_kwargs, self.tokenizer
        )

    def describe(self) -> str:
        c = self.config
        size = sum(x.size for x in jax.tree.leaves(self.params))
        return (
            f"{c.num_layers} layers, hidden {c.hidden_size}, vocab {c.vocab_size}, "
            f"head {self.head or 'none'}, {size / 1e6:.1f}M parameters"
        )


def load_pretrained(
    path_or_name: str,
    *,
    dtype: str | None = None,
    tokenizer: str | None = None,
    shardings: Any | None = None,
) -> PretrainedModel:
    """Loads one of our model directories, a transformers directory or a hub name.

    `dtype` overrides the compute dtype (parameters stay float32); `tokenizer`
    names one to use when the checkpoint has none; `shardings` (a tree like the
    parameters) restores our directories straight onto a device mesh.
    """
    if checkpoint.is_model_dir(path_or_name):
        config, head, head_kwargs, params = checkpoint.load_model_dir(path_or_name, shardings)
        tokenizer_dir = os.path.join(path_or_name, "tokenizer")
    else:
        directory = hf_io.resolve_hf_dir(path_or_name)
        hf_config = hf_io.read_hf_config(directory)
        config = XLMRConfig.from_hf_dict(hf_config, os.path.join(directory, "config.json"))
        head, head_kwargs = convert.head_from_hf(hf_config)
        params = convert.hf_to_params(
            hf_io.read_hf_weights(directory), config, head, head_kwargs, source=directory
        )
        tokenizer_dir = directory
    if tokenizer is None and any(
        os.path.exists(os.path.join(tokenizer_dir, f)) for f in TOKENIZER_FILES
    ):
        tokenizer = tokenizer_dir
    if dtype is not None:
        config = config.replace(dtype=dtype)
    return PretrainedModel(
        config, params, head, head_kwargs, load_tokenizer(tokenizer) if tokenizer else None
    )


def export_hf(model: PretrainedModel, out_dir: str) -> None:
    """Writes a transformers checkpoint (and tokenizer) that `from_pretrained` loads."""
    with new_directory(out_dir) as staging:
        state = convert.params_to_hf(model.params, model.config, model.head, model.head_kwargs)
        hf_config = convert.hf_config_for(model.config, model.head, model.head_kwargs)
        hf_io.write_hf_checkpoint(staging, state, hf_config)
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(staging)
