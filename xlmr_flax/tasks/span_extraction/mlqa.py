"""MLQA (target, same-language context and question); trained on SQuAD v1.1.

MLQA_V1.zip unpacked at the raw folder's root (`MLQA_V1/`) has gold; XTREME's copy
(`mlqa/MLQA_V1/`) keeps dev's and blanks every test answer (prediction-only).
"""

from xlmr_flax.data.qa_sources import read_qa
from xlmr_flax.tasks.base import Layout, Task, register


def _file(split: str, lang: str) -> str:
    return f"MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json"


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
            Layout("original", paths=lambda split, lang: [_file(split, lang)], reader=read_qa),
            Layout(
                "xtreme", paths=lambda split, lang: [f"mlqa/{_file(split, lang)}"], reader=read_qa
            ),
        ),
    )
)
