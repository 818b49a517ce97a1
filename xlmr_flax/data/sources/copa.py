"""COPA and XCOPA as XTREME's download script leaves them.

XTREME's `utils_preprocess.py --task xcopa` rewrites every file of `xcopa/` whose
name starts with `test` with each label set to 0 ("a label is still required by
the dataset format"), which also adds a label of 0 to COPA's unlabelled test file
(`test-en.jsonl`). Such a file has no gold: its labels are read as None.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from xlmr_flax.data.readers import Example, read_copa_jsonl
from xlmr_flax.errors import DataError


def zeroed_by_xtreme(path: str) -> bool:
    """XTREME zeroes the labels of the files whose name starts with `test`."""
    return os.path.basename(path).startswith("test")


def read_xtreme_copa(path: str) -> Iterator[Example]:
    """`xcopa/{train,val,test}-{lang}.jsonl`: gold labels, except in the `test-*`
    files where every label being 0 marks them as zeroed (no gold)."""
    examples = list(read_copa_jsonl(path))
    if zeroed_by_xtreme(path) and all(e["label"] == 0 for e in examples):
        examples = [{**e, "label": None} for e in examples]
    elif zeroed_by_xtreme(path) and any(e["label"] is None for e in examples):
        raise DataError(f"{path}: expected XTREME's zeroed labels or gold labels")
    yield from examples
