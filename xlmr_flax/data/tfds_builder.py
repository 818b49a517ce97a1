"""One TFDS builder for every task (a builder config per task), preparing
array_record files from local raw data, with no TensorFlow needed.

Splits are named `{split}_{lang}` (e.g. `train_en`, `test_sw`). TFDS writes into
an `incomplete.*` folder and renames it when done, so a failed preparation never
leaves a dataset that looks complete.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow_datasets as tfds

from xlmr_flax.errors import DataError
from xlmr_flax.tasks import TASKS, get_task

_text = tfds.features.Text


def _features(task_format: str) -> tfds.features.FeaturesDict:
    if task_format == "classification":
        spec = dict(text_a=_text(), text_b=_text(), label=_text())
    elif task_format == "multiple_choice":
        spec = dict(
            context=_text(),
            question=_text(),
            choices=tfds.features.Sequence(_text()),
            label=np.int64,
        )
    elif task_format == "span_extraction":
        answers = tfds.features.Sequence(dict(text=_text(), start=np.int64))
        spec = dict(
            title=_text(),
            context=_text(),
            question=_text(),
            answers=answers,
            is_impossible=np.bool_,
        )
    elif task_format == "token_tagging":
        spec = dict(tokens=tfds.features.Sequence(_text()), tags=tfds.features.Sequence(_text()))
    else:  # retrieval and masked-LM records differ per task: kept as JSON
        spec = dict(record=_text())
    return tfds.features.FeaturesDict(dict(id=_text(), **spec))


# How a split without gold stores its missing gold field (TFDS features are not optional).
NO_GOLD = {"label": {"classification": "", "multiple_choice": -1}, "tags": [], "answers": []}


def _record(task_format: str, example: dict) -> dict:
    if task_format in ("retrieval", "masked_lm"):
        return dict(id=example["id"], record=json.dumps(example, ensure_ascii=False))
    missing = {k: v for k, v in NO_GOLD.items() if k in example and example[k] is None}
    if "label" in missing:
        missing["label"] = missing["label"][task_format]
    return {**example, **missing}


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
        for example in self.task.read(raw, split, lang):
            yield example["id"], _record(self.task.format, example)


def prepare(task: str, raw_dir: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """Builds (once) the array_record dataset of `task` from `raw_dir`."""
    builder = XtremeRTasks(config=task, data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=raw_dir))
    return builder


def data_source(task: str, data_dir: str) -> dict:
    """Random-access sources per split of a prepared task (`tfds.data_source`)."""
    builder = XtremeRTasks(config=task, data_dir=data_dir, file_format="array_record")
    return builder.as_data_source()
