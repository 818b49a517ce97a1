"""SQuAD-format QA files as the releases ship them and as XTREME's download script leaves
them (XQuAD, MLQA, TyDiQA-GoldP, SQuAD v1.1).

XTREME's `utils_preprocess.py` rewrites the test files of XQuAD and MLQA and TyDiQA-GoldP's
dev files (XTREME's test set) with every answer replaced by `{"answer_start": 0, "text":
""}`; those files are read as prediction-only (`answers` None). It also splits TyDiQA's
training file by language, cutting each id to its last `-` field (`english-…-1` → `1`),
so ids repeat; `read_truncated_ids` keeps every example and makes the ids unique.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.errors import DataError

Example = dict

# TyDiQA-GoldP: the language names of its ids and file names, by XTREME's ISO code.
TYDIQA_LANGUAGE_NAMES = {
    "ar": "arabic",
    "bn": "bengali",
    "en": "english",
    "fi": "finnish",
    "id": "indonesian",
    "ko": "korean",
    "ru": "russian",
    "sw": "swahili",
    "te": "telugu",
}
BLANK_ANSWER = {"text": "", "start": 0}


def read_qa(path: str) -> Iterator[Example]:
    """A SQuAD-format file whose answers are either all real (gold) or all blanked by
    XTREME (every question's answers exactly `[{"answer_start": 0, "text": ""}]`): then
    every example's `answers` is None. A file mixing the two is an error."""
    examples = list(read_squad_json(path))
    blanked = [e["answers"] == [BLANK_ANSWER] for e in examples]
    if any(blanked) and not all(blanked):
        first = examples[blanked.index(True)]["id"]
        raise DataError(
            f"{path}: question {first!r} has a blanked answer but others have real ones; "
            "expected a file with gold for every question or for none"
        )
    for example, blank in zip(examples, blanked, strict=True):
        yield {**example, "answers": None} if blank else example


def read_truncated_ids(path: str) -> Iterator[Example]:
    """XTREME's per-language TyDiQA training file: ids repeat once cut to their last
    `-` field. The first occurrence keeps its id; the n-th (n ≥ 2) becomes `id~n`
    (still unique if that is taken), so no example is lost and ids stay deterministic."""
    examples = list(read_squad_json(path, unique_ids=False))
    taken = {e["id"] for e in examples}
    seen: collections.Counter = collections.Counter()
    for example in examples:
        seen[example["id"]] += 1
        if seen[example["id"]] > 1:
            n, new = seen[example["id"]], ""
            while not new or new in taken:
                new = f"{example['id']}~{n}"
                n += 1
            taken.add(new)
            example = {**example, "id": new}
        yield example


def read_tydiqa_original(lang: str):
    """A reader of TyDiQA-GoldP's own multilingual training file that keeps the
    questions of `lang` (their ids start with its language name) and their full ids."""
    prefix = f"{TYDIQA_LANGUAGE_NAMES[lang]}-"

    def read(path: str) -> Iterator[Example]:
        found = False
        for example in read_squad_json(path):
            if example["id"].startswith(prefix):
                found = True
                yield example
        if not found:
            raise DataError(f"{path}: no question id starts with {prefix!r} ({lang})")

    return read
