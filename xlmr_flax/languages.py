"""Resource facts of the XTREME-R languages: Joshi class, CC-100 size, resource class.

    from xlmr_flax.languages import language, resource_class
    language("sw")        # Language(code='sw', joshi_class=2, cc100_gib=1.6, resource_class='low')
    resource_class("de")  # 'high'

The facts live in `assets/languages.tsv`: the Joshi et al. (2020) class (0-5, 5 =
most resourced) and the size of the language's CC-100 data in XLM-R's pretraining
(Conneau et al. 2020, Table 6; None for languages XLM-R was not pretrained on).
The resource class groups the Joshi classes: low (0-2), mid (3), high (4-5).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

RESOURCE_CLASSES = ("low", "mid", "high")
# The classes the report averages over: the three, and "all" (every language but the
# source language).
CLASSES = (*RESOURCE_CLASSES, "all")


class UnknownLanguageError(KeyError):
    """A language code that `assets/languages.tsv` has no facts for."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Language:
    code: str
    joshi_class: int
    cc100_gib: float | None  # None: not in XLM-R's pretraining data
    resource_class: str


def class_of_joshi(joshi_class: int) -> str:
    """'low' for Joshi classes 0-2, 'mid' for 3, 'high' for 4-5."""
    if not 0 <= joshi_class <= 5:
        raise ValueError(f"Joshi classes are 0-5, got {joshi_class}")
    return "low" if joshi_class <= 2 else "mid" if joshi_class == 3 else "high"


def parse_table(text: str, source: str = "languages.tsv") -> dict[str, Language]:
    """The languages of a table with the columns code, joshi_class, cc100_gib ('#' lines
    are comments); errors name `source` and the line."""
    table: dict[str, Language] = {}
    header_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        if not header_seen:
            if fields != ["code", "joshi_class", "cc100_gib"]:
                raise ValueError(
                    f"{source}:{number}: expected the header code, joshi_class, cc100_gib"
                )
            header_seen = True
            continue
        if len(fields) != 3:
            raise ValueError(
                f"{source}:{number}: expected 3 tab-separated fields, got {len(fields)}"
            )
        code, joshi, size = fields
        try:
            joshi_class = int(joshi)
            cc100 = None if size == "-" else float(size)
            table[code] = Language(code, joshi_class, cc100, class_of_joshi(joshi_class))
        except ValueError as error:
            raise ValueError(f"{source}:{number}: {error}") from None
    return table


@functools.cache
def languages() -> dict[str, Language]:
    """Every language of the bundled table, by code."""
    text = (resources.files("xlmr_flax") / "assets" / "languages.tsv").read_text(encoding="utf-8")
    return parse_table(text, "xlmr_flax/assets/languages.tsv")


def language(code: str) -> Language:
    """The facts of one language; `UnknownLanguageError` for a code not in the table."""
    table = languages()
    if code not in table:
        raise UnknownLanguageError(
            f"unknown language code {code!r}: xlmr_flax/assets/languages.tsv has facts for "
            f"{', '.join(sorted(table))}"
        )
    return table[code]


def resource_class(code: str) -> str:
    """'low', 'mid' or 'high' (see `class_of_joshi`)."""
    return language(code).resource_class


def cc100_gib(code: str) -> float | None:
    """The language's CC-100 size in GiB, None where XLM-R was not pretrained on it."""
    return language(code).cc100_gib
