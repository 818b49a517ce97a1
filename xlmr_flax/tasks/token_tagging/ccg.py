"""CCG supertagging (intermediate). The supertag set is open: it is taken from the
training split, and dev tags never seen in training get no loss."""

from xlmr_flax.data.readers import read_conll
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="ccg",
        format="token_tagging",
        source="CCGbank supertags, one token and tag per line",
        metric="accuracy",
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"ccg/{split}.tsv"],
                reader=read_conll,
            ),
        ),
    )
)
