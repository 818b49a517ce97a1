"""TyDiQA-GoldP (target): trained on its English training set; evaluated on its dev
set, which XTREME uses as the test set."""

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.tasks.base import Layout, Task, register


def _paths(split, lang):
    if split == "train":
        return ["tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"]
    return [f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json"]


TASK = register(
    Task(
        name="tydiqa",
        format="span_extraction",
        source="TyDiQA-GoldP v1.1 (SQuAD JSON)",
        metric="squad",
        splits=("train", "test"),
        eval_langs=tuple("ar bn en fi id ko ru sw te".split()),
        train_on=("tydiqa",),
        layouts=(
            Layout(
                "project",
                paths=_paths,
                reader=read_squad_json,
            ),
        ),
    )
)
