"""The XLM-RoBERTa encoder in Flax NNX, numerically equal to `transformers.XLMRobertaModel`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from xlmr_flax.config import XLMRConfig
from xlmr_flax.layers import Dense, Embed, LayerNorm, attention_scale, dropout, gelu, sub_rng

# Activation rematerialisation (`set_remat`): each layer's forward pass is recomputed in
# the backward pass, keeping only what the named policy of `jax.checkpoint_policies`
# saves. Policies that take no arguments; "" keeps every activation (no remat).
REMAT_POLICIES = (
    "nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable",
    "everything_saveable",
)  # fmt: skip


class EncoderOutput(NamedTuple):
    last_hidden_state: jax.Array
    # Embedding output followed by every layer's output (num_layers + 1 arrays), or None.
    hidden_states: tuple[jax.Array, ...] | None


def position_ids(input_ids: jax.Array, pad_token_id: int) -> jax.Array:
    """RoBERTa positions: count non-padding tokens from pad_token_id + 1; padding stays at pad."""
    not_pad = (input_ids != pad_token_id).astype(jnp.int32)
    return jnp.cumsum(not_pad, axis=1) * not_pad + pad_token_id


class Embeddings(nnx.Module):
    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        std, e = config.initializer_range, config.hidden_size
        self.word_embeddings = Embed(config.vocab_size, e, ("vocab", "embed"), rngs=rngs, std=std)
        self.position_embeddings = Embed(
            config.max_position_embeddings, e, (None, "embed"), rngs=rngs, std=std
        )
        self.token_type_embeddings = Embed(
            config.type_vocab_size, e, (None, "embed"), rngs=rngs, std=std
        )
        self.layer_norm = LayerNorm(e, config.layer_norm_eps, config.dtype)
        self.pad_token_id = config.pad_token_id
        self.rate = config.hidden_dropout

    def __call__(self, input_ids, token_type_ids, rng):
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(position_ids(input_ids, self.pad_token_id))
            + self.token_type_embeddings(token_type_ids)
        )
        return dropout(self.layer_norm(x), self.rate, rng)


class SelfAttention(nnx.Module):
    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        e, n, h = config.hidden_size, config.num_heads, config.head_dim
        kw = dict(rngs=rngs, std=config.initializer_range, dtype=config.dtype)
        self.query = Dense((e,), (n, h), ("embed", "heads", "kv"), **kw)
        self.key = Dense((e,), (n, h), ("embed", "heads", "kv"), **kw)
        self.value = Dense((e,), (n, h), ("embed", "heads", "kv"), **kw)
        self.out = Dense((n, h), (e,), ("heads", "kv", "embed"), **kw)
        self.scale = attention_scale(h)
        self.rate = config.attention_dropout
        self.dtype = config.dtype

    def __call__(self, x, mask_bias, rng):
        q, k, v = self.query(x), self.key(x), self.value(x)  # [batch, len, heads, head_dim]
        # Logits and softmax in float32 whatever the compute dtype.
        logits = jnp.einsum("btnh,bsnh->bnts", q, k, preferred_element_type=jnp.float32)
        probs = jax.nn.softmax(logits * self.scale + mask_bias, axis=-1).astype(self.dtype)
        probs = dropout(probs, self.rate, rng)
        return self.out(jnp.einsum("bnts,bsnh->btnh", probs, v))


class EncoderLayer(nnx.Module):
    """Post-LayerNorm transformer layer (attention, then feed-forward)."""

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        e, f = config.hidden_size, config.intermediate_size
        kw = dict(rngs=rngs, std=config.initializer_range, dtype=config.dtype)
        self.attention = SelfAttention(config, rngs=rngs)
        self.attention_norm = LayerNorm(e, config.layer_norm_eps, config.dtype)
        self.intermediate = Dense((e,), (f,), ("embed", "mlp"), **kw)
        self.output = Dense((f,), (e,), ("mlp", "embed"), **kw)
        self.output_norm = LayerNorm(e, config.layer_norm_eps, config.dtype)
        self.rate = config.hidden_dropout

    def __call__(self, x, mask_bias, rng):
        attended = dropout(
            self.attention(x, mask_bias, sub_rng(rng, 0)), self.rate, sub_rng(rng, 1)
        )
        x = self.attention_norm(x + attended)
        y = dropout(self.output(gelu(self.intermediate(x))), self.rate, sub_rng(rng, 2))
        return self.output_norm(x + y)


class XLMREncoder(nnx.Module):
    """Embeddings and transformer layers; heads live in `xlmr_flax.heads`."""

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.embeddings = Embeddings(config, rngs=rngs)
        self.layers = nnx.List([EncoderLayer(config, rngs=rngs) for _ in range(config.num_layers)])
        self.remat = ""  # a name of REMAT_POLICIES: recompute each layer in the backward pass

    def __call__(
        self,
        input_ids: jax.Array,
        attention_mask: jax.Array | None = None,
        token_type_ids: jax.Array | None = None,
        *,
        dropout_rng: jax.Array | None = None,
        output_hidden_states: bool = False,
    ) -> EncoderOutput:
        """`dropout_rng=None` runs deterministically (evaluation)."""
        if attention_mask is None:
            attention_mask = jnp.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = jnp.zeros_like(input_ids)
        # Additive mask over keys, broadcast to [batch, heads, queries, keys].
        mask_bias = jnp.where(attention_mask[:, None, None, :] > 0, 0.0, jnp.finfo(jnp.float32).min)
        x = self.embeddings(input_ids, token_type_ids, sub_rng(dropout_rng, 0))
        states = [x]
        run = _call_layer
        if self.remat:  # static: part of the graph, so of the compiled program
            policy = getattr(jax.checkpoint_policies, self.remat)
            run = nnx.remat(_call_layer, policy=policy)
        for i, layer in enumerate(self.layers):
            x = run(layer, x, mask_bias, sub_rng(dropout_rng, i + 1))
            states.append(x)
        return EncoderOutput(x, tuple(states) if output_hidden_states else None)


def _call_layer(layer: EncoderLayer, x, mask_bias, rng):
    return layer(x, mask_bias, rng)


def set_remat(model: nnx.Module, policy: str) -> None:
    """Rematerialise every encoder layer of `model` under the named policy of
    `jax.checkpoint_policies` ("" for none); the weights and the result are unchanged,
    the backward pass recomputes what the policy does not save."""
    if policy and policy not in REMAT_POLICIES:
        raise ValueError(f"remat policy {policy!r}: expected one of {', '.join(REMAT_POLICIES)}")
    for _, module in model.iter_modules():
        if isinstance(module, XLMREncoder):
            module.remat = policy
