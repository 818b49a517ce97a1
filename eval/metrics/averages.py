"""Headline scores and XTREME-R's averages over languages, tasks and categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.metrics.by_task import metric_kind, metric_names
from eval.metrics.kinds import get_metric_kind
from xlmr_flax.tasks import get_task

# XTREME-R's task categories (evaluate.py's groups); its average is over these ten tasks.
CATEGORIES = {
    "classification": ("xnli", "xcopa"),
    "structured_prediction": ("udpos", "panx"),
    "question_answering": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("mewslix", "lareqa", "tatoeba"),
}
XTREME_R_TASKS = tuple(t for tasks in CATEGORIES.values() for t in tasks)


def headline_metrics(task: str) -> tuple[str, ...]:
    """The metrics whose mean XTREME-R ranks a task by: QA exact match and F1, tagging
    F1, retrieval mAP@20, the others accuracy (evaluate.py's `avg_metric`)."""
    return get_metric_kind(metric_kind(task)).headline


def headline_score(task: str, metrics: Mapping[str, float]) -> float:
    """The number XTREME-R ranks a task by: the mean of its `headline_metrics`."""
    names = headline_metrics(task)
    return sum(metrics[m] for m in names) / len(names)


def task_average(task: str, by_lang: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Each metric averaged over the given languages (English included, as in
    XTREME's `evaluate.py`), and the task's `score` from those averages."""
    if not by_lang:
        raise ValueError(f"task {task}: no languages to average")
    names = metric_names(task)
    average = {m: sum(scores[m] for scores in by_lang.values()) / len(by_lang) for m in names}
    return {"score": headline_score(task, average), **average}


def xtreme_r_average(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, Any]:
    """Averages of `{task: {lang: {metric: value}}}` as XTREME-R computes them.

    - `tasks`: per task, every metric averaged over its scored languages and the
      headline `score`, with the number of languages scored and officially listed;
    - `categories`: the mean task score of each category whose tasks are all scored;
    - `xtreme_r`: the mean of the ten task scores (None unless all ten are scored);
    - `complete`: every official language of every task scored (otherwise the
      averages are over fewer languages than the benchmark's, and `missing` lists them).
    """
    tasks: dict[str, dict[str, float]] = {}
    missing: dict[str, list[str]] = {}
    for task, by_lang in results.items():
        if not by_lang:
            continue
        official = get_task(task).eval_langs
        tasks[task] = {
            **task_average(task, by_lang),
            "languages": len(by_lang),
            "official_languages": len(official),
        }
        missing[task] = [lang for lang in official if lang not in by_lang]
    categories = {
        name: sum(tasks[t]["score"] for t in members) / len(members)
        for name, members in CATEGORIES.items()
        if all(t in tasks for t in members)
    }
    all_scored = all(t in tasks for t in XTREME_R_TASKS)
    overall = None
    if all_scored:  # evaluate.py reports its overall score only when every task is there
        overall = sum(tasks[t]["score"] for t in XTREME_R_TASKS) / len(XTREME_R_TASKS)
    return {
        "tasks": tasks,
        "categories": categories,
        "xtreme_r": overall,
        "complete": all_scored and not any(missing.get(t) for t in XTREME_R_TASKS),
        "missing": {t: langs for t, langs in missing.items() if langs},
    }
