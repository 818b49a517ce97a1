"""Mewsli-X (target): link news mentions to English entity descriptions; a dual
encoder trained on English Wikipedia mention-entity pairs.

Layouts (xlmr_flax/data/mewslix.py reads them): the release's files in `mewslix/` (all
languages in one WikiNews file per split, with gold), then XTREME's per-language split
(`wikinews_mentions/` + `wikinews_labels/`, test entity ids blanked). Both share the
training pairs and the candidate set.
"""

import os

from xlmr_flax.data import features as F
from xlmr_flax.data.mewslix import read_candidates, read_mentions, read_pairs
from xlmr_flax.errors import DataError
from xlmr_flax.formats.retrieval import RetrievalHooks, check_gold
from xlmr_flax.tasks.base import Layout, Task, register

# The entity descriptions every mention is ranked against (English).
CANDIDATES_PATH = "mewslix/candidate_set_entities.jsonl"


class MewslixHooks(RetrievalHooks):
    """Mentions ranked against the English entity descriptions."""

    reference_lengths = (64, 64)  # scripts/run_eval_mewslix.sh

    def training_pairs(self, task, examples, raw_dir, protocol):
        """Mention → its entity (the pair's own, or looked up in the candidate set)."""
        path = os.path.join(raw_dir, CANDIDATES_PATH)
        entities = None
        for m in examples:
            entity = m.get("entity")
            if entity is None:  # flat records name the entity only
                if entities is None:
                    entities = {c["id"]: c for c in read_candidates(path)}
                if m["entity_id"] not in entities:
                    raise DataError(f"{path}: no entity {m['entity_id']!r} (mention {m['id']})")
                entity = entities[m["entity_id"]]
            yield m["id"], F.mention_query(m, protocol), F.entity_text(entity, protocol)

    def queries(self, examples, protocol):
        return [F.mention_query(m, protocol) for m in examples]

    def pool(self, task, split, raw_dir, langs, protocol):
        entities = list(read_candidates(os.path.join(raw_dir, CANDIDATES_PATH)))
        return [e["id"] for e in entities], [F.entity_text(e, protocol) for e in entities]

    def gold(self, task, lang, raw_dir, split):
        """A mention's one gold entity (from XTREME's `wikinews_labels` where the
        mentions file has it blank)."""
        examples = list(task.read(raw_dir, split, lang))
        check_gold(task, lang, raw_dir, split)
        return {e["id"]: [e["entity_id"]] for e in examples}


TASK = register(
    Task(
        name="mewslix",
        train_examples=116_903,
        format="retrieval",
        source="Mewsli-X (google-research dense_representations_for_entity_retrieval/mel)",
        metric="map@20",
        splits=("train", "dev", "test"),
        eval_langs=tuple("ar de en es fa ja pl ro ta tr uk".split()),
        train_on=("mewslix",),
        gold_field="entity_id",
        hooks=MewslixHooks(),
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
