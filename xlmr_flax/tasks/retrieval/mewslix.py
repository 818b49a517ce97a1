"""Mewsli-X (target): link news mentions to English entity descriptions; a dual
encoder trained on English Wikipedia mention-entity pairs."""

from xlmr_flax.data.readers import read_mewslix_mentions
from xlmr_flax.tasks.base import Layout, Task, register


def _paths(split, lang):
    if split == "train":
        return ["mewslix/wikipedia_pairs-train.jsonl"]
    return [f"mewslix/wikinews_mentions-{split}.jsonl"]


# The entity descriptions every mention is ranked against (English).
CANDIDATES_PATH = "mewslix/candidate_set_entities.jsonl"

TASK = register(
    Task(
        name="mewslix",
        format="retrieval",
        source="Mewsli-X wikinews_mentions-{dev,test}.jsonl, candidate_set_entities.jsonl",
        metric="map@20",
        splits=("train", "dev", "test"),
        eval_langs=tuple("ar de en es fa ja pl ro ta tr uk".split()),
        train_on=("mewslix",),
        layouts=(
            Layout(
                "project",
                paths=_paths,
                reader=read_mewslix_mentions,
                per_language_field="lang",  # one file holds every language's mentions
            ),
        ),
    )
)
