"""XQuAD (target): SQuAD v1.1 dev translated; trained on SQuAD v1.1.

deepmind's release (its GitHub archive unpacked as `xquad-master/`) has gold; XTREME's
copy (`xquad/`) has every answer blanked, read as prediction-only.
"""

from xlmr_flax.data.qa_sources import read_qa
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="xquad",
        format="span_extraction",
        source="XQuAD xquad.{lang}.json (deepmind/xquad)",
        metric="squad",
        splits=("test",),
        train_langs=(),
        eval_langs=tuple("ar de el en es hi ru th tr vi zh ro".split()),
        train_on=("squad_v1",),
        layouts=(
            Layout(
                "original",
                paths=lambda split, lang: [f"xquad-master/xquad.{lang}.json"],
                reader=read_qa,
            ),
            Layout(
                "xtreme", paths=lambda split, lang: [f"xquad/xquad.{lang}.json"], reader=read_qa
            ),
        ),
    )
)
