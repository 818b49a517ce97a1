"""TyDiQA-GoldP (target): trained on its English training set; evaluated on its dev
set, which XTREME uses as the test set.

The release as downloaded into `tydiqa/` (one multilingual training file, dev files named
by language) has gold and full ids. XTREME's script splits the training file per language
with ids cut to their last `-` field (made unique again here, see
`qa_sources.read_qa_cut_ids`), renames the dev files by ISO code and blanks their
answers (prediction-only).
"""

from xlmr_flax.data.qa_sources import TYDIQA_LANGUAGE_NAMES, read_qa_cut_ids, read_tydiqa_release
from xlmr_flax.tasks.base import Layout, Task, register


def _original(split: str, lang: str) -> list[str]:
    if split == "train":
        return ["tydiqa/tydiqa-goldp-v1.1-train.json"]
    return [f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{TYDIQA_LANGUAGE_NAMES[lang]}.json"]


def _xtreme(split: str, lang: str) -> list[str]:
    if split == "train":
        return [f"tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json"]
    return [f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json"]


TASK = register(
    Task(
        name="tydiqa",
        train_examples=3_696,  # questions (TyDi QA-GoldP English)
        format="span_extraction",
        source="TyDiQA-GoldP v1.1 (SQuAD JSON)",
        metric="squad",
        splits=("train", "test"),
        eval_langs=tuple("ar bn en fi id ko ru sw te".split()),
        train_on=("tydiqa",),
        layouts=(
            Layout("original", paths=_original, reader=read_tydiqa_release),
            Layout("xtreme", paths=_xtreme, reader=read_qa_cut_ids),
        ),
    )
)
