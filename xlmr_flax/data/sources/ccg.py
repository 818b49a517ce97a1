"""CCG supertags in jiant's files (`ccg.train`, `ccg.dev`, `ccg.test`, written by
jiant's `scripts/ccg/ccg_proc.py` from CCGbank's AUTO files): one sentence per
line, `space-separated tokens <TAB> space-separated supertags`, one tag per token."""

from __future__ import annotations

import os
from collections.abc import Iterator

from xlmr_flax.data.readers import Example, _lines, _require_examples
from xlmr_flax.errors import DataError


def read_ccg_jiant(path: str) -> Iterator[Example]:
    count, blank = 0, None
    for number, line in _lines(path):
        if not line.strip():
            blank = blank or number
            continue
        if blank is not None:  # a blank line between sentences: token-per-line CoNLL
            raise DataError(
                f"{path}:{blank}: blank line; expected one sentence per line "
                "('tokens<TAB>tags', jiant's CCG format)"
            )
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(
                f"{path}:{number}: expected 'tokens<TAB>tags', found {len(fields)} "
                "tab-separated fields"
            )
        tokens, tags = fields[0].split(), fields[1].split()
        if not tokens or len(tokens) != len(tags):
            raise DataError(f"{path}:{number}: {len(tokens)} tokens but {len(tags)} tags")
        count += 1
        yield dict(id=f"{os.path.basename(path)}-{number}", tokens=tokens, tags=tags)
    _require_examples(path, count)
