"""What a study's ids are computed from: the pretrained weights' and the tokenizer's
content (the root id) and the bytes of each task's training files (stage ids).

Content, not names or paths: a moved data folder keeps its ids, a changed label or
a different checkpoint under the same name does not. Hashes of files are remembered
per (path, size, modification time) within a process.
"""

from __future__ import annotations

import os
from typing import Any

from xlmr_flax.config import get_model_config
from xlmr_flax.data.cache import files_fingerprint
from xlmr_flax.errors import CheckpointError
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import sample_tokenizer_path, tokenizer_source

UNRESOLVED = "unresolved"  # a hub checkpoint a dry run did not download
TOKENIZER_FILES = (
    "sentencepiece.bpe.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)

_HASHES: dict[tuple, str] = {}


def content_fingerprint(paths: list[str]) -> str:
    """The bytes of `paths` (each must exist), hashed once per process and version."""
    key = tuple((p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)
    if key not in _HASHES:
        _HASHES[key] = files_fingerprint(list(paths))
    return _HASHES[key]


def training_data_fingerprint(raw_dir: str, task: str) -> str | None:
    """The English training files' bytes of a stage task; None while they are absent
    (a study with missing data never trains: see train.study.run.runner.check_study)."""
    files = get_task(task).data_task("train").files(raw_dir, "train", "en")
    if not files or not all(os.path.isfile(f) for f in files):
        return None
    return content_fingerprint(files)


def _hub_dir(name: str, resolve: bool) -> str | None:
    """A hub checkpoint's local snapshot: the cached one, else downloaded if `resolve`."""
    from xlmr_flax.hf_io import HUB_FILES, resolve_hf_dir

    try:
        import huggingface_hub

        return huggingface_hub.snapshot_download(
            name, allow_patterns=HUB_FILES, local_files_only=True
        )
    except Exception:  # not cached (the hub client raises several types)
        return resolve_hf_dir(name) if resolve else None


def _checkpoint_dir(path_or_name: str, resolve: bool) -> str | None:
    if os.path.isdir(path_or_name):
        return path_or_name
    if os.path.exists(path_or_name) or path_or_name.startswith((".", "/")):
        raise CheckpointError(f"{path_or_name}: not a checkpoint directory")
    return _hub_dir(path_or_name, resolve)


def weights_identity(config, resolve: bool) -> dict[str, Any]:
    """A checkpoint, transformers' or one of our model directories: its description and
    weight files' bytes. A random model: its
    size's definition and the seed it is drawn from (its vocabulary follows the
    tokenizer, which the root id covers)."""
    if not config.init_checkpoint:
        try:
            definition = get_model_config(config.model).to_dict()
        except ValueError as err:
            raise ValueError(f"config.model: {err}") from None
        definition.pop("vocab_size", None)
        return {"random": definition, "seed": config.seed}
    from xlmr_flax.checkpoint import MODEL_FILE, is_model_dir
    from xlmr_flax.hf_io import weight_files

    directory = _checkpoint_dir(config.init_checkpoint, resolve)
    if directory is None:
        return {"checkpoint": config.init_checkpoint, "content": UNRESOLVED}
    if is_model_dir(directory):  # ours: its description and every parameter file
        walk = os.walk(os.path.join(directory, "params"))
        params = sorted(os.path.join(root, name) for root, _, names in walk for name in names)
        files = [os.path.join(directory, MODEL_FILE), *params]
    else:
        files = [os.path.join(directory, "config.json"), *weight_files(directory)]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise CheckpointError(f"{missing[0]}: file not found (config.init_checkpoint)")
    return {"content": content_fingerprint(files)}


def tokenizer_identity(config, resolve: bool) -> str:
    """The tokenizer files' bytes: a sentencepiece model, a folder, or a hub name's."""
    source = tokenizer_source(config.tokenizer or sample_tokenizer_path())
    if os.path.isfile(source):
        return content_fingerprint([source])
    directory = _checkpoint_dir(source, resolve)
    if directory is None:
        return UNRESOLVED
    files = [os.path.join(directory, n) for n in TOKENIZER_FILES]
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise ValueError(f"config.tokenizer {source}: no tokenizer files in {directory}")
    return content_fingerprint(files)


def root_identity(config, resolve: bool = False) -> dict[str, Any]:
    """What the root id (the pretrained model every path starts from) covers."""
    try:
        return {
            "weights": weights_identity(config, resolve),
            "tokenizer": tokenizer_identity(config, resolve),
        }
    except CheckpointError as err:
        raise ValueError(str(err)) from None


def is_resolved(identity: dict[str, Any]) -> bool:
    return UNRESOLVED not in (identity["tokenizer"], identity["weights"].get("content"))
