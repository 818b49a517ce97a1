"""SQuAD-format QA files as the releases ship them and as XTREME's download script leaves
them (XQuAD, MLQA, TyDiQA-GoldP, SQuAD v1.1).

XTREME's `utils_preprocess.py` rewrites the test files of XQuAD and MLQA and TyDiQA-GoldP's
dev files (XTREME's test set) with every answer replaced by `{"answer_start": 0, "text":
""}`; those files are read as prediction-only (`answers` None). It also splits TyDiQA's
training file by language, cutting each id to its last `-` field (`english-…-1` → `1`),
so ids repeat; `read_qa_cut_ids` keeps every example and makes the ids unique.
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


def read_qa(path: str, cut_ids: bool = False) -> Iterator[Example]:
    """A SQuAD-format file whose answers are either all real (gold) or all blanked by
    XTREME (every question's answers exactly `[{"answer_start": 0, "text": ""}]`): then
    every example's `answers` is None. A file mixing the two is an error. `cut_ids`:
    the ids may repeat (XTREME's TyDiQA training files) and are made unique."""
    examples = list(read_squad_json(path, unique_ids=not cut_ids))
    blanked = [e["answers"] == [BLANK_ANSWER] for e in examples]
    if any(blanked) and not all(blanked):
        first = examples[blanked.index(True)]["id"]
        raise DataError(
            f"{path}: question {first!r} has a blanked answer but others have real ones; "
            "expected a file with gold for every question or for none"
        )
    if cut_ids:
        examples = _unique_ids(examples)
    for example, blank in zip(examples, blanked, strict=True):
        yield {**example, "answers": None} if blank else example


def read_qa_cut_ids(path: str) -> Iterator[Example]:
    """XTREME's TyDiQA files: `read_qa` with the training ids cut to their last `-`
    field made unique again (dev ids are unique and stay as they are)."""
    return read_qa(path, cut_ids=True)


def _unique_ids(examples: list[Example]) -> list[Example]:
    """The first occurrence of an id keeps it; the n-th (n ≥ 2) becomes `id~n` (or the
    next free `id~m`), so no example is lost and ids are deterministic."""
    taken = {e["id"] for e in examples}
    seen: collections.Counter = collections.Counter()
    unique = []
    for example in examples:
        seen[example["id"]] += 1
        if seen[example["id"]] > 1:
            n, new = seen[example["id"]], ""
            while not new or new in taken:
                new = f"{example['id']}~{n}"
                n += 1
            taken.add(new)
            example = {**example, "id": new}
        unique.append(example)
    return unique


def read_tydiqa_release(path: str) -> Iterator[Example]:
    """TyDiQA-GoldP's own files, full ids (`{language}-{hash}-{n}`). Its training file
    holds every language; the task trains on English, so only the `english-` questions
    of a file with several languages are kept. A dev file holds one language."""
    examples = list(read_qa(path))
    languages = {e["id"].split("-")[0] for e in examples}
    if len(languages) > 1:
        english = f"{TYDIQA_LANGUAGE_NAMES['en']}-"
        examples = [e for e in examples if e["id"].startswith(english)]
        if not examples:
            raise DataError(f"{path}: no question id starts with {english!r}")
    yield from examples
