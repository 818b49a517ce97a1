"""XCOPA (target): causal commonsense; trained on English SIQA, then COPA."""

from xlmr_flax.data.readers import read_copa_jsonl
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="xcopa",
        format="multiple_choice",
        source="XCOPA val/test.{lang}.jsonl",
        metric="accuracy",
        splits=("dev", "test"),
        train_langs=(),
        eval_langs=tuple("et ht id it qu sw ta th tr vi zh".split()),
        train_on=("siqa", "copa"),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [
                    f"xcopa/{'val' if split == 'dev' else split}.{lang}.jsonl"
                ],
                reader=read_copa_jsonl,
            ),
        ),
    )
)
