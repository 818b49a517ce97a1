"""LAReQA's XQuAD-R files (`lareqa/xquad-r/{lang}.json`, as the google-research-datasets
release has them and XTREME's download script leaves them unchanged).

SQuAD JSON whose paragraphs add `sentence_breaks` (`[start, end]` character spans of the
context's sentences). As XTREME-R's `utils_lareqa.py`, a candidate is the sentence
`context[start:end]` of a break together with its paragraph's context, and a question's
answer is the sentence whose span holds its answer start (questions whose answer starts
in no sentence are left out, with a warning, as the reference does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from absl import logging

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.errors import DataError


def read_questions(path: str) -> Iterator[dict]:
    """`id, question, answer_sentence`: the index of the answer's sentence in
    `read_candidates(path)` (the file's candidate pool)."""
    answer_sentence, skipped = {}, []
    for paragraph, first in _paragraphs(path):
        breaks = paragraph["sentence_breaks"]
        for qa in paragraph["qas"]:
            start = qa["answers"][0]["answer_start"] if qa.get("answers") else -1
            hits = [first + i for i, (s, e) in enumerate(breaks) if s <= start < e]
            if hits:
                answer_sentence[qa["id"]] = hits[0]
            else:
                skipped.append(qa["id"])
    if skipped:
        logging.warning(
            "%s: %d question(s) whose answer starts in no sentence left out, e.g. %r",
            path,
            len(skipped),
            skipped[0],
        )
    for example in read_squad_json(path):
        if example["id"] in answer_sentence:
            yield dict(
                id=example["id"],
                question=example["question"],
                answer_sentence=answer_sentence[example["id"]],
            )


def read_candidates(path: str) -> list[dict]:
    """Every sentence of every paragraph, in order, with its paragraph's context: the
    pool answers are retrieved from (`sentence`, `context`)."""
    return [
        dict(sentence=paragraph["context"][start:end], context=paragraph["context"])
        for paragraph, _ in _paragraphs(path)
        for start, end in paragraph["sentence_breaks"]
    ]


def _paragraphs(path: str) -> Iterator[tuple[dict, int]]:
    """(paragraph, index of its first sentence in the pool), validating the breaks."""
    list(read_squad_json(path))  # validates the SQuAD part with clear errors
    with open(path, encoding="utf-8-sig") as f:
        data = json.load(f)
    first = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            breaks, context = paragraph.get("sentence_breaks"), paragraph["context"]
            valid = isinstance(breaks, list) and all(
                isinstance(b, list)
                and len(b) == 2
                and all(isinstance(x, int) for x in b)
                and 0 <= b[0] < b[1] <= len(context)
                for b in breaks
            )
            if not valid or not breaks:
                raise DataError(
                    f"{path}: a paragraph of {article.get('title')!r} lacks valid "
                    "'sentence_breaks' ([start, end] spans of its context)"
                )
            yield paragraph, first
            first += len(breaks)
