"""Cosmos QA (intermediate): reading comprehension with commonsense."""

from xlmr_flax.data.readers import read_cosmosqa
from xlmr_flax.data.sources.cosmosqa import read_cosmosqa_csv
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

FILE = {"train": "train", "dev": "valid"}

TASK = register(
    Task(
        name="cosmosqa",
        train_examples=25_262,
        format="multiple_choice",
        source="Cosmos QA (wilburOne/cosmosqa data/{train,valid}.csv)",
        metric="accuracy",
        hooks=ChoiceHooks(choices=4),
        layouts=(
            Layout(
                "original",
                paths=lambda split, lang: [f"cosmosqa/{FILE[split]}.csv"],
                reader=read_cosmosqa_csv,
            ),
            Layout(
                "project",  # the same columns as JSON lines (the sample data)
                paths=lambda split, lang: [f"cosmosqa/{FILE[split]}.jsonl"],
                reader=read_cosmosqa,
            ),
        ),
    )
)
