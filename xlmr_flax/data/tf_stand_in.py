"""The little of TensorFlow that some TFDS builders touch, for an install without it.

TFDS's archive extractor and its wikiann, xtreme_pos, tatoeba and super_glue builders
call TensorFlow only to open, list and glob files (`tf.io.gfile`), to decode a name
(`tf.compat.as_text`) or to name a dtype (`tf.int32`); everything else they do is plain
Python. Without TensorFlow their lazy `tf` raises on first use, so no archive can be
extracted. `tensorflow_stand_in(*modules)` gives those modules these few names for the
duration of a fetch, so TFDS's own code runs unchanged. Anything else a builder
asks of it raises NeedsTensorFlow, one line naming what it used: never a silent
substitute.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import types
from collections.abc import Iterator

import numpy as np
from etils import epath


def _as_text(value, encoding: str = "utf-8") -> str:
    return value.decode(encoding) if isinstance(value, bytes) else str(value)


def _glob(pattern: str) -> list[str]:
    return glob.glob(os.fspath(pattern))


GFILE = types.SimpleNamespace(
    GFile=lambda path, mode="r": epath.Path(path).open(mode),
    exists=lambda path: epath.Path(path).exists(),
    glob=_glob,
    listdir=lambda path: [p.name for p in epath.Path(path).iterdir()],
)


class NeedsTensorFlow(AttributeError):
    """A TFDS builder asked for more of TensorFlow than the stand-in has."""


class _StandIn(types.SimpleNamespace):
    def __getattr__(self, name: str):
        raise NeedsTensorFlow(
            f"this TFDS builder uses tf.{name}, which needs TensorFlow: pip install tensorflow"
        )


TF = _StandIn(
    int32=np.int32,
    int64=np.int64,
    io=types.SimpleNamespace(gfile=GFILE),
    compat=types.SimpleNamespace(as_text=_as_text),
)


def tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


@contextlib.contextmanager
def tensorflow_stand_in(*modules: types.ModuleType) -> Iterator[None]:
    """Within the block each module's `tf` is the stand-in, unless TensorFlow is installed."""
    if tensorflow_installed():
        yield
        return
    saved = {m: m.tf for m in modules if hasattr(m, "tf")}
    for module in saved:
        module.tf = TF
    try:
        yield
    finally:
        for module, tf in saved.items():
            module.tf = tf
