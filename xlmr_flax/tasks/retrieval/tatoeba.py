"""Tatoeba (target, no training): find each sentence's English translation."""

from xlmr_flax.data.readers import read_parallel
from xlmr_flax.tasks.base import Layout, Task, register

LANGS = tuple(
    "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
    "zh kk tr et fi hu az lt pl uk ro".split()
)
# File names use the Tatoeba release's ISO 639-3 codes.
ISO3 = dict(
    zip(
        LANGS,
        "ara heb vie ind jav tgl eus mal tam tel afr nld deu ell ben hin mar urd pes fra ita por "
        "spa bul rus jpn kat kor tha swh cmn kaz tur est fin hun aze lit pol ukr ron".split(),
        strict=True,
    )
)


def _paths(split, lang):
    stem = f"tatoeba/tatoeba.{ISO3[lang]}-eng"
    return [f"{stem}.{ISO3[lang]}", f"{stem}.eng"]


TASK = register(
    Task(
        name="tatoeba",
        format="retrieval",
        source="Tatoeba test pairs as distributed by XTREME",
        metric="accuracy",
        splits=("test",),
        train_langs=(),
        eval_langs=LANGS,
        layouts=(
            Layout(
                "project",
                paths=_paths,
                reader=read_parallel,
            ),
        ),
    )
)
