"""The compiled side of evaluation: models restored onto a mesh, and the forward pass
one evaluation bucket compiles (`train.study.plan.compile` compiles it for other topologies too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from xlmr_flax import checkpoint
from xlmr_flax.heads import SentenceEmbeddingHead, TaskModel
from xlmr_flax.pretrained import PretrainedModel, load_pretrained
from xlmr_flax.sharding import DEFAULT_RULES, param_shardings


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
