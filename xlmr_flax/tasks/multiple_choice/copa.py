"""COPA, English (XCOPA's second training stage)."""

from xlmr_flax.data.readers import read_copa_jsonl
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="copa",
        format="multiple_choice",
        source="COPA train/val in XCOPA's JSON lines form",
        metric="accuracy",
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"copa/{'val' if split == 'dev' else split}.jsonl"],
                reader=read_copa_jsonl,
            ),
        ),
    )
)
