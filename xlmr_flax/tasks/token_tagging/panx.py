"""WikiANN / PAN-X named entities (target)."""

from functools import partial

from xlmr_flax.data.readers import read_conll
from xlmr_flax.data.sources.wikiann import read_wikiann
from xlmr_flax.tasks.base import Layout, Task, register

TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

TASK = register(
    Task(
        name="panx",
        train_examples=20_000,
        format="token_tagging",
        source="WikiANN with Rahimi et al.'s splits (the release, or XTREME's {split}-{lang}.tsv)",
        metric="f1",
        labels=TAGS,
        splits=("train", "dev", "test"),
        eval_langs=tuple(
            "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru "
            "ja ka ko th sw yo my zh kk tr et fi hu qu pl uk az lt pa gu ro".split()
        ),
        train_on=("panx",),
        layouts=(
            # Each {lang}.tar.gz of the release extracted into panx/{lang}/ (tokens with
            # their `{lang}:` prefix), then XTREME's copy (prefix removed, test untagged).
            Layout(
                "original",
                paths=lambda split, lang: [f"panx/{lang}/{split}"],
                reader=partial(read_wikiann, allowed_tags=TAGS),
            ),
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"panx/{split}-{lang}.tsv"],
                reader=partial(read_conll, allowed_tags=TAGS, untagged=True),
            ),
        ),
    )
)
