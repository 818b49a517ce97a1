"""Prediction and label files in the XTREME-R submission layout, and gold labels from raw data.

    write_predictions("out/", "xnli", "de", ["entailment", ...])   # out/xnli/test-de.tsv
    gold = gold_from_raw("xnli", "de", "download/")                 # the same structure, gold
    write_labels("labels/", "xnli", "de", gold)                     # labels/xnli/test-de.tsv
    read_predictions("out/xnli/test-de.tsv", "xnli", gold)          # validated against gold

A submission folder holds `<task>/<split>-<lang>.<ext>` (XTREME's leaderboard layout:
`test-{lang}.tsv`, or `.json` for QA); a label folder has the same layout. Formats:

| task | ext | one file holds |
|---|---|---|
| XNLI (classification) | tsv | one label per line, example order |
| XCOPA (multiple choice) | jsonl | one `{"label": choice index}` per line |
| UD-POS, PAN-X (tagging) | tsv | one tag per line per word, a blank line after each sentence |
| Tatoeba | tsv | one index per line: the English sentence retrieved |
| XQuAD, MLQA, TyDiQA | json | `{"id": "answer", ...}`; labels `{"id": ["answer", ...]}` |
| LAReQA, Mewsli-X | json | `{"id": ["candidate", ...], ...}` best first; labels: the relevant |

Each format writes and reads its own files (`xlmr_flax.formats`: `serialize`,
`read_labels`, `read_predictions`); this module lays them out. QA label files may
also be SQuAD-format datasets (`{"data": [...]}`, XTREME's own
label files). JSON files are written one id per line, so a line number in an error
points at an id. Readers check every file against what it must hold and raise
`DataError("FILE[:LINE]: what is wrong")`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from xlmr_flax.atomic import write_file
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task

FILE_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<lang>[a-z]{2,3})\.(?P<ext>tsv|jsonl|json)$")


def extension(task: str) -> str:
    """The file extension of `task`'s prediction and label files."""
    spec = get_task(task)
    return get_format(spec.format).file_extension(spec)


def submission_path(root: str, task: str, lang: str, split: str = "test") -> str:
    """`<root>/<task>/<split>-<lang>.<ext>`."""
    return os.path.join(root, task, f"{split}-{lang}.{extension(task)}")


def write_predictions(
    root: str, task: str, lang: str, predictions: Any, split: str = "test"
) -> str:
    """Writes one language's predictions (atomically); returns the file's path."""
    path = submission_path(root, task, lang, split)
    write_file(path, _serialize(task, predictions))
    return path


def write_labels(root: str, task: str, lang: str, gold: Any, split: str = "test") -> str:
    """Writes one language's gold labels in the same layout; returns the file's path."""
    path = submission_path(root, task, lang, split)
    write_file(path, _serialize(task, gold))
    return path


def _serialize(task: str, value: Any) -> str:
    spec = get_task(task)
    return get_format(spec.format).serialize(spec, value)


def read_labels(path: str, task: str, lang: str | None = None) -> Any:
    """Gold labels from a label file (for QA also a SQuAD-format dataset). `lang`,
    taken from the file name when not given, is kept on QA answers (MLQA needs it)."""
    spec = get_task(task)
    return get_format(spec.format).read_labels(path, spec, lang or _lang_from_name(path))


def read_predictions(path: str, task: str, gold: Any) -> Any:
    """Predictions from a submission file, checked against `gold` (from `read_labels`
    or `gold_from_raw`): one line / sentence / id for each gold one, of the right type."""
    spec = get_task(task)
    return get_format(spec.format).read_predictions(path, spec, gold)


def _lang_from_name(path: str) -> str | None:
    match = FILE_NAME.match(os.path.basename(path))
    return match["lang"] if match else None


def gold_from_raw(task: str, lang: str, raw_dir: str, split: str | None = None) -> Any:
    """The gold structure `eval.metrics` scores against, read from raw data files in the
    XTREME download layout through the task registry (`split`: the task's evaluation
    split unless given), as the task's format (and, for retrieval, the task's hooks)
    defines it.

    LAReQA's relevant candidates for a question are its answer sentence in every
    language whose file is under `raw_dir` (the pool the predictor searches);
    Mewsli-X's are the mention's one gold entity (from XTREME's `wikinews_labels`
    where the mentions file has it blank). A split without gold (`Task.gold` says
    why) raises DataError: its predictions are never scored."""
    spec = get_task(task)
    return get_format(spec.format).gold(spec, lang, raw_dir, split or spec.eval_split)
