"""What a task declares, and the registry that holds every task."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from xlmr_flax.errors import DataError
from xlmr_flax.formats.base import get_format
from xlmr_flax.registry import Registry

SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Layout:
    """One way a task's files can lie under the raw-data folder.

    `name` says whose layout it is: "xtreme" (what XTREME's download script leaves),
    "original" (the dataset's own release) or another short name. `paths(split, lang)`
    gives the files of one split and language relative to the raw folder;
    `reader(*absolute_paths)` yields examples. `no_gold` names the splits that never
    have gold in this layout, with the reason (XTREME removes test labels).
    """

    name: str
    paths: Callable[[str, str], Sequence[str]]
    reader: Callable[..., Iterator[dict]]
    splits: tuple[str, ...] | None = None  # None: every split of the task
    no_gold: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # When one file holds several languages: the example field naming each one's language.
    per_language_field: str | None = None

    def provides(self, split: str) -> bool:
        return self.splits is None or split in self.splits

    def files(self, raw_dir: str, split: str, lang: str) -> list[str]:
        return [os.path.join(raw_dir, p) for p in self.paths(split, lang)]

    def read(self, files: Sequence[str], lang: str) -> Iterator[dict]:
        examples = self.reader(*files)
        if self.per_language_field:
            return (e for e in examples if e[self.per_language_field] == lang)
        return examples


@dataclasses.dataclass(frozen=True)
class Task:
    """A dataset with its format, labels, languages and the layouts its files come in.

    `format` names a registered `xlmr_flax.formats` format, which owns everything
    format-specific (featurisation, head, prediction, gold, files, metric); `hooks`
    holds what is particular to this task within its format (a retrieval task's
    queries and candidate pool: `formats.retrieval.RetrievalHooks`).

    `layouts` lists the accepted ways its files lie under the raw-data folder, in order
    of preference: for each (split, language) the first layout whose files all exist
    is read (a release with gold comes before XTREME's gold-less copy of the same
    split). Targets list their zero-shot `eval_langs` (the official XTREME-R lists) and
    the tasks whose English training data trains them (`train_on`). A task a stage can
    train on gives its `train_examples`.
    """

    name: str
    format: str
    source: str  # where the data comes from, for documentation
    metric: str
    layouts: tuple[Layout, ...]
    labels: tuple[str, ...] = ()  # empty: no fixed label set (taken from training data)
    splits: tuple[str, ...] = ("train", "dev")
    train_langs: tuple[str, ...] = ("en",)
    eval_langs: tuple[str, ...] = ()
    train_on: tuple[str, ...] = ()  # targets: training task(s), in order
    eval_split: str = "test"
    # English examples of the stage's official training file (what an epoch of the stage
    # reads; QA counts questions): study configs turn epochs into steps with it.
    train_examples: int | None = None
    gold_field: str | None = None  # default: the format's gold field
    hooks: Any = None  # behaviour of this task within its format (see above)

    def __post_init__(self):
        try:
            get_format(self.format)
        except ValueError as err:
            raise ValueError(f"task {self.name}: {err}") from None
        if not self.layouts:
            raise ValueError(f"task {self.name}: no layouts")

    @property
    def head(self) -> str:
        return get_format(self.format).head

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

    def locate(self, raw_dir: str, split: str, lang: str) -> tuple[Layout, list[str]] | None:
        """The first layout providing `split` whose files for `lang` all exist, with
        those files; None when no layout's files are there."""
        for layout in self.layouts:
            if layout.provides(split):
                files = layout.files(raw_dir, split, lang)
                if all(os.path.isfile(f) for f in files):
                    return layout, files
        return None

    def files(self, raw_dir: str, split: str, lang: str) -> list[str]:
        """The files `read` reads; where none exist, those of the first layout (for
        messages and fingerprints of what is missing)."""
        found = self.locate(raw_dir, split, lang)
        if found:
            return found[1]
        layout = next((x for x in self.layouts if x.provides(split)), self.layouts[0])
        return layout.files(raw_dir, split, lang)

    def expected(self, split: str, lang: str) -> str:
        """Every accepted layout's files for (split, lang), for error messages."""
        return " or ".join(
            f"{x.name}: {', '.join(x.paths(split, lang))}"
            for x in self.layouts
            if x.provides(split)
        )

    def read(self, raw_dir: str, split: str, lang: str = "en") -> Iterator[dict]:
        found = self.locate(raw_dir, split, lang)
        if found is None:
            raise DataError(
                f"{raw_dir}: no files of {self.name} {split} {lang} "
                f"(expected {self.expected(split, lang)})"
            )
        layout, files = found
        return layout.read(files, lang)

    def gold(self, raw_dir: str, split: str, lang: str = "en") -> str | None:
        """None when (split, lang) has gold under `raw_dir`; else why it has none (its
        examples are then predicted but never scored)."""
        found = self.locate(raw_dir, split, lang)
        if found is None:
            return f"no files (expected {self.expected(split, lang)})"
        layout, files = found
        if split in layout.no_gold:
            return layout.no_gold[split]
        field = self.gold_field or get_format(self.format).gold_field
        if field is None:
            return None
        examples = list(layout.read(files, lang))
        if examples and all(e.get(field) is None for e in examples):
            names = ", ".join(os.path.relpath(f, raw_dir) for f in files)
            return f"no gold {field} in {names} (absent or blanked)"
        return None

    def available(self, raw_dir: str) -> list[tuple[str, str]]:
        """The (split, language) pairs whose files exist under `raw_dir` (and, where one
        file holds several languages, that have examples in it)."""
        found = []
        for split in self.splits:
            for lang in self.languages(split):
                located = self.locate(raw_dir, split, lang)
                if located is None:
                    continue
                layout, files = located
                if layout.per_language_field and next(layout.read(files, lang), None) is None:
                    continue
                found.append((split, lang))
        return found


TASKS: Registry[Task] = Registry("task")


def register(task: Task) -> Task:
    return TASKS.add(task.name, task)


unregister = TASKS.remove
get_task = TASKS.lookup
