"""XNLI (target): natural language inference; trained on English MultiNLI."""

from xlmr_flax.data.readers import NLI_LABELS, read_xnli_tsv
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="xnli",
        format="classification",
        source="XNLI 1.0 test/dev; train-en.tsv is MultiNLI (XTREME's download layout)",
        metric="accuracy",
        labels=NLI_LABELS,
        splits=("train", "dev", "test"),
        eval_langs=tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split()),
        train_on=("xnli",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"xnli/{split}-{lang}.tsv"],
                reader=read_xnli_tsv,
            ),
        ),
    )
)
