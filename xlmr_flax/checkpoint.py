"""Our model directory: Orbax parameters, the model config and the tokenizer.

    DIR/xlmr_flax.json   {"format": 1, "model": {...}, "head": name or null, "head_kwargs": {...}}
    DIR/params/          Orbax checkpoint of the parameter tree
    DIR/tokenizer/       tokenizer files (optional)

A directory is written under a temporary name and renamed when complete, so a
failed write never leaves a directory that looks valid, and nothing existing is
overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from xlmr_flax.atomic import new_directory
from xlmr_flax.config import XLMRConfig, load_json
from xlmr_flax.errors import CheckpointError
from xlmr_flax.heads import abstract_params
from xlmr_flax.sharding import is_primary, sync_processes

MODEL_FILE = "xlmr_flax.json"
FORMAT_VERSION = 1


def is_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, MODEL_FILE))


def save_model_dir(
    out_dir: str,
    params: dict[str, Any],
    config: XLMRConfig,
    head: str | None,
    head_kwargs: dict[str, Any],
    tokenizer: Any | None = None,
) -> None:
    """Writes the directory whole. Every process calls it: the Orbax save is collective,
    so the staging folder has one name on all of them, and process 0 writes the rest."""
    out_dir = os.path.abspath(out_dir)
    if jax.process_count() == 1:
        with new_directory(out_dir) as staging:
            _write_model_files(staging, params, config, head, head_kwargs, tokenizer)
        return
    if os.path.exists(out_dir):
        raise FileExistsError(f"{out_dir}: already exists; choose a new output directory")
    staging = os.path.join(os.path.dirname(out_dir), f".partial-{os.path.basename(out_dir)}")
    if is_primary():
        shutil.rmtree(staging, ignore_errors=True)  # left by an earlier, killed run
        os.makedirs(staging)
    sync_processes(f"model dir {out_dir}: staging")
    _write_model_files(staging, params, config, head, head_kwargs, tokenizer)
    if is_primary():
        os.rename(staging, out_dir)
    sync_processes(f"model dir {out_dir}: written")


def _write_model_files(staging, params, config, head, head_kwargs, tokenizer) -> None:
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.join(staging, "params"), params)
    checkpointer.wait_until_finished()
    if not is_primary():
        return
    if tokenizer is not None:
        tokenizer.save_pretrained(os.path.join(staging, "tokenizer"))
    meta = dict(format=FORMAT_VERSION, model=config.to_dict(), head=head, head_kwargs=head_kwargs)
    with open(os.path.join(staging, MODEL_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=True)


def read_model_meta(path: str) -> tuple[XLMRConfig, str | None, dict[str, Any]]:
    meta_path = os.path.join(path, MODEL_FILE)
    try:
        meta = load_json(meta_path)
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        return XLMRConfig.from_dict(meta["model"]), meta.get("head"), meta.get("head_kwargs") or {}
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{meta_path}: {err}") from None


def _shapes_by_path(tree: Any) -> dict[str, tuple[int, ...]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(v.shape) for path, v in flat}


def restore_params(
    params_dir: str, abstract: dict[str, Any], shardings: Any | None = None
) -> dict[str, Any]:
    """Restores onto `shardings` (a matching tree), or the first device.

    Checks names and shapes against `abstract` first, so a mismatch is reported
    weight by weight rather than by Orbax's internals.
    """
    params_dir = os.path.abspath(params_dir)
    checkpointer = ocp.StandardCheckpointer()
    try:
        stored = _shapes_by_path(checkpointer.metadata(params_dir).item_metadata.tree)
    except Exception as err:  # Orbax raises several types for absent or corrupt metadata
        raise CheckpointError(f"{params_dir}: not a readable Orbax checkpoint ({err})") from None
    expected = _shapes_by_path(abstract)
    problems = [f"missing {k}" for k in sorted(set(expected) - set(stored))]
    problems += [f"unexpected {k}" for k in sorted(set(stored) - set(expected))]
    problems += [
        f"{k} has shape {stored[k]}, the config expects {expected[k]}"
        for k in sorted(set(stored) & set(expected))
        if stored[k] != expected[k]
    ]
    if problems:
        raise CheckpointError(f"{params_dir}: " + "; ".join(problems))
    if shardings is None:
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        shardings = jax.tree.map(lambda _: device, abstract)
    target = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, np.float32, sharding=s), abstract, shardings
    )
    try:
        return checkpointer.restore(params_dir, target)
    except Exception as err:
        raise CheckpointError(f"{params_dir}: cannot restore parameters ({err})") from None


def load_model_dir(path: str, shardings: Any | None = None):
    """Returns (config, head, head_kwargs, params) of one of our model directories."""
    config, head, head_kwargs = read_model_meta(path)
    abstract = abstract_params(config, head, head_kwargs)
    params = restore_params(os.path.join(path, "params"), abstract, shardings)
    return config, head, head_kwargs, params
