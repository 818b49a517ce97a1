"""Adversarial NLI, rounds 1-3 together (part of ANLI+)."""

import itertools

from xlmr_flax.data.readers import NLI_LABELS, read_anli_jsonl
from xlmr_flax.tasks.base import Layout, Task, register

ROUNDS = ("R1", "R2", "R3")


def read_rounds(*paths):
    """Every round's file in turn; ids carry the round (uids are per round)."""
    return itertools.chain(
        *(
            ({**e, "id": f"{r}-{e['id']}"} for e in read_anli_jsonl(path))
            for r, path in zip(ROUNDS, paths, strict=True)
        )
    )


TASK = register(
    Task(
        name="anli",
        train_examples=162_865,
        format="classification",
        source="ANLI v1.0 anli_v1.0/R{1,2,3}/{train,dev}.jsonl",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=(
            Layout(
                "original",  # anli_v1.0.zip
                paths=lambda split, lang: [f"anli_v1.0/{r}/{split}.jsonl" for r in ROUNDS],
                reader=read_rounds,
            ),
        ),
    )
)
