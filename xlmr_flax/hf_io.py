"""Reading and writing transformers checkpoints (local directory or hub name).

safetensors needs no PyTorch; `pytorch_model.bin` does, and says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from xlmr_flax.config import load_json
from xlmr_flax.errors import CheckpointError

SAFETENSORS, SAFETENSORS_INDEX = "model.safetensors", "model.safetensors.index.json"
TORCH_BIN, TORCH_BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
HUB_FILES = ["*.json", "*.safetensors", "sentencepiece.bpe.model"]


def resolve_hf_dir(path_or_name: str) -> str:
    """A local directory as is; otherwise a hub name, downloaded into the local cache."""
    if os.path.isdir(path_or_name):
        return path_or_name
    if os.path.exists(path_or_name) or path_or_name.startswith((".", "/")):
        raise CheckpointError(f"{path_or_name}: not a checkpoint directory")
    import huggingface_hub

    try:
        local = huggingface_hub.snapshot_download(path_or_name, allow_patterns=HUB_FILES)
        if not _has_weights(local):  # older repositories ship only PyTorch pickles
            local = huggingface_hub.snapshot_download(
                path_or_name, allow_patterns=[*HUB_FILES, TORCH_BIN, TORCH_BIN_INDEX]
            )
    except Exception as err:  # the hub client raises many types; all mean "not available"
        raise CheckpointError(
            f"{path_or_name}: not a local directory, and the model hub could not provide it "
            f"({type(err).__name__}: {err})"
        ) from err
    return local


def _has_weights(directory: str) -> bool:
    names = (SAFETENSORS, SAFETENSORS_INDEX, TORCH_BIN, TORCH_BIN_INDEX)
    return any(os.path.exists(os.path.join(directory, n)) for n in names)


def read_hf_config(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, "config.json")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: file not found (a transformers checkpoint needs it)")
    try:
        return load_json(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from None


def weight_files(directory: str) -> list[str]:
    """The checkpoint's weight files; a sharded index may name only files of its own
    folder (never an absolute path or one that leaves the folder)."""
    for index_name, single in ((SAFETENSORS_INDEX, SAFETENSORS), (TORCH_BIN_INDEX, TORCH_BIN)):
        index = os.path.join(directory, index_name)
        if os.path.exists(index):
            try:
                weight_map = load_json(index)["weight_map"]
                names = sorted(set(weight_map.values()))
            except (ValueError, KeyError, AttributeError, TypeError) as err:
                raise CheckpointError(f"{index}: not a valid weight index ({err})") from None
            for name in names:
                if (
                    not isinstance(name, str)
                    or os.path.basename(name) != name
                    or name
                    in (
                        "",
                        ".",
                        "..",
                    )
                ):
                    raise CheckpointError(
                        f"{index}: weight file {name!r} is not a file name in {directory}"
                    )
            return [os.path.join(directory, f) for f in names]
        if os.path.exists(os.path.join(directory, single)):
            return [os.path.join(directory, single)]
    raise CheckpointError(
        f"{directory}: no weights found; expected {SAFETENSORS}, {TORCH_BIN} or a sharded index"
    )


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError, safe_open

    try:
        # "flax" gives bfloat16 tensors too (NumPy has no bfloat16 of its own).
        with safe_open(path, framework="flax") as f:
            return {k: np.asarray(f.get_tensor(k), dtype=np.float32) for k in f.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found (named by the weight index)") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from None


def _read_torch_bin(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"{path}: PyTorch pickles need PyTorch to read; `pip install torch`, or use a "
            "checkpoint saved as safetensors (no PyTorch needed)"
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from None
    return {k: v.detach().float().numpy() for k, v in state.items()}


def read_hf_weights(directory: str) -> dict[str, np.ndarray]:
    """All tensors of a checkpoint as float32 NumPy arrays, by transformers name."""
    state: dict[str, np.ndarray] = {}
    for path in weight_files(directory):
        read = _read_safetensors if path.endswith(".safetensors") else _read_torch_bin
        state.update(read(path))
    return state


def write_hf_checkpoint(
    directory: str, state: Mapping[str, np.ndarray], hf_config: Mapping[str, Any]
) -> None:
    """Writes `model.safetensors` and `config.json` loadable by `from_pretrained`."""
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
    save_file(arrays, os.path.join(directory, SAFETENSORS), metadata={"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(hf_config), f, indent=2, sort_keys=True)
