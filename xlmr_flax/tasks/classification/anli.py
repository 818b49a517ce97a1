"""Adversarial NLI round 1 (part of ANLI+)."""

from xlmr_flax.data.readers import NLI_LABELS, read_anli_jsonl
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="anli",
        format="classification",
        source="ANLI v1.0 R1/{train,dev}.jsonl",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"anli/R1/{split}.jsonl"],
                reader=read_anli_jsonl,
            ),
        ),
    )
)
