"""Cosmos QA's release CSV (`train.csv`, `valid.csv`): a header row naming `id`,
`context`, `question`, `answer0` … `answer3`, `label`; fields quoted as CSV does
(quoted fields may span lines)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from xlmr_flax.data.readers import Example, _check_label, _require_examples, _unique
from xlmr_flax.errors import DataError

COLUMNS = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")


def read_cosmosqa_csv(path: str) -> Iterator[Example]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None:
                raise DataError(f"{path}: no examples (empty file?)")
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise DataError(f"{path}:1: header lacks column(s) {missing}; found {header}")
            index = {c: header.index(c) for c in COLUMNS}
            seen: set = set()
            count = 0
            start = rows.line_num + 1
            for row in rows:
                if not row:
                    start = rows.line_num + 1
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path}:{start}: expected {len(header)} columns, found {len(row)}"
                    )
                label = row[index["label"]]
                _check_label(path, start, label, ("0", "1", "2", "3"))
                _unique(path, start, seen, row[index["id"]])
                count += 1
                yield dict(
                    id=row[index["id"]],
                    context=row[index["context"]],
                    question=row[index["question"]],
                    choices=[row[index[f"answer{i}"]] for i in range(4)],
                    label=int(label),
                )
                start = rows.line_num + 1
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason})") from None
    except csv.Error as err:
        raise DataError(f"{path}: malformed CSV ({err})") from None
    _require_examples(path, count)
