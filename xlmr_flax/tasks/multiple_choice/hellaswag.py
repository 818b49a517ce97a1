"""HellaSwag (intermediate): pick the plausible continuation."""

from xlmr_flax.data.readers import read_hellaswag
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="hellaswag",
        train_examples=39_905,
        format="multiple_choice",
        source="HellaSwag hellaswag_{train,val}.jsonl",
        metric="accuracy",
        hooks=ChoiceHooks(choices=4),
        layouts=(
            Layout(
                "original",  # rowanz/hellaswag data/; `fetch` writes the same
                paths=lambda split, lang: [
                    f"hellaswag/hellaswag_{'val' if split == 'dev' else split}.jsonl"
                ],
                reader=read_hellaswag,
            ),
        ),
    )
)
