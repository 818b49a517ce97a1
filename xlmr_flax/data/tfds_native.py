"""Raw files from TFDS's own builders, for the tasks TFDS has a builder for.

`python -m xlmr_flax.data fetch --task T --raw DIR` runs TFDS's builder for T
(download, its own split and example generators, array_record, no TensorFlow) and
writes the records into DIR in a layout the task reads (docs/data.md, "Fetching
with TFDS"): XTREME's file names and formats, with the gold TFDS has kept.

Most text builders cannot be found by name without TensorFlow (`tfds.builder("xnli")`
stops registering at a module that needs h5py), so each source names the module that
defines its builder. A few builders touch `tf.io.gfile` or `tf.int32`; they run with
the stand-in of `xlmr_flax.data.tf_stand_in`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Sequence

from tensorflow_datasets.core.download import extractor

from xlmr_flax.atomic import write_file
from xlmr_flax.data import tfds_records as to_text
from xlmr_flax.data.tf_stand_in import tensorflow_stand_in
from xlmr_flax.data.tfds_records import Records, Writer
from xlmr_flax.tasks import get_task


@dataclasses.dataclass(frozen=True)
class BuilderRef:
    """One TFDS builder (and config), found by importing the module that defines it."""

    module: str  # under tensorflow_datasets
    cls: str
    config: str | None = None

    def records(self, data_dir: str | None) -> Records:
        """Downloads and prepares the builder (array_record); its records by TFDS split,
        read from disk only for the splits a writer uses."""
        module = importlib.import_module(f"tensorflow_datasets.{self.module}")
        with tensorflow_stand_in(module, extractor):
            builder = getattr(module, self.cls)(
                config=self.config, data_dir=data_dir, file_format="array_record"
            )
            builder.download_and_prepare()
            return dict(builder.as_data_source())


# ---- sources ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NativeSource:
    """Where a task's records come from in TFDS and how they become its raw files.

    `parts(langs)` gives one builder per part: a language for builders with a config per
    language (None: every language TFDS has for the task), else a fixed name.
    """

    parts: Callable[[Sequence[str] | None], dict[str, BuilderRef]]
    write: Writer


def _single(module: str, cls: str, config: str | None = None):
    return lambda langs: {"": BuilderRef(module, cls, config)}


def _per_language(task: str, module: str, cls: str, config: Callable[[str], str], has: str):
    """One builder per language of the task that TFDS's `module.<has>` lists."""

    def parts(langs):
        available = _tfds_languages(module, has)
        wanted = langs or get_task(task).eval_langs
        missing = [lang for lang in wanted if lang not in available]
        if langs and missing:
            raise ValueError(f"TFDS's {module} has no {task} data for {', '.join(missing)}")
        return {lang: BuilderRef(module, cls, config(lang)) for lang in wanted if lang in available}

    return parts


def _tfds_languages(module: str, name: str) -> tuple[str, ...]:
    return tuple(getattr(importlib.import_module(f"tensorflow_datasets.{module}"), name))


PANX = "text.wikiann.wikiann"
UDPOS = "datasets.xtreme_pos.xtreme_pos_dataset_builder"
XQUAD = "question_answering.xquad"
MLQA = "datasets.mlqa.mlqa_dataset_builder"
TATOEBA = "datasets.tatoeba.tatoeba_dataset_builder"
# TFDS's xtreme_pos swaps two codes ("ta": Tagalog, "tl": Tamil); ask for the other one.
UDPOS_CONFIG = {"ta": "tl", "tl": "ta"}
GLUE = "text.glue"

NATIVE: dict[str, NativeSource] = {
    "xnli": NativeSource(
        lambda langs: {
            "dev-test": BuilderRef("text.xnli", "Xnli"),
            "train": BuilderRef(GLUE, "Glue", "mnli"),
        },
        to_text.xnli_files,
    ),
    "mnli": NativeSource(_single(GLUE, "Glue", "mnli"), to_text.mnli_files),
    "snli": NativeSource(
        _single("datasets.snli.snli_dataset_builder", "Builder"), to_text.snli_files
    ),
    "anli": NativeSource(
        lambda langs: {
            f"R{r}": BuilderRef("datasets.anli.anli_dataset_builder", "Builder", f"r{r}")
            for r in (1, 2, 3)
        },
        to_text.anli_files,
    ),
    "qqp": NativeSource(
        _single(GLUE, "Glue", "qqp"),
        to_text.glue_files(
            "qqp", ("question1", "question2"), ("id", "question1", "question2", "is_duplicate")
        ),
    ),
    "sst2": NativeSource(
        _single(GLUE, "Glue", "sst2"),
        to_text.glue_files("sst2", ("sentence",), ("index", "sentence", "label")),
    ),
    "squad_v1": NativeSource(
        _single("datasets.squad.squad_dataset_builder", "Builder", "v1.1"),
        to_text.squad_files("1.1"),
    ),
    "squad_v2": NativeSource(
        _single("datasets.squad.squad_dataset_builder", "Builder", "v2.0"),
        to_text.squad_files("2.0"),
    ),
    "copa": NativeSource(_single("text.super_glue", "SuperGlue", "copa"), to_text.copa_files),
    "hellaswag": NativeSource(_single("text.hellaswag", "Hellaswag"), to_text.hellaswag_files),
    "cosmosqa": NativeSource(
        _single("question_answering.cosmos_qa", "CosmosQA"), to_text.cosmosqa_files
    ),
    "panx": NativeSource(_per_language("panx", PANX, "Wikiann", str, "LANGS"), to_text.panx_files),
    "udpos": NativeSource(
        _per_language(
            "udpos",
            UDPOS,
            "Builder",
            lambda lang: f"xtreme_pos_{UDPOS_CONFIG.get(lang, lang)}",
            "_LANGS",
        ),
        to_text.udpos_files,
    ),
    "xquad": NativeSource(
        _per_language("xquad", XQUAD, "Xquad", str, "LANGUAGES"), to_text.xquad_files
    ),
    "mlqa": NativeSource(
        _per_language("mlqa", MLQA, "Builder", str, "LANGUAGES"), to_text.mlqa_files
    ),
    "tydiqa": NativeSource(
        _single("question_answering.tydi_qa", "TydiQA", "goldp"), to_text.tydiqa_files
    ),
    "tatoeba": NativeSource(
        _per_language("tatoeba", TATOEBA, "Builder", lambda lang: f"tatoeba_{lang}", "_LANGS"),
        to_text.tatoeba_files,
    ),
}
# ANLI+ is three of the sources above, read together.
COMBINED = {"anli_plus": ("anli", "mnli", "snli")}


def sources() -> list[str]:
    return sorted([*NATIVE, *COMBINED])


def fetch(
    task: str,
    raw_dir: str,
    data_dir: str | None = None,
    langs: Sequence[str] | None = None,
) -> list[str]:
    """Writes the task's raw files from TFDS's builders; returns the paths written.

    Every builder runs before the first file is written, so a failed download or
    build leaves the raw folder as it was.
    """
    if task not in NATIVE and task not in COMBINED:
        raise ValueError(f"TFDS has no builder used for {task!r}; TFDS sources: {sources()}")
    files: dict[str, str] = {}
    for name in COMBINED.get(task, (task,)):
        source = NATIVE[name]
        for part, ref in source.parts(langs).items():
            files.update(source.write(part, ref.records(data_dir)))
    written = []
    for path, text in sorted(files.items()):
        full = os.path.join(raw_dir, path)
        write_file(full, text)
        written.append(full)
    return written
