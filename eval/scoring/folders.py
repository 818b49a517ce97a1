"""A submission folder scored against a label folder with the official XTREME-R metrics
(what `python -m eval score` prints).

Both folders use the submission layout `<task>/test-<lang>.<ext>` (`eval.scoring.submission`).
Every (task, language) of the XTREME-R targets with both files is scored; label files
without predictions, and predictions without labels, are listed. The table shows each
language's metrics and each task's average; `--json` writes
`{task: {lang: {metric: value}}, "average": {...}}` (see `eval.metrics.xtreme_r_average`).
A malformed file stops nothing else from being scored; it is named in `Scores.errors`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from eval.metrics import METRICS, XTREME_R_TASKS, score_task, xtreme_r_average
from eval.scoring.submission import read_labels, read_predictions, submission_path
from xlmr_flax.errors import DataError
from xlmr_flax.tasks import get_task


@dataclasses.dataclass
class Scores:
    """What `score_directories` found: scores, averages, and the files it could not pair."""

    results: dict[str, dict[str, dict[str, float]]]  # task → lang → metric → value
    average: dict[str, Any]  # eval.metrics.xtreme_r_average(results)
    no_predictions: list[str]  # label files with no prediction file
    no_labels: list[str]  # prediction files with no label file
    ignored: list[str]  # prediction files that are no (target, official language) file
    errors: list[str]  # one message per malformed file

    def to_json(self) -> dict[str, Any]:
        return {**self.results, "average": self.average}


def score_directories(
    predictions_dir: str,
    labels_dir: str,
    *,
    tasks: Sequence[str] = XTREME_R_TASKS,
    split: str = "test",
) -> Scores:
    """Scores every (task, official language) whose prediction and label files both
    exist; a malformed file is recorded in `errors` and skipped."""
    for folder, what in ((predictions_dir, "predictions"), (labels_dir, "labels")):
        if not os.path.isdir(folder):
            raise DataError(f"{folder}: {what} folder not found")
    results: dict[str, dict[str, dict[str, float]]] = {}
    no_predictions, no_labels, errors, expected = [], [], [], set()
    for task in tasks:
        for lang in get_task(task).eval_langs:
            prediction_file = submission_path(predictions_dir, task, lang, split)
            label_file = submission_path(labels_dir, task, lang, split)
            expected.add(os.path.abspath(prediction_file))
            has_prediction, has_label = os.path.isfile(prediction_file), os.path.isfile(label_file)
            if has_label and not has_prediction:
                no_predictions.append(label_file)
            elif has_prediction and not has_label:
                no_labels.append(prediction_file)
            elif has_prediction:
                try:
                    gold = read_labels(label_file, task, lang)
                    predictions = read_predictions(prediction_file, task, gold)
                    scores = score_task(task, predictions, gold, lang=lang)
                except (DataError, ValueError) as err:
                    errors.append(str(err))
                    continue
                results.setdefault(task, {})[lang] = scores
    return Scores(
        results=results,
        average=xtreme_r_average(results),
        no_predictions=no_predictions,
        no_labels=no_labels,
        ignored=_ignored(predictions_dir, expected),
        errors=errors,
    )


def _ignored(root: str, expected: set[str]) -> list[str]:
    """Files under `root` this command does not read (a wrong name, extension or
    language), so that a misnamed prediction file does not go unnoticed."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.abspath(path) not in expected and not name.startswith("."):
                found.append(path)
    return sorted(found)


def format_table(scores: Scores) -> str:
    """One row per (task, language) and per task average; columns are the metrics."""
    columns = [
        m for m in METRICS if any(m in s for t in scores.results.values() for s in t.values())
    ]
    header = ["task", "lang", *columns, "score"]
    rows = []
    for task, by_lang in scores.results.items():
        for lang, values in by_lang.items():
            rows.append([task, lang, *[_number(values.get(m)) for m in columns], ""])
        average = scores.average["tasks"][task]
        count = f"avg {average['languages']}/{average['official_languages']}"
        rows.append([task, count, *[_number(average.get(m)) for m in columns]])
        rows[-1].append(_number(average["score"]))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))).rstrip()
             for row in [header, *rows]]  # fmt: skip
    average = scores.average
    for name, value in average["categories"].items():
        lines.append(f"{name}: {value:.2f}")
    if average["xtreme_r"] is None:
        absent = [t for t in XTREME_R_TASKS if t not in average["tasks"]]
        lines.append(f"XTREME-R average: not computed ({', '.join(absent)} not scored)")
    else:
        note = "" if average["complete"] else " (over the languages scored; some are missing)"
        lines.append(f"XTREME-R average: {average['xtreme_r']:.2f}{note}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
