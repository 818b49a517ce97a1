"""WikiANN / PAN-X named entities (target)."""

from functools import partial

from xlmr_flax.data.readers import read_conll
from xlmr_flax.tasks.base import Layout, Task, register

TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

TASK = register(
    Task(
        name="panx",
        format="token_tagging",
        source="WikiANN (Rahimi et al. splits) via XTREME's {split}-{lang}.tsv",
        metric="f1",
        labels=TAGS,
        splits=("train", "dev", "test"),
        eval_langs=tuple(
            "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru "
            "ja ka ko th sw yo my zh kk tr et fi hu qu pl uk az lt pa gu ro".split()
        ),
        train_on=("panx",),
        layouts=(
            Layout(
                "project",
                paths=lambda split, lang: [f"panx/{split}-{lang}.tsv"],
                reader=partial(read_conll, allowed_tags=TAGS, strip_lang_prefix=True),
            ),
        ),
    )
)
