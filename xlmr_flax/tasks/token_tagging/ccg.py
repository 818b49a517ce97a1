"""CCG supertagging (intermediate), from CCGbank as jiant's scripts/ccg/ccg_proc.py
writes it. The supertag set is open: it is taken from the training split, and dev
tags never seen in training get no loss."""

from xlmr_flax.data.sources.ccg import read_ccg_jiant
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="ccg",
        train_examples=39_604,  # CCGbank sections 02-21, sentences
        format="token_tagging",
        source="CCGbank supertags in jiant's ccg.{train,dev}: one sentence per line",
        metric="accuracy",
        layouts=(
            Layout(
                "jiant",
                paths=lambda split, lang: [f"ccg/ccg.{split}"],
                reader=read_ccg_jiant,
            ),
        ),
    )
)
