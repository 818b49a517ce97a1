"""XNLI: the TSV files XTREME's download script writes, and the XNLI 1.0 release.

XTREME's `utils_preprocess.py` writes `xnli/{split}-{lang}.tsv` with Python's
`csv.writer` (tab delimiter, minimal quoting): a sentence holding a double quote is
written quoted with its quotes doubled (`"She said ""hi"" twice"`), so these files are read
back with the same quoting. Its test files have no label column.

The release files are read as they ship: XNLI 1.0's `xnli.{dev,test}.tsv` (a header
row, one file for all fifteen languages, no quoting) and XNLI-MT 1.0's
`multinli/multinli.train.en.tsv` (MultiNLI's English training data, the file XTREME
copies to `train-en.tsv`). XTREME's per-language files keep the release's order, so
example n of `test-de.tsv` is the n-th German row of `xnli.test.tsv`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator

from xlmr_flax.data.readers import NLI_LABELS, Example, _check_label, _lines, _require_examples
from xlmr_flax.errors import DataError

# The releases' spelling of the third class (XTREME renames it as well).
_ALIASES = {"contradictory": "contradiction"}


def _label(path: str, number: int, value: str) -> str:
    label = _ALIASES.get(value.strip(), value.strip())
    _check_label(path, number, label, NLI_LABELS)
    return label


def read_xtreme_tsv(path: str) -> Iterator[Example]:
    """`premise \\t hypothesis [\\t label]` rows as `csv.writer` wrote them, no header.

    A file has a label on every row (gold) or on none (XTREME's test copy: every
    `label` is None); a mix is an error."""
    count, labelled = 0, None
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line], delimiter="\t", strict=True))
        except csv.Error as err:
            raise DataError(f"{path}:{number}: bad quoting ({err})") from None
        if len(fields) not in (2, 3):
            raise DataError(
                f"{path}:{number}: expected premise, hypothesis and (except in XTREME's "
                f"test files) a label, tab-separated; found {len(fields)} column(s)"
            )
        if labelled is None:
            labelled = len(fields) == 3
        elif labelled != (len(fields) == 3):
            raise DataError(
                f"{path}:{number}: {len(fields)} columns, but the file's first row has "
                f"{3 if labelled else 2} (a file is labelled throughout or not at all)"
            )
        label = _label(path, number, fields[2]) if labelled else None
        count += 1
        yield dict(
            id=f"{os.path.basename(path)}-{number}", text_a=fields[0], text_b=fields[1], label=label
        )
    _require_examples(path, count)


def _header_rows(path: str, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line number, the named columns' values) of a tab-separated file with a header."""
    rows = iter(_lines(path))
    try:
        _, header_line = next(rows)
    except StopIteration:
        raise DataError(f"{path}: no examples (empty file?)") from None
    header = [name.strip() for name in header_line.split("\t")]
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}:1: header lacks column(s) {missing}; found {header}")
    index = [header.index(c) for c in columns]
    count = 0
    for number, line in rows:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{path}:{number}: expected {len(header)} columns, found {len(fields)}")
        count += 1
        yield number, [fields[i].strip() for i in index]
    _require_examples(path, count)


def read_xnli_release(path: str) -> Iterator[Example]:
    """XNLI 1.0's `xnli.{dev,test}.tsv`: every language in one file, each example with
    its `lang` (the `language` column) and gold `label` (`gold_label`)."""
    columns = ("language", "gold_label", "sentence1", "sentence2")
    for number, (lang, label, premise, hypothesis) in _header_rows(path, columns):
        yield dict(
            id=f"{os.path.basename(path)}-{number}",
            lang=lang,
            text_a=premise,
            text_b=hypothesis,
            label=_label(path, number, label),
        )


def read_multinli_train(path: str) -> Iterator[Example]:
    """XNLI-MT 1.0's `multinli.train.en.tsv`: header `premise hypo label`."""
    for number, (premise, hypothesis, label) in _header_rows(path, ("premise", "hypo", "label")):
        yield dict(
            id=f"{os.path.basename(path)}-{number}",
            text_a=premise,
            text_b=hypothesis,
            label=_label(path, number, label),
        )
