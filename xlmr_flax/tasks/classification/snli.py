"""SNLI (part of ANLI+), JSON lines release."""

from xlmr_flax.data.readers import NLI_LABELS, read_snli_jsonl
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="snli",
        train_examples=550_152,
        format="classification",
        source="SNLI 1.0 snli_1.0_{train,dev}.jsonl",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=(
            Layout(
                "original",  # snli_1.0.zip
                paths=lambda split, lang: [f"snli_1.0/snli_1.0_{split}.jsonl"],
                reader=read_snli_jsonl,
            ),
            Layout(
                "project",
                paths=lambda split, lang: [f"snli/snli_1.0_{split}.jsonl"],
                reader=read_snli_jsonl,
            ),
        ),
    )
)
