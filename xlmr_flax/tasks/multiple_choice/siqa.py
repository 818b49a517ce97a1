"""Social IQa (XCOPA's first training stage)."""

from xlmr_flax.data.readers import read_siqa
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="siqa",
        format="multiple_choice",
        source="Social IQa {train,dev}.jsonl + {train,dev}-labels.lst",
        metric="accuracy",
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"siqa/{split}.jsonl", f"siqa/{split}-labels.lst"],
                reader=read_siqa,
            ),
        ),
    )
)
