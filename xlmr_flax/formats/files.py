"""Reading submission and label files: the checks every format's files share.

Every reader raises `DataError("FILE[:LINE]: what is wrong")`, so a line number in an
error points at the example. JSON files are written one id per line for the same
reason (`json_lines_object`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

from xlmr_flax.errors import DataError


def text_lines(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({err.reason})") from None
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[-1]:  # trailing blank lines end the file, nothing more
        lines.pop()
    return lines


def label_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of a one-item-per-line file; no blank lines inside."""
    for number, text in enumerate(text_lines(path), 1):
        if not text:
            raise DataError(f"{path}:{number}: empty line; expected one label per line")
        if "\t" in text:
            raise DataError(f"{path}:{number}: expected one value per line, found {text!r}")
        yield number, text


def nonempty_label_lines(path: str) -> list[tuple[int, str]]:
    rows = list(label_lines(path))
    if not rows:
        raise DataError(f"{path}: no labels (empty file)")
    return rows


def check_line_count(path: str, found: int, expected: int) -> None:
    if found != expected:
        raise DataError(
            f"{path}: expected {expected} lines (one per example of the labels), found {found}"
        )


def integer(path: str, number: int, text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise DataError(
            f"{path}:{number}: expected {what} (a non-negative integer), found {text!r}"
        )
    return int(text)


def json_object(path: str) -> dict:
    lines = text_lines(path)  # a missing file or bad UTF-8 as clear errors
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by id, found {type(data).__name__}")
    return data


def json_lines_object(value: dict) -> str:
    """A JSON object written one id per line: readable, diff-able, and JSON errors
    point at an id."""
    lines = [f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
             for k, v in value.items()]  # fmt: skip
    return "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"


def keyed_predictions(path: str, gold: Any) -> dict:
    """A JSON prediction file's object, checked to hold exactly the ids of `gold`."""
    data = json_object(path)
    missing = [i for i in gold if i not in data]
    if missing:
        raise DataError(
            f"{path}: no prediction for {len(missing)} of the {len(gold)} ids in the labels, "
            f"e.g. {', '.join(map(repr, missing[:3]))}"
        )
    extra = [i for i in data if i not in gold]
    if extra:
        shown = ", ".join(map(repr, extra[:3]))
        raise DataError(f"{path}: {len(extra)} ids are not in the labels, e.g. {shown}")
    return data


def strings(path: str, key: str, value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: id {key!r}: expected a list of {what} (strings), found {value!r}")
    return value
