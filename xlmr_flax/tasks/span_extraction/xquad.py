"""XQuAD (target): SQuAD v1.1 dev translated; trained on SQuAD v1.1."""

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="xquad",
        format="span_extraction",
        source="XQuAD xquad.{lang}.json",
        metric="squad",
        splits=("test",),
        train_langs=(),
        eval_langs=tuple("ar de el en es hi ru th tr vi zh ro".split()),
        train_on=("squad_v1",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"xquad/xquad.{lang}.json"],
                reader=read_squad_json,
            ),
        ),
    )
)
