"""What evaluation compiles, apart from running it: the settings that shape its batches
(`PredictOptions`), the model restored onto a mesh, and the forward pass one evaluation
bucket compiles. `eval.predict.predictor.Predictor` runs them; compile-only
(`train.study.plan.compile`) builds the same programs for other topologies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
from absl import logging
from flax import nnx
from jax.sharding import Mesh

from xlmr_flax import checkpoint
from xlmr_flax.formats import get_format
from xlmr_flax.heads import SentenceEmbeddingHead, TaskModel
from xlmr_flax.pretrained import PretrainedModel, load_pretrained
from xlmr_flax.sharding import DEFAULT_RULES, param_shardings
from xlmr_flax.tasks import Task


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """Evaluation settings; any of them can be given to `Predictor` or per call."""

    max_length: int | None = None  # None: 384 for span extraction, else 256
    batch_size: int = 32  # global rows per batch, rounded up to the data-parallel size
    bucket_lengths: tuple[int, ...] = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512)
    doc_stride: int = 128  # QA: context tokens between window starts
    max_query_length: int = 64  # QA: question tokens kept (at most half a window)
    max_answer_length: int = 30  # QA: longest answer, in sub-words
    n_best: int = 20  # QA: start and end candidates per window
    layer: int = -1  # retrieval from the encoder: hidden state (0 = embeddings)
    pooling: str = "mean"  # retrieval from the encoder: "mean" or "first"
    use_embedding_head: bool = True  # LAReQA, Mewsli-X: a sentence_embedding head if any
    top_k: int = 20  # LAReQA, Mewsli-X: candidates ranked per query
    # LAReQA, Mewsli-X inputs: "xtreme_r" (the reference's) or "project" (features.py)
    retrieval_protocol: str = "xtreme_r"
    device_top_k: bool | None = None  # ranking on the mesh; None: unless the backend is CPU
    cache_dir: str | None = None  # features cached here (xlmr_flax.data.cache)

    @classmethod
    def create(cls, options: Any = None, **overrides: Any) -> PredictOptions:
        """From None, a mapping or an ml_collections ConfigDict, then `overrides`.
        Unknown keys of `options` are logged and ignored (a config section may hold
        settings for other code); unknown `overrides` are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        if isinstance(options, PredictOptions):
            values = dataclasses.asdict(options)
        elif hasattr(options, "to_dict"):  # ml_collections.ConfigDict
            values = options.to_dict()
        else:
            values = dict(options or {})
        ignored = sorted(set(values) - known)
        if ignored:
            logging.warning("evaluation options ignored by the predictor: %s", ignored)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown prediction option(s) {unknown}; known: {sorted(known)}")
        values = {k: v for k, v in values.items() if k in known} | overrides
        if "bucket_lengths" in values:
            values["bucket_lengths"] = tuple(int(b) for b in values["bucket_lengths"])
        return cls(**values)

    def length_for(self, task: Task) -> int:
        return get_format(task.format).eval_length(task, self)

    def buckets(self, max_length: int) -> tuple[int, ...]:
        """The bucket lengths below `max_length`, and `max_length` itself as the last."""
        return (*sorted({b for b in self.bucket_lengths if b < max_length}), max_length)


def load_on_mesh(
    path_or_name: str,
    mesh: Mesh,
    *,
    dtype: str | None = None,
    tokenizer: str | None = None,
    rules: Mapping[str, Any] = DEFAULT_RULES,
) -> PretrainedModel:
    """`load_pretrained` with our model directories restored straight onto `mesh`
    (each parameter sharded as its logical axes say). Transformers checkpoints
    load on one device first; `Predictor` then places them (single process only)."""
    if not checkpoint.is_model_dir(path_or_name):
        return load_pretrained(path_or_name, dtype=dtype, tokenizer=tokenizer)
    config, head, head_kwargs = checkpoint.read_model_meta(path_or_name)
    shardings = model_shardings(config, head, head_kwargs, mesh, rules)
    return load_pretrained(path_or_name, dtype=dtype, tokenizer=tokenizer, shardings=shardings)


def model_shardings(config, head, head_kwargs, mesh, rules) -> dict[str, Any]:
    abstract = nnx.eval_shape(lambda: TaskModel(config, head, rngs=nnx.Rngs(0), **head_kwargs))
    return param_shardings(nnx.state(abstract, nnx.Param), mesh, rules)


def forward_function(graphdef: nnx.GraphDef, config: Any, kind: str, static: tuple) -> Callable:
    """`forward(params, batch)` of one output kind ("logits", "tags", "spans",
    "embedding" with `static` = (layer, pooling, use_head)): what one evaluation
    bucket compiles (`train.study.plan.compile` compiles it for other topologies too)."""

    def forward(params, batch):
        model = nnx.merge(graphdef, params)
        if kind == "embedding":
            layer, pooling, use_head = static
            if use_head:
                return {"embedding": model(batch)["embedding"].astype(jnp.float32)}
            head = SentenceEmbeddingHead(config, pooling=pooling, layer=layer)
            return {"embedding": head(model.encoder, batch, None)["embedding"]}
        out = model(batch)
        if kind == "tags":  # argmax on the devices: [rows, length] ints come back
            return {"tags": jnp.argmax(out["logits"], axis=-1).astype(jnp.int32)}
        if kind == "spans":
            return {k: out[k].astype(jnp.float32) for k in ("start_logits", "end_logits")}
        return {"logits": out["logits"].astype(jnp.float32)}

    return forward
