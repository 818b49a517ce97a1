"""XNLI (target): natural language inference; trained on English MultiNLI."""

from xlmr_flax.data.readers import NLI_LABELS
from xlmr_flax.data.sources.xnli import read_multinli_train, read_xnli_release, read_xtreme_tsv
from xlmr_flax.tasks.base import Layout, Task, register

TASK = register(
    Task(
        name="xnli",
        train_examples=392_702,  # MNLI's English training set
        format="classification",
        source="XNLI 1.0 dev/test; training data MultiNLI (XNLI-MT 1.0's English file)",
        metric="accuracy",
        labels=NLI_LABELS,
        splits=("train", "dev", "test"),
        eval_langs=tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split()),
        train_on=("xnli",),
        layouts=(
            # The releases (gold everywhere), then XTREME's copy (no test labels).
            Layout(
                "original",
                paths=lambda split, lang: [f"xnli/XNLI-1.0/xnli.{split}.tsv"],
                reader=read_xnli_release,
                splits=("dev", "test"),
                per_language_field="lang",  # one file holds every language
            ),
            Layout(
                "xnli-mt",
                paths=lambda split, lang: ["xnli/XNLI-MT-1.0/multinli/multinli.train.en.tsv"],
                reader=read_multinli_train,
                splits=("train",),
            ),
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"xnli/{split}-{lang}.tsv"],
                reader=read_xtreme_tsv,
            ),
        ),
    )
)
