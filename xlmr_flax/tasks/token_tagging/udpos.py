"""UD-POS (target): universal part-of-speech tags."""

from functools import partial

from xlmr_flax.data.readers import read_conll
from xlmr_flax.tasks.base import Layout, Task, register

UPOS = tuple(
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)

TASK = register(
    Task(
        name="udpos",
        format="token_tagging",
        source="Universal Dependencies v2.5 via XTREME's {split}-{lang}.tsv",
        metric="f1",
        labels=UPOS,
        splits=("train", "dev", "test"),
        eval_langs=tuple(
            "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru "
            "ta te th tl tr uk ur vi wo yo zh".split()
        ),
        train_on=("udpos",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"udpos/{split}-{lang}.tsv"],
                reader=partial(read_conll, allowed_tags=UPOS),
            ),
        ),
    )
)
