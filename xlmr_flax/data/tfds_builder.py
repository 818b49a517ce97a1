"""One TFDS builder for every task (a builder config per task), preparing
array_record files from local raw data, with no TensorFlow needed.

Splits are named `{split}_{lang}` (e.g. `train_en`, `test_sw`). TFDS writes into
an `incomplete.*` folder and renames it when done, so a failed preparation never
leaves a dataset that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence

import tensorflow_datasets as tfds

from xlmr_flax.atomic import write_file
from xlmr_flax.errors import DataError
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import TASKS, get_task


def _features(task_format: str) -> tfds.features.FeaturesDict:
    spec = get_format(task_format).tfds_features(tfds)
    return tfds.features.FeaturesDict(dict(id=tfds.features.Text(), **spec))


def _record(task_format: str, example: dict, keys: Sequence[str] | None = None) -> dict:
    """The record TFDS stores (the format's: a split without gold stores its missing
    gold as a value of the feature's type); with `keys`, only those fields (a reader's
    extra fields, such as the language of a file holding several, are left out)."""
    record = get_format(task_format).tfds_record(example)
    return {k: record[k] for k in keys} if keys else record


class XtremeRTasks(tfds.core.GeneratorBasedBuilder):
    """XTREME-R target tasks and the intermediate tasks, from the XTREME download layout."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [  # noqa: RUF012 (TFDS reads this class attribute)
        tfds.core.BuilderConfig(name=name, description=task.source) for name, task in TASKS.items()
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Pass the folder the XTREME download script wrote (download/) as manual_dir; "
        "docs/data.md lists every file each task reads."
    )

    @property
    def task(self):
        return get_task(self.builder_config.name)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=_features(self.task.format))

    def _split_generators(self, dl_manager):
        raw = str(dl_manager.manual_dir)
        available = self.task.available(raw)
        if not available:
            split, lang = self.task.splits[-1], (self.task.eval_langs or ("en",))[0]
            raise DataError(
                f"{raw}: no files of task {self.task.name} "
                f"(expected e.g. {self.task.expected(split, lang)})"
            )
        return {
            f"{split}_{lang}": self._generate_examples(raw, split, lang)
            for split, lang in available
        }

    def _generate_examples(self, raw, split, lang):
        keys = list(self.info.features.keys())
        for example in self.task.read(raw, split, lang):
            yield example["id"], _record(self.task.format, example, keys)


RAW_FINGERPRINT = "raw_fingerprint.json"  # next to TFDS's files: what they were built from


def raw_fingerprint(task: str, raw_dir: str) -> dict[str, str]:
    """`{split_lang: hash of its files' bytes}` of every split the raw folder holds."""
    from xlmr_flax.data.cache import files_fingerprint

    t = get_task(task)
    return {
        f"{split}_{lang}": files_fingerprint(t.files(raw_dir, split, lang))
        for split, lang in t.available(raw_dir)
    }


def prepare(task: str, raw_dir: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """Builds the array_record dataset of `task` from `raw_dir`: once, and again when
    the raw files changed since (a dataset without its fingerprint is built again)."""
    builder = XtremeRTasks(config=task, data_dir=data_dir, file_format="array_record")
    fingerprint = raw_fingerprint(task, raw_dir)
    record = os.path.join(builder.data_dir, RAW_FINGERPRINT)
    if os.path.isdir(builder.data_dir) and _read_fingerprint(record) != fingerprint:
        print(f"{builder.data_dir}: its raw files changed; building it again", file=sys.stderr)
        shutil.rmtree(builder.data_dir)
        builder = XtremeRTasks(config=task, data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=raw_dir))
    write_file(record, json.dumps(fingerprint, sort_keys=True))
    return builder


def _read_fingerprint(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def data_source(task: str, data_dir: str) -> dict:
    """Random-access sources per split of a prepared task (`tfds.data_source`)."""
    builder = XtremeRTasks(config=task, data_dir=data_dir, file_format="array_record")
    return builder.as_data_source()
