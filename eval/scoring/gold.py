"""Which split of a target is scored, and where each language's gold comes from.

A target's split can lack gold: XTREME's download script removes the labels of most
test sets (and blanks the answers of some dev sets). Such a split is still predicted
and written as submission files, but never scored. Gold for a split comes from

- the raw-data folder, when the layout its files are read in has gold there
  (an original release, or a split XTREME leaves whole), or
- a labels folder in the layout of XTREME's `evaluate.py --label_folder`
  (`<labels>/<task>/<split>-<lang>.<ext>`), for test sets whose gold the raw
  folder lacks.

The scored split is chosen per target: `auto` (the default) scores `test` when every
test language found has gold, else `dev` when a dev language has gold, else nothing
(predictions only); `test` or `dev` choose it outright.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

from eval.scoring.submission import gold_from_raw, read_labels, submission_path
from xlmr_flax.tasks import get_task

AUTO = "auto"
CHOICES = (AUTO, "test", "dev")


@dataclasses.dataclass(frozen=True)
class GoldSource:
    """Where the gold of one (split, language) of a task comes from."""

    split: str
    lang: str
    origin: str  # "raw:<layout name>" or "labels"
    files: tuple[str, ...]  # the files the gold is read from

    def load(self, task: str, raw_dir: str) -> Any:
        """The gold structure `eval.metrics` scores against."""
        if self.origin == "labels":
            return read_labels(self.files[0], task, self.lang)
        return gold_from_raw(task, self.lang, raw_dir, self.split)


def gold_source(
    task_name: str, split: str, lang: str, raw_dir: str, labels_dir: str = ""
) -> GoldSource | None:
    """The gold of (split, lang): the raw folder's when it has some, else a labels
    folder's file when one is there, else None."""
    task = get_task(task_name)
    located = task.locate(raw_dir, split, lang)
    if located is None:
        return None
    if task.gold(raw_dir, split, lang) is None:
        layout, files = located
        return GoldSource(split, lang, f"raw:{layout.name}", tuple(files))
    if labels_dir:
        path = submission_path(labels_dir, task_name, lang, split)
        if os.path.isfile(path):
            return GoldSource(split, lang, "labels", (path,))
    return None


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """What one target's evaluation reads, scores and writes."""

    task: str
    split: str | None  # the scored split; None: no language has gold
    scored: dict[str, GoldSource]  # language → its gold, for every scored language
    unscored: dict[str, str]  # language of the scored split → why it has no gold
    test_langs: tuple[str, ...]  # test languages found: predicted, written as submissions
    why: str  # how the split was chosen, for logs and the doctor

    def describe(self) -> str:
        if self.split is None:
            return f"{self.task}: not scored ({self.why})"
        origins = sorted({s.origin for s in self.scored.values()})
        return f"{self.task}: {self.split} scored, gold from {', '.join(origins)} ({self.why})"


def _langs(task_name: str, split: str, raw_dir: str) -> list[str]:
    task = get_task(task_name)
    if split not in task.splits:
        return []
    return [lang for s, lang in task.available(raw_dir) if s == split]


def evaluation_pairs(task_name: str) -> list[tuple[str, str]]:
    """Every (split, language) a target may be evaluated or predicted on."""
    task = get_task(task_name)
    return [
        (split, lang)
        for split in ("test", "dev")
        if split in task.splits
        for lang in task.languages(split)
    ]


def plan_evaluation(
    task_name: str, raw_dir: str, labels_dir: str = "", choice: str = AUTO
) -> EvalPlan:
    """The scored split of a target and the gold of each of its languages (cached
    while none of the files it looks at changes)."""
    task = get_task(task_name)
    candidates = [
        path
        for split, lang in evaluation_pairs(task_name)
        for path in [
            *task.files(raw_dir, split, lang),
            *([submission_path(labels_dir, task_name, lang, split)] if labels_dir else []),
        ]
    ]
    return _plan(task_name, raw_dir, labels_dir, choice, file_states(candidates))


def file_states(paths: list[str]) -> tuple:
    """(path, size, modification time) of each existing path: what a cache keys on."""
    states = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        states.append((path, st.st_size, st.st_mtime_ns))
    return tuple(states)


@functools.lru_cache(maxsize=256)
def _plan(task_name: str, raw_dir: str, labels_dir: str, choice: str, _states: tuple) -> EvalPlan:
    if choice not in CHOICES:
        raise ValueError(f"{task_name}: evaluation split {choice!r}; expected one of {CHOICES}")
    found = {
        split: {
            lang: gold_source(task_name, split, lang, raw_dir, labels_dir)
            for lang in _langs(task_name, split, raw_dir)
        }
        for split in ("test", "dev")
    }
    test_langs = tuple(found["test"])
    if choice == AUTO:
        test_gold = found["test"] and all(found["test"].values())
        if test_gold:
            split, why = "test", "auto: every test language has gold"
        elif any(found["dev"].values()):
            split, why = "dev", "auto: test gold missing, dev has gold"
        else:
            split, why = None, "auto: neither test nor dev has gold"
    else:
        split, why = choice, "chosen in the config"
    sources = found.get(split, {}) if split else {}
    scored = {lang: s for lang, s in sources.items() if s is not None}
    task = get_task(task_name)
    unscored = {
        lang: task.gold(raw_dir, split, lang) or "no gold"
        for lang, s in sources.items()
        if s is None
    }
    if split and not scored:
        why = f"{why}; no {split} language has gold"
    return EvalPlan(task_name, split, scored, unscored, test_langs, why)
