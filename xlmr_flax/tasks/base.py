"""What a task declares, and the registry that holds every task."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence

from xlmr_flax.errors import DataError

FORMATS = (
    "classification",
    "multiple_choice",
    "span_extraction",
    "token_tagging",
    "retrieval",
    "masked_lm",
)
# The head each format trains (retrieval trains a dual encoder of sentence embeddings).
FORMAT_HEADS = {
    "classification": "classification",
    "multiple_choice": "multiple_choice",
    "span_extraction": "span_extraction",
    "token_tagging": "token_tagging",
    "retrieval": "sentence_embedding",
    "masked_lm": "masked_lm",
}
SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Task:
    """A dataset with its format, labels, languages, files and reader.

    `paths(split, lang)` gives the files of one split and language relative to the
    raw-data folder (the XTREME download layout); `reader(*absolute_paths)` yields
    examples. Targets list their zero-shot `eval_langs` (the official XTREME-R
    lists) and the tasks whose English training data trains them (`train_on`).
    """

    name: str
    format: str
    source: str  # where the data comes from, for documentation
    metric: str
    paths: Callable[[str, str], Sequence[str]]
    reader: Callable[..., Iterator[dict]]
    labels: tuple[str, ...] = ()  # empty: no fixed label set (taken from training data)
    splits: tuple[str, ...] = ("train", "dev")
    train_langs: tuple[str, ...] = ("en",)
    eval_langs: tuple[str, ...] = ()
    train_on: tuple[str, ...] = ()  # targets: training task(s), in order
    eval_split: str = "test"
    # When one file holds several languages: the example field naming each one's language.
    per_language_field: str | None = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"task {self.name}: unknown format {self.format!r}")

    @property
    def head(self) -> str:
        return FORMAT_HEADS[self.format]

    @property
    def is_target(self) -> bool:
        return bool(self.eval_langs)

    def languages(self, split: str) -> tuple[str, ...]:
        if split not in self.splits:
            raise ValueError(f"task {self.name} has no {split!r} split; it has {self.splits}")
        return self.train_langs if split == "train" or not self.is_target else self.eval_langs

    def data_task(self, split: str) -> Task:
        """The task whose files hold this split: a target's training split comes from
        its training task (XQuAD and LAReQA train on SQuAD v1.1)."""
        if split != "train" or not self.train_on or self.train_on == (self.name,):
            return self
        if len(self.train_on) > 1:
            raise ValueError(
                f"task {self.name} trains in stages {self.train_on}: train each stage's task"
            )
        return get_task(self.train_on[0])

    def files(self, raw_dir: str, split: str, lang: str) -> list[str]:
        return [os.path.join(raw_dir, p) for p in self.paths(split, lang)]

    def read(self, raw_dir: str, split: str, lang: str = "en") -> Iterator[dict]:
        files = self.files(raw_dir, split, lang)
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise DataError(f"{missing[0]}: file not found ({self.name} {split} {lang})")
        examples = self.reader(*files)
        if self.per_language_field:
            return (e for e in examples if e[self.per_language_field] == lang)
        return examples

    def available(self, raw_dir: str) -> list[tuple[str, str]]:
        """The (split, language) pairs whose files exist under `raw_dir` (and, where one
        file holds several languages, that have examples in it)."""
        found = [
            (split, lang)
            for split in self.splits
            for lang in self.languages(split)
            if all(os.path.isfile(f) for f in self.files(raw_dir, split, lang))
        ]
        if self.per_language_field:
            found = [(s, lang) for s, lang in found if next(self.read(raw_dir, s, lang), None)]
        return found


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} registered twice")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]
