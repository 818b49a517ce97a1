"""Conversion between transformers XLM-R checkpoints and our parameters, both ways.

The library: tensors to parameter trees and back. The command that converts a
checkpoint on disk (`python -m xlmr_flax.convert`) is `xlmr_flax/convert/__main__.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from xlmr_flax.config import XLMRConfig
from xlmr_flax.errors import CheckpointError
from xlmr_flax.heads import HEADS, abstract_params, get_head
from xlmr_flax.weight_map import Rule, encoder_rules

Params = dict[str, Any]
ENCODER_PREFIX = "roberta."
# Weights that carry nothing we keep: buffers and copies tied to other weights.
DERIVED_KEYS = re.compile(r"(^|\.)position_ids$|^lm_head\.decoder\.(weight|bias)$")
POOLER = re.compile(r"^pooler\.dense\.(weight|bias)$")


def rules_for(config: XLMRConfig, head: str | None, head_kwargs: Mapping[str, Any]) -> list[Rule]:
    rules = encoder_rules(config)
    if head:
        rules += get_head(head).hf_rules(config, **head_kwargs)
    return rules


def head_from_hf(hf_config: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The head a transformers checkpoint holds, from its `architectures` entry."""
    by_architecture = {h.hf_architecture: h for h in HEADS.values() if h.hf_architecture}
    for architecture in hf_config.get("architectures") or ["XLMRobertaModel"]:
        if architecture in by_architecture:
            head = by_architecture[architecture]
            return head.name, head.kwargs_from_hf(hf_config)
        if architecture in ("XLMRobertaModel", "RobertaModel"):
            return None, {}
    raise CheckpointError(
        f"config.json: architectures={hf_config.get('architectures')} has no XLM-R class we "
        f"convert; known: XLMRobertaModel, {sorted(by_architecture)}"
    )


def _set(tree: dict, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _get(tree: Mapping, path: tuple) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def hf_to_params(
    state: Mapping[str, np.ndarray],
    config: XLMRConfig,
    head: str | None = None,
    head_kwargs: Mapping[str, Any] | None = None,
    source: str = "checkpoint",
) -> Params:
    """Our parameter tree from transformers tensors; every problem is listed by name."""
    rules = rules_for(config, head, head_kwargs or {})
    named = {k.removeprefix(ENCODER_PREFIX): v for k, v in state.items()}
    problems, params = [], {}
    for rule in rules:
        if rule.hf_key not in named:
            problems.append(f"missing weight {rule.hf_key}")
        elif named[rule.hf_key].shape != rule.hf_shape:
            problems.append(
                f"weight {rule.hf_key} has shape {named[rule.hf_key].shape}, "
                f"the config expects {rule.hf_shape}"
            )
        else:
            value = named[rule.hf_key]
            _set(params, rule.path, np.asarray(value.T if rule.transpose else value))
    used = {r.hf_key for r in rules}
    # A pooler only the multiple-choice head uses (released MLM checkpoints carry an
    # untrained one): any other head ignores it.
    unused = [
        k for k in named if k not in used and not DERIVED_KEYS.search(k) and not POOLER.match(k)
    ]
    decoder, words = named.get("lm_head.decoder.weight"), named.get(rules[0].hf_key)
    if decoder is not None and words is not None and not np.array_equal(decoder, words):
        problems.append("lm_head.decoder.weight is not tied to the word embeddings")
    problems += [f"unexpected weight {k} (not used by head {head!r})" for k in sorted(unused)]
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))
    return _reshape_to_model(params, config, head, head_kwargs or {})


def _reshape_to_model(params: Params, config, head, head_kwargs) -> Params:
    """Reshapes the [in, out] matrices to our kernels' shapes ([embed, heads, kv], ...)."""
    shapes = abstract_params(config, head, head_kwargs)
    return jax.tree.map(lambda s, v: v.reshape(s.shape), shapes, params)


def params_to_hf(
    params: Params,
    config: XLMRConfig,
    head: str | None = None,
    head_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """transformers tensors from our parameter tree (the inverse of `hf_to_params`)."""
    prefix = ENCODER_PREFIX if head else ""
    state = {}
    for rule in rules_for(config, head, head_kwargs or {}):
        value = np.asarray(_get(params, rule.path), dtype=np.float32)
        if rule.transpose:
            value = value.reshape(rule.hf_shape[::-1]).T
        is_encoder = rule.hf_key.startswith(("embeddings.", "encoder.", "pooler."))
        state[(prefix if is_encoder else "") + rule.hf_key] = value.reshape(rule.hf_shape)
    return state


def hf_config_for(
    config: XLMRConfig, head: str | None, head_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """A complete transformers `config.json` for this model and head."""
    import transformers

    architecture = get_head(head).hf_architecture if head else "XLMRobertaModel"
    if architecture is None:
        architecture = "XLMRobertaModel"  # heads without weights export the encoder
    extra = {"num_labels": head_kwargs["num_labels"]} if "num_labels" in head_kwargs else {}
    hf = transformers.XLMRobertaConfig(**config.to_hf_dict(), architectures=[architecture], **extra)
    return hf.to_dict()
