"""SST-2 sentiment (intermediate), GLUE's TSV release."""

from xlmr_flax.data.readers import read_glue_tsv
from xlmr_flax.tasks.base import Layout, Task, register

LABELS = ("0", "1")  # negative, positive


def read(path):
    return read_glue_tsv(path, "sentence", None, "label", LABELS)


TASK = register(
    Task(
        name="sst2",
        train_examples=67_349,
        format="classification",
        source="GLUE SST-2 train.tsv / dev.tsv",
        metric="accuracy",
        labels=LABELS,
        layouts=(
            Layout("original", paths=lambda split, lang: [f"SST-2/{split}.tsv"], reader=read),
            Layout("project", paths=lambda split, lang: [f"sst2/{split}.tsv"], reader=read),
        ),
    )
)
