"""Quora Question Pairs (intermediate), GLUE's TSV release."""

from xlmr_flax.data.readers import read_glue_tsv
from xlmr_flax.tasks.base import Layout, Task, register

LABELS = ("0", "1")  # not duplicate, duplicate


def read(path):
    return read_glue_tsv(path, "question1", "question2", "is_duplicate", LABELS)


TASK = register(
    Task(
        name="qqp",
        train_examples=363_846,
        format="classification",
        source="GLUE QQP train.tsv / dev.tsv",
        metric="accuracy",
        labels=LABELS,
        layouts=(
            Layout("original", paths=lambda split, lang: [f"QQP/{split}.tsv"], reader=read),
            Layout("project", paths=lambda split, lang: [f"qqp/{split}.tsv"], reader=read),
        ),
    )
)
