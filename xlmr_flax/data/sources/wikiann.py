"""WikiANN (PAN-X) as released with Rahimi et al.'s splits: one `{lang}.tar.gz` per
language holding `train`, `dev` and `test`, extracted into `panx/{lang}/`.

Each line is `{lang}:token \\t tag` with a blank line between sentences. The prefix
names the file's language and is removed once, only there: `en:Re:Zero` is the token
`Re:Zero`. XTREME's `utils_preprocess.py` removes it the same way (up to the first
colon) when it writes `panx/{split}-{lang}.tsv`, whose tokens are therefore read as
they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from xlmr_flax.data.readers import Example, _lines, _require_examples
from xlmr_flax.errors import DataError


def read_wikiann(path: str, allowed_tags: Sequence[str] | None = None) -> Iterator[Example]:
    """One split of one language; the language is the name of the file's folder."""
    prefix = os.path.basename(os.path.dirname(os.path.abspath(path))) + ":"
    tokens: list[str] = []
    tags: list[str] = []
    start_line, count = 1, 0
    for number, line in [*_lines(path), (None, "")]:
        if not line.strip():
            if tokens:
                count += 1
                yield dict(id=f"{prefix[:-1]}-{os.path.basename(path)}-{start_line}",
                           tokens=tokens, tags=tags)  # fmt: skip
            tokens, tags = [], []
            start_line = (number or 0) + 1
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{path}:{number}: expected '{prefix}token<TAB>tag', found {line!r}")
        token, tag = fields[0].strip(), fields[1].strip()
        word = token[len(prefix) :].strip()
        if not token.startswith(prefix) or not word:
            raise DataError(
                f"{path}:{number}: expected a token after the file's language prefix "
                f"{prefix!r} (the folder name), found {token!r}"
            )
        if allowed_tags is not None and tag not in allowed_tags:
            raise DataError(f"{path}:{number}: tag {tag!r} not in the task's tag set")
        tokens.append(word)
        tags.append(tag)
    _require_examples(path, count)
