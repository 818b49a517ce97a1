"""Task heads, registered by format, and the model that joins the encoder and one head.

Each head matches a transformers PyTorch class (`hf_architecture`) and lists the
weight rules that convert between the two. All languages of a task share its
head; every stage starts a fresh head on the encoder it inherits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from xlmr_flax.config import XLMRConfig
from xlmr_flax.layers import Dense, LayerNorm, dropout, gelu, param, sub_rng
from xlmr_flax.model import XLMREncoder
from xlmr_flax.weight_map import Rule, dense, layer_norm

Batch = Mapping[str, jax.Array]
HEADS: dict[str, type[Head]] = {}


def register_head(name: str) -> Callable[[type[Head]], type[Head]]:
    def add(cls: type[Head]) -> type[Head]:
        cls.name = name
        HEADS[name] = cls
        return cls

    return add


def get_head(name: str) -> type[Head]:
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; known: {sorted(HEADS)}")
    return HEADS[name]


class Head(nnx.Module):
    name: ClassVar[str]
    hf_architecture: ClassVar[str | None] = None

    @staticmethod
    def hf_rules(config: XLMRConfig, **kwargs: Any) -> list[Rule]:
        return []

    @staticmethod
    def kwargs_from_hf(hf_config: Mapping[str, Any]) -> dict[str, Any]:
        """Head arguments read from a transformers `config.json`."""
        return {}

    def __call__(
        self, encoder: XLMREncoder, batch: Batch, rng: jax.Array | None
    ) -> dict[str, jax.Array]:
        raise NotImplementedError


def _encode(encoder: XLMREncoder, batch: Batch, rng, **kw):
    return encoder(
        batch["input_ids"],
        batch.get("attention_mask"),
        batch.get("token_type_ids"),
        dropout_rng=rng,
        **kw,
    )


def _num_labels(hf_config: Mapping[str, Any]) -> dict[str, int]:
    return {"num_labels": len(hf_config.get("id2label") or {}) or hf_config.get("num_labels", 2)}


@register_head("classification")
class ClassificationHead(Head):
    """First token → dense → tanh → projection (`XLMRobertaForSequenceClassification`)."""

    hf_architecture = "XLMRobertaForSequenceClassification"

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs, num_labels: int):
        e, std = config.hidden_size, config.initializer_range
        self.dense = Dense((e,), (e,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype)
        self.out_proj = Dense(
            (e,), (num_labels,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype
        )
        self.rate = config.hidden_dropout

    @staticmethod
    def hf_rules(config, num_labels):
        e = config.hidden_size
        return dense("classifier.dense", ("head", "dense"), (e,), (e,)) + dense(
            "classifier.out_proj", ("head", "out_proj"), (e,), (num_labels,)
        )

    kwargs_from_hf = staticmethod(_num_labels)

    def __call__(self, encoder, batch, rng):
        x = _encode(encoder, batch, sub_rng(rng, 0)).last_hidden_state[:, 0]
        x = jnp.tanh(self.dense(dropout(x, self.rate, sub_rng(rng, 1))))
        return {"logits": self.out_proj(dropout(x, self.rate, sub_rng(rng, 2)))}


@register_head("multiple_choice")
class MultipleChoiceHead(Head):
    """Scores each [choice] sequence: pooler (dense + tanh on the first token) → 1 logit.

    Inputs are [batch, choices, length]; logits are [batch, choices].
    """

    hf_architecture = "XLMRobertaForMultipleChoice"

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        e, std = config.hidden_size, config.initializer_range
        self.pooler = Dense((e,), (e,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype)
        self.classifier = Dense((e,), (1,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype)
        self.rate = config.hidden_dropout

    @staticmethod
    def hf_rules(config):
        e = config.hidden_size
        # transformers keeps this pooler inside the encoder (`roberta.pooler`).
        return dense("pooler.dense", ("head", "pooler"), (e,), (e,)) + dense(
            "classifier", ("head", "classifier"), (e,), (1,)
        )

    def __call__(self, encoder, batch, rng):
        batch_size, num_choices = batch["input_ids"].shape[:2]
        flat = {k: v.reshape(batch_size * num_choices, -1) for k, v in batch.items()}
        x = _encode(encoder, flat, sub_rng(rng, 0)).last_hidden_state[:, 0]
        pooled = dropout(jnp.tanh(self.pooler(x)), self.rate, sub_rng(rng, 1))
        return {"logits": self.classifier(pooled).reshape(batch_size, num_choices)}


@register_head("span_extraction")
class SpanExtractionHead(Head):
    """Start and end logits per token (`XLMRobertaForQuestionAnswering`)."""

    hf_architecture = "XLMRobertaForQuestionAnswering"

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        e, std = config.hidden_size, config.initializer_range
        self.qa_outputs = Dense((e,), (2,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype)

    @staticmethod
    def hf_rules(config):
        return dense("qa_outputs", ("head", "qa_outputs"), (config.hidden_size,), (2,))

    def __call__(self, encoder, batch, rng):
        logits = self.qa_outputs(_encode(encoder, batch, sub_rng(rng, 0)).last_hidden_state)
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}


@register_head("token_tagging")
class TokenTaggingHead(Head):
    """One label distribution per token (`XLMRobertaForTokenClassification`)."""

    hf_architecture = "XLMRobertaForTokenClassification"

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs, num_labels: int):
        e, std = config.hidden_size, config.initializer_range
        self.classifier = Dense(
            (e,), (num_labels,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype
        )
        self.rate = config.hidden_dropout

    @staticmethod
    def hf_rules(config, num_labels):
        return dense("classifier", ("head", "classifier"), (config.hidden_size,), (num_labels,))

    kwargs_from_hf = staticmethod(_num_labels)

    def __call__(self, encoder, batch, rng):
        x = _encode(encoder, batch, sub_rng(rng, 0)).last_hidden_state
        return {"logits": self.classifier(dropout(x, self.rate, sub_rng(rng, 1)))}


@register_head("masked_lm")
class MaskedLMHead(Head):
    """dense → GELU → LayerNorm → word embeddings (tied) + bias (`XLMRobertaForMaskedLM`)."""

    hf_architecture = "XLMRobertaForMaskedLM"

    def __init__(self, config: XLMRConfig, *, rngs: nnx.Rngs):
        e, std = config.hidden_size, config.initializer_range
        self.dense = Dense((e,), (e,), ("embed", None), rngs=rngs, std=std, dtype=config.dtype)
        self.layer_norm = LayerNorm(e, config.layer_norm_eps, config.dtype)
        self.bias = param(None, (config.vocab_size,), ("vocab",), "zeros")
        self.dtype = config.dtype

    @staticmethod
    def hf_rules(config):
        e = config.hidden_size
        return [
            *dense("lm_head.dense", ("head", "dense"), (e,), (e,)),
            *layer_norm("lm_head.layer_norm", ("head", "layer_norm"), e),
            Rule("lm_head.bias", ("head", "bias"), (config.vocab_size,), False),
        ]

    def __call__(self, encoder, batch, rng):
        x = _encode(encoder, batch, sub_rng(rng, 0)).last_hidden_state
        x = self.layer_norm(gelu(self.dense(x)))
        words = encoder.embeddings.word_embeddings.embedding[...].astype(self.dtype)
        return {"logits": jnp.einsum("bte,ve->btv", x, words) + self.bias[...].astype(self.dtype)}


@register_head("sentence_embedding")
class SentenceEmbeddingHead(Head):
    """A sentence vector from one layer: mean over real tokens, or the first token.

    `layer` indexes the hidden states (0 = embeddings, -1 = last layer); retrieval
    with XLM-R works best from a middle layer. No parameters.
    """

    def __init__(
        self, config: XLMRConfig, *, rngs: nnx.Rngs | None = None, pooling="mean", layer=-1
    ):
        if pooling not in ("mean", "first"):
            raise ValueError(f"pooling={pooling!r}: expected 'mean' or 'first'")
        if not -(config.num_layers + 1) <= layer <= config.num_layers:
            raise ValueError(f"layer={layer} outside the model's {config.num_layers} layers")
        self.pooling = pooling
        self.layer = layer

    def __call__(self, encoder, batch, rng):
        states = _encode(encoder, batch, rng, output_hidden_states=True).hidden_states
        x = states[self.layer].astype(jnp.float32)
        if self.pooling == "first":
            return {"embedding": x[:, 0]}
        mask = batch.get("attention_mask", jnp.ones(x.shape[:2]))[..., None].astype(jnp.float32)
        return {"embedding": (x * mask).sum(1) / jnp.maximum(mask.sum(1), 1.0)}


class TaskModel(nnx.Module):
    """The encoder with an optional head; `head=None` is the bare encoder."""

    def __init__(
        self, config: XLMRConfig, head: str | None = None, *, rngs: nnx.Rngs, **head_kwargs: Any
    ):
        self.config = config
        self.encoder = XLMREncoder(config, rngs=rngs)
        self.head = get_head(head)(config, rngs=rngs, **head_kwargs) if head else None

    def __call__(
        self, batch: Batch, *, dropout_rng: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        if self.head is None:
            return {"last_hidden_state": _encode(self.encoder, batch, dropout_rng)[0]}
        return self.head(self.encoder, batch, dropout_rng)


class MixtureModel(nnx.Module):
    """One encoder shared by one head per task: the model of a multi-task stage."""

    def __init__(
        self,
        config: XLMRConfig,
        heads: Mapping[str, tuple[str, Mapping[str, Any]]],
        *,
        rngs: nnx.Rngs,
    ):
        self.config = config
        self.encoder = XLMREncoder(config, rngs=rngs)
        self.heads = nnx.Dict(
            {task: get_head(head)(config, rngs=rngs, **kw) for task, (head, kw) in heads.items()}
        )

    def for_task(self, task: str) -> Callable[..., dict[str, jax.Array]]:
        """`model(batch, dropout_rng=...)` through `task`'s head, as a loss expects."""
        head = self.heads[task]
        return lambda batch, *, dropout_rng=None: head(self.encoder, batch, dropout_rng)


def abstract_params(
    config: XLMRConfig, head: str | None = None, head_kwargs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The parameter tree's shapes and dtypes (`jax.ShapeDtypeStruct`), without allocating it."""
    model = nnx.eval_shape(lambda: TaskModel(config, head, rngs=nnx.Rngs(0), **(head_kwargs or {})))
    return nnx.to_pure_dict(nnx.state(model, nnx.Param))
