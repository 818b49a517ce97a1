"""Tatoeba (target, no training of its own): find each sentence's English translation.

XTREME-R scores it with the SQuAD v1.1 model (the study's plan: train/study/plan/dag.py,
`SCORED_WITH`), embedding both sides with one encoder layer, mean-pooled (`REFERENCE`).
"""

from xlmr_flax.config import ALIGNMENT_REFERENCE, alignment_layer
from xlmr_flax.data.sources.tatoeba import read_laser_pairs, read_xtreme_sorted
from xlmr_flax.formats.retrieval import RetrievalHooks
from xlmr_flax.tasks.base import Layout, Task, register

LANGS = tuple(
    "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
    "zh kk tr et fi hu az lt pl uk ro".split()
)
# LASER's file names use the Tatoeba release's ISO 639-3 codes.
ISO3 = dict(
    zip(
        LANGS,
        "ara heb vie ind jav tgl eus mal tam tel afr nld deu ell ben hin mar urd pes fra ita por "
        "spa bul rus jpn kat kor tha swh cmn kaz tur est fin hun aze lit pol ukr ron".split(),
        strict=True,
    )
)


# XTREME's settings for XLM-R Large (google-research/xtreme scripts/run_tatoeba.sh,
# third_party/evaluate_retrieval.py): `--specific_layer 13` indexes the 24 layer outputs
# after the embeddings, i.e. hidden state 14 of 24 here (0 = embeddings); mean over every
# token the attention mask keeps (<s> and </s> included, as our "mean" pooling does);
# cosine similarity; sentences cut at 512 tokens. The layer is the model table's
# (xlmr_flax/config.py), which gives every size its own.
REFERENCE = dict(**ALIGNMENT_REFERENCE, pooling="mean", max_length=512)


def hidden_state(layer: int, num_layers: int) -> int:
    """`layer` as an index from 0 (embeddings) to `num_layers` (-1: the last layer)."""
    if not -(num_layers + 1) <= layer <= num_layers:
        raise ValueError(f"layer={layer} outside the model's {num_layers} layers")
    return layer % (num_layers + 1)


def reference_differences(layer: int, pooling: str, num_layers: int) -> list[str]:
    """How evaluation settings (`layer`, `pooling` of an encoder of `num_layers`)
    differ from XTREME's Tatoeba settings scaled by `alignment_layer`; empty if not."""
    found, expected = hidden_state(layer, num_layers), alignment_layer(num_layers)
    problems = []
    if found != expected:
        problems.append(f"layer {found} of {num_layers} (XTREME's rule: {expected})")
    if pooling != REFERENCE["pooling"]:
        problems.append(f"pooling {pooling!r} (XTREME's: {REFERENCE['pooling']!r})")
    return problems


def _laser_paths(split, lang):
    stem = f"tatoeba/tatoeba.{ISO3[lang]}-eng"
    return [f"{stem}.{ISO3[lang]}", f"{stem}.eng"]


class TatoebaHooks(RetrievalHooks):
    """Each sentence's nearest English sentence, by the encoder as it is (whatever
    head the model carries); predictions are its index on the English side."""

    ranked = False

    def uses_head(self, options, model_head) -> bool:
        return False  # alignment is measured on the encoder, whatever the model was trained for

    def predict(self, predictor, task, split, lang, raw_dir, options):
        pairs = list(task.read(raw_dir, split, lang))
        source = predictor.embed_texts([p["source"] for p in pairs], options=options)
        english = predictor.embed_texts([p["target"] for p in pairs], options=options)
        return [int(i) for i in predictor.search(source, english, 1, options)[:, 0]]

    def gold(self, task, lang, raw_dir, split):
        return [e["target_index"] for e in task.read(raw_dir, split, lang)]


TASK = register(
    Task(
        name="tatoeba",
        format="retrieval",
        source="Tatoeba test pairs of LASER's v1 release (or XTREME's copy, English side sorted)",
        metric="accuracy",
        splits=("test",),
        train_langs=(),
        eval_langs=LANGS,
        gold_field="target_index",  # where in the (sorted) English side the translation is
        hooks=TatoebaHooks(),
        layouts=(
            Layout("original", paths=_laser_paths, reader=read_laser_pairs),
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"tatoeba/{lang}-en.{lang}", f"tatoeba/{lang}-en.en"],
                reader=read_xtreme_sorted,
                no_gold={"test": "XTREME's copy sorts the English side: the pairs are gone"},
            ),
        ),
    )
)
