"""MLQA (target, same-language context and question); trained on SQuAD v1.1."""

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="mlqa",
        format="span_extraction",
        source="MLQA v1 {dev,test}-context-{lang}-question-{lang}.json",
        metric="mlqa",
        splits=("dev", "test"),
        train_langs=(),
        eval_langs=tuple("ar de en es hi vi zh".split()),
        train_on=("squad_v1",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [
                    f"mlqa/MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json"
                ],
                reader=read_squad_json,
            ),
        ),
    )
)
