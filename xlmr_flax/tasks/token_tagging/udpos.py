"""UD-POS (target): universal part-of-speech tags."""

import dataclasses
import os
from functools import partial

from xlmr_flax.data.readers import read_conll
from xlmr_flax.data.sources.ud import read_treebanks, treebank_files
from xlmr_flax.tasks.base import Layout, Task, register

UPOS = tuple(
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)


@dataclasses.dataclass(frozen=True)
class TreebankLayout(Layout):
    """A UD release folder: a (split, language) is every treebank file of that language
    and split found in it, so the files are listed rather than named."""

    release: str = ""  # the release folder, relative to the raw folder

    def files(self, raw_dir: str, split: str, lang: str) -> list[str]:
        found = treebank_files(os.path.join(raw_dir, self.release), split, lang)
        return found or super().files(raw_dir, split, lang)  # names what is missing


def _release(name: str, release: str) -> TreebankLayout:
    return TreebankLayout(
        name,
        paths=lambda split, lang: [f"{release}/*/{lang}_*-ud-{split}.conllu"],
        reader=partial(read_treebanks, allowed_tags=UPOS),
        release=release,
    )


TASK = register(
    Task(
        name="udpos",
        train_examples=21_253,
        format="token_tagging",
        source="Universal Dependencies v2.7 (XTREME-R; v2.5 for XTREME), all treebanks of a "
        "language merged per split",
        metric="f1",
        labels=UPOS,
        splits=("train", "dev", "test"),
        eval_langs=tuple(
            "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru "
            "ta te th tl tr uk ur vi wo yo zh".split()
        ),
        train_on=("udpos",),
        layouts=(
            # The UD release extracted under udpos/, then XTREME's copy (test untagged).
            _release("original", "udpos/ud-treebanks-v2.7"),
            _release("original-v2.5", "udpos/ud-treebanks-v2.5"),
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"udpos/{split}-{lang}.tsv"],
                reader=partial(read_conll, allowed_tags=UPOS, untagged=True),
            ),
        ),
    )
)
