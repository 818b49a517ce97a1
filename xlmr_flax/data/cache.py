"""Features cached on disk per (task, split, language, tokenizer, max length, data).

The key hashes the tokenizer's full definition and the raw files' bytes, so a
changed tokenizer or dataset never reuses stale features. Files are written
under a temporary name and renamed, so an interrupted run leaves no partial cache.

The files hold data only (msgpack: strings, numbers, lists, maps, and NumPy arrays
of numbers as raw bytes with their dtype and shape): reading one never runs code,
whoever wrote it. A file that does not decode to features is rebuilt, with a
warning naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import msgpack
import numpy as np
from absl import logging

from xlmr_flax.atomic import write_file
from xlmr_flax.data import features as F
from xlmr_flax.formats import get_format
from xlmr_flax.tasks.base import Task

FEATURE_VERSION = 2  # bump when featurisation changes
CACHE_FORMAT = "xlmr_flax.features/1"  # the file format (not the features' content)
_ARRAY = 1  # msgpack extension type: a NumPy array of numbers
_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float: never objects or strings


class CacheFormatError(ValueError):
    """A cache file that does not decode to features."""


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"feature arrays must hold numbers, not {value.dtype}")
        header = msgpack.packb([value.dtype.str, list(value.shape)])
        return msgpack.ExtType(_ARRAY, header + np.ascontiguousarray(value).tobytes())
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the feature cache")


def _decode(code: int, data: bytes) -> np.ndarray:
    if code != _ARRAY:
        raise CacheFormatError(f"unknown extension type {code}")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    dtype_name, shape = next(unpacker)
    dtype = np.dtype(dtype_name)
    if dtype.kind not in _NUMERIC_KINDS:
        raise CacheFormatError(f"array of {dtype}: only numbers are stored")
    return np.frombuffer(data[unpacker.tell() :], dtype=dtype).reshape(shape).copy()


def dump_features(features: list[dict]) -> bytes:
    return msgpack.packb({"format": CACHE_FORMAT, "features": features}, default=_encode)


def load_features(data: bytes) -> list[dict]:
    """Features from `dump_features`' bytes; CacheFormatError for anything else."""
    try:
        stored = msgpack.unpackb(data, ext_hook=_decode, raw=False)
    except CacheFormatError:
        raise
    except Exception as err:  # msgpack raises several types on bad bytes
        raise CacheFormatError(f"not a feature cache ({type(err).__name__}: {err})") from None
    if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
        raise CacheFormatError(f"not a feature cache of format {CACHE_FORMAT}")
    features = stored.get("features")
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise CacheFormatError("its features are not a list of records")
    return features


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's definition; its truncation and padding settings change
    with every call and are left out."""
    definition = json.loads(tokenizer.backend_tokenizer.to_str())
    definition.pop("truncation", None)
    definition.pop("padding", None)
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


def files_fingerprint(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def featurize(
    task: Task,
    split: str,
    lang: str,
    raw_dir: str,
    tokenizer,
    max_length: int,
    examples: list[dict] | None = None,
    **kw,
):
    """Features of one file (`examples`: its examples, if already read), as the task's
    format builds them."""
    if examples is None:
        examples = list(task.data_task(split).read(raw_dir, split, lang))
    fmt = get_format(task.format)
    return fmt.featurize(task, split, examples, raw_dir, tokenizer, max_length, **kw)


def cached_features(
    task: Task,
    split: str,
    lang: str,
    raw_dir: str,
    tokenizer,
    max_length: int,
    cache_dir: str,
    **kw: Any,
) -> list[F.Feature]:
    key = json.dumps(
        [
            FEATURE_VERSION,
            task.name,
            split,
            lang,
            max_length,
            sorted(kw.items()),
            tokenizer_fingerprint(tokenizer),
            files_fingerprint(task.data_task(split).files(raw_dir, split, lang)),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, task.name, f"{split}-{lang}-{max_length}-{digest}.msgpack")
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
        try:
            return load_features(data)
        except CacheFormatError as err:
            logging.warning("feature cache %s is corrupt (%s); building it again", path, err)
    result = featurize(task, split, lang, raw_dir, tokenizer, max_length, **kw)
    write_file(path, dump_features(result))
    return result
