"""CommonsenseQA (intermediate): five-way questions."""

from xlmr_flax.data.readers import read_commonsenseqa
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="commonsenseqa",
        train_examples=9_741,
        format="multiple_choice",
        source="CommonsenseQA {train,dev}_rand_split.jsonl",
        metric="accuracy",
        hooks=ChoiceHooks(choices=5),
        layouts=(
            Layout(
                "original",  # the release's files; the sample data too
                paths=lambda split, lang: [f"commonsenseqa/{split}_rand_split.jsonl"],
                reader=read_commonsenseqa,
            ),
        ),
    )
)
