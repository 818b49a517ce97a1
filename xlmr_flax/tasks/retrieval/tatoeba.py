"""Tatoeba (target, no training): find each sentence's English translation."""

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
