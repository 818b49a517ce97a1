"""LAReQA (target): retrieve the answer sentence in any language; a dual encoder
trained on SQuAD v1.1 question / answer-sentence pairs.

XTREME's download script copies LAReQA's release (`xquad-r/{lang}.json`, with gold)
unchanged, so one layout serves both.
"""

from xlmr_flax.data.lareqa import read_questions
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="lareqa",
        format="retrieval",
        source="LAReQA XQuAD-R {lang}.json (google-research-datasets/lareqa)",
        metric="map@20",
        splits=("test",),
        train_langs=(),
        eval_langs=tuple("ar de el en es hi ru th tr vi zh".split()),
        train_on=("squad_v1",),
        gold_field="answer_sentence",
        layouts=(
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"lareqa/xquad-r/{lang}.json"],
                reader=read_questions,
            ),
        ),
    )
)
