"""Cosmos QA (intermediate): reading comprehension with commonsense."""

from xlmr_flax.data.readers import read_cosmosqa
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="cosmosqa",
        format="multiple_choice",
        source="Cosmos QA {train,valid}.jsonl",
        metric="accuracy",
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [
                    f"cosmosqa/{'valid' if split == 'dev' else split}.jsonl"
                ],
                reader=read_cosmosqa,
            ),
        ),
    )
)
