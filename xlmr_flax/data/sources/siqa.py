"""Social IQa in the `socialIQa_v1.4` release XTREME's download script unpacks:
`socialIQa_v1.4_{trn,dev,tst}.jsonl`, each record with its answer as a letter in
`correct` (A, B or C). (The AI2 zip's `{train,dev}.jsonl` + `-labels.lst` is
`readers.read_siqa`.)"""

from __future__ import annotations

from collections.abc import Iterator

from xlmr_flax.data.readers import Example, _check_label, read_jsonl

LETTERS = ("A", "B", "C")


def read_siqa_v14(path: str) -> Iterator[Example]:
    keys = ["context", "question", "answerA", "answerB", "answerC", "correct"]
    for number, r in read_jsonl(path, keys):
        _check_label(path, number, r["correct"], LETTERS)
        yield dict(
            id=f"{number}",
            context=r["context"],
            question=r["question"],
            choices=[r["answer" + letter] for letter in LETTERS],
            label=LETTERS.index(r["correct"]),
        )
