"""MultiNLI (intermediate), GLUE's TSV release."""

from xlmr_flax.data.readers import NLI_LABELS, read_glue_tsv
from xlmr_flax.tasks.base import Layout, Task, register

FILE = {"train": "train", "dev": "dev_matched"}


def read(path):
    return read_glue_tsv(path, "sentence1", "sentence2", "gold_label", NLI_LABELS)


TASK = register(
    Task(
        name="mnli",
        train_examples=392_702,
        format="classification",
        source="GLUE MNLI train.tsv / dev_matched.tsv",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=(
            Layout("original", paths=lambda split, lang: [f"MNLI/{FILE[split]}.tsv"], reader=read),
            Layout("project", paths=lambda split, lang: [f"mnli/{FILE[split]}.tsv"], reader=read),
        ),
    )
)
