"""The main command's config: `--config configs/FILE.py[:ARG]` and `--config.KEY=VALUE`
overrides, each mistake answered in one line naming the key and the nearest valid one."""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Sequence

import ml_collections

from train.study.plan.plan import ConfigError, load_config_file
from xlmr_flax.config import NAMED_SIZES

PREFIX = "--config."


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(argv without them, [(dotted key, value)]) of `--config.KEY=VALUE` and
    `--config.KEY VALUE` arguments, in order; absl parses the rest."""
    rest, overrides, args = [], [], list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith(PREFIX):
            rest.append(arg)
            continue
        key, equals, value = arg[len(PREFIX) :].partition("=")
        if not equals:
            if not args:
                raise ConfigError(f"{arg}: no value; write {arg}=VALUE")
            value = args.pop(0)
        overrides.append((key, value))
    return rest, overrides


def load_config(spec: str, overrides: Sequence[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
    """`FILE.py[:ARG]`'s config with the overrides applied. A config argument the file
    rejects (ValueError) and a bad override raise ConfigError with one line."""
    path, _, arg = spec.partition(":")
    if not path.endswith(".py") or not os.path.isfile(path):
        raise ConfigError(f"--config {spec}: no config file {path!r} (expected configs/FILE.py)")
    try:
        config = load_config_file(path).get_config(arg or None)
    except ValueError as err:
        raise ConfigError(f"--config {spec}: {err}") from None
    for key, value in overrides:
        override(config, key, value)
    follow_model(config, {key for key, _ in overrides})
    return config


def follow_model(config: ml_collections.ConfigDict, overridden: set[str]) -> None:
    """A `--config.model` override takes its size's eval layer from the model table
    (xlmr_flax/config.py) unless `--config.eval.layer` is given too; the weights and
    tokenizer stay the config's (`init_checkpoint`, `tokenizer`)."""
    if "model" not in overridden:
        return
    sizes = list(NAMED_SIZES)
    if config.model not in sizes:
        raise ConfigError(
            f"--config.model={config.model}: unknown size; {nearest(config.model, sizes)}"
        )
    if "eval.layer" not in overridden and "layer" in (config.get("eval") or {}):
        config.eval.layer = NAMED_SIZES[config.model].eval_layer


def nearest(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"


def override(config: ml_collections.ConfigDict, key: str, text: str) -> None:
    """Sets `config.<key>` (dotted) to `text` read as the type of its current value."""
    *parents, name = key.split(".")
    node, where = config, "--config"
    for part in [*parents, name]:
        if not isinstance(node, ml_collections.ConfigDict):
            kind = type(node).__name__
            raise ConfigError(f"{where}: a value of type {kind}, it has no key {part!r}")
        if part not in node:
            known = sorted(node.keys())
            raise ConfigError(f"{where}.{part}: unknown key {part!r}; {nearest(part, known)}")
        where = f"{where}.{part}"
        parent, node = node, node[part]
    parent[name] = typed(where, node, text)


def typed(where: str, current: object, text: str) -> object:
    """`text` as a value of `current`'s type: a string stays text; yes/no for booleans;
    numbers and tuples as Python literals (`(1, 2)`, `1,2`)."""
    if isinstance(current, str):
        return text
    if isinstance(current, bool):
        if text.lower() not in ("yes", "true", "1", "no", "false", "0"):
            raise ConfigError(f"{where}={text}: expected yes or no")
        return text.lower() in ("yes", "true", "1")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if isinstance(current, tuple):  # names: `xnli,xquad`
            return tuple(part.strip() for part in text.split(","))
        if current is None:
            return text
        raise ConfigError(f"{where}={text}: expected a {type(current).__name__} value") from None
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if current is not None and type(value) is not type(current):
        got = type(value).__name__
        kind = type(current).__name__
        raise ConfigError(f"{where}={text}: expected a {kind} value, got a {got} value")
    return value
