"""Tatoeba: LASER's v1 test pairs, and the copy XTREME's download script makes.

LASER ships `tatoeba.{lang3}-eng.{lang3}` and `tatoeba.{lang3}-eng.eng`; line n of
both is a translation pair. XTREME copies the first to `tatoeba/{lang2}-en.{lang2}`
and writes the English side sorted (each line stripped, in Python's string order,
equal lines in file order) to `tatoeba/{lang2}-en.en`: the alignment, which is the
gold, is gone there.

Both are read into one shape, the English side in XTREME's sorted order (the
candidates XTREME's submission indices count): example n has `source` = line n of
the other language, `target` = candidate n, and `target_index` = the candidate that
translates `source` (None from XTREME's copy, which has no gold).
"""

from __future__ import annotations

from collections.abc import Iterator

from xlmr_flax.data.readers import Example, _lines, _require_examples
from xlmr_flax.errors import DataError


def _sides(source_path: str, english_path: str) -> tuple[list[str], list[str]]:
    sources = [line for _, line in _lines(source_path)]
    english = [line.strip() for _, line in _lines(english_path)]
    if len(sources) != len(english):
        raise DataError(
            f"{source_path}: {len(sources)} lines but {english_path} has {len(english)}"
        )
    _require_examples(source_path, len(sources))
    for path, lines in ((source_path, sources), (english_path, english)):
        empty = next((n for n, line in enumerate(lines, 1) if not line.strip()), None)
        if empty:
            raise DataError(f"{path}:{empty}: empty sentence")
    return sources, english


def sorted_order(english: list[str]) -> list[int]:
    """Original line numbers (0-based) in XTREME's sorted order of the English side."""
    return sorted(range(len(english)), key=lambda i: english[i])


def read_laser_pairs(source_path: str, english_path: str) -> Iterator[Example]:
    """LASER's aligned files: gold `target_index` for every sentence."""
    sources, english = _sides(source_path, english_path)
    order = sorted_order(english)
    position = {original: n for n, original in enumerate(order)}
    for n, source in enumerate(sources):
        yield dict(id=str(n + 1), source=source, target=english[order[n]],
                   target_index=position[n])  # fmt: skip


def read_xtreme_sorted(source_path: str, english_path: str) -> Iterator[Example]:
    """XTREME's copy: the English side is already sorted; no `target_index`."""
    sources, english = _sides(source_path, english_path)
    for n, (source, target) in enumerate(zip(sources, english, strict=True)):
        yield dict(id=str(n + 1), source=source, target=target, target_index=None)
