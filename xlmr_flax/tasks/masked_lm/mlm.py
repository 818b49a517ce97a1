"""Multilingual masked-LM (intermediate variant): continued pretraining on text."""

from xlmr_flax.data.readers import read_text
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="mlm",
        format="masked_lm",
        source="plain text, one sentence or paragraph per line",
        metric="accuracy",
        splits=("train",),
        train_langs=tuple("ar de en es hi ja ko ru sw zh".split()),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"mlm/{lang}.txt"],
                reader=read_text,
            ),
        ),
    )
)
