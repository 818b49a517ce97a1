"""Mewsli-X (target): link news mentions to English entity descriptions; a dual
encoder trained on English Wikipedia mention-entity pairs.

Layouts (xlmr_flax/data/mewslix.py reads them): the release's files in `mewslix/` (all
languages in one WikiNews file per split, with gold), then XTREME's per-language split
(`wikinews_mentions/` + `wikinews_labels/`, test entity ids blanked). Both share the
training pairs and the candidate set.
"""

from xlmr_flax.data.mewslix import read_mentions, read_pairs
from xlmr_flax.tasks.base import Layout, Task, register

# The entity descriptions every mention is ranked against (English).
CANDIDATES_PATH = "mewslix/candidate_set_entities.jsonl"

TASK = register(
    Task(
        name="mewslix",
        format="retrieval",
        source="Mewsli-X (google-research dense_representations_for_entity_retrieval/mel)",
        metric="map@20",
        splits=("train", "dev", "test"),
        eval_langs=tuple("ar de en es fa ja pl ro ta tr uk".split()),
        train_on=("mewslix",),
        gold_field="entity_id",
        layouts=(
            Layout(  # the release's training pairs; XTREME leaves them as they are
                "xtreme",
                paths=lambda split, lang: ["mewslix/wikipedia_pairs-train.jsonl"],
                reader=read_pairs,
                splits=("train",),
            ),
            Layout(
                "original",
                paths=lambda split, lang: [f"mewslix/wikinews_mentions-{split}.jsonl"],
                reader=read_mentions,
                splits=("dev", "test"),
                per_language_field="lang",  # one file holds every language's mentions
            ),
            Layout(
                "xtreme",
                paths=lambda split, lang: [
                    f"mewslix/wikinews_mentions/{split}-{lang}.jsonl",
                    f"mewslix/wikinews_labels/{split}-{lang}.json",
                ],
                reader=read_mentions,
                splits=("dev", "test"),
                no_gold={"test": "XTREME's download script blanks Mewsli-X test entity ids"},
            ),
        ),
    )
)
