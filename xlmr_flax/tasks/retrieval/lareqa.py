"""LAReQA (target): retrieve the answer sentence in any language; a dual encoder
trained on SQuAD v1.1 question / answer-sentence pairs."""

from xlmr_flax.data.readers import read_lareqa
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="lareqa",
        format="retrieval",
        source="XQuAD-R {lang}.json",
        metric="map@20",
        splits=("test",),
        train_langs=(),
        eval_langs=tuple("ar de el en es hi ru th tr vi zh".split()),
        train_on=("squad_v1",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"lareqa/xquad-r/{lang}.json"],
                reader=read_lareqa,
            ),
        ),
    )
)
