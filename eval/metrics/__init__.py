"""The official XTREME-R metrics, as per-example statistics that a bootstrap can resample.

    score_task("xnli", ["entailment", ...], ["entailment", ...])   # {"accuracy": 100.0}
    ids, stats = example_stats("panx", predicted_tags, gold_tags)  # stats["f1"]: (n, 4) counts
    metric_from_stats("f1", stats["f1"][some_resample])            # F1 of that resample

Each metric follows the script XTREME-R scores with (`evaluate.py` of
google-research/xtreme and the scripts it calls; docs/evaluation.md lists them):

| task(s) | metrics |
|---|---|
| XNLI, XCOPA, Tatoeba (and every classification / multiple-choice task) | `accuracy` |
| UD-POS, PAN-X | `f1`, `precision`, `recall` of `seqeval` (default, conlleval-compatible mode) |
| XQuAD, TyDiQA-GoldP (and SQuAD) | `exact_match`, `f1` of the SQuAD v1.1 script |
| MLQA | `exact_match`, `f1` of the MLQA script (language-aware normalisation) |
| LAReQA, Mewsli-X | `map@20` |

Each metric kind is one module of this package (`kinds.MetricKind`: accuracy,
tagging, qa, ranking); a task's format names its kind. All values are percentages.
Predictions and gold labels follow one structure per task (the contract
`eval.predict.predictor` produces and `eval.scoring.submission` reads and writes):

| task | predictions | gold |
|---|---|---|
| classification (XNLI) | `list[str]` label per example | same |
| multiple choice (XCOPA) | `list[int]` chosen choice | same |
| token tagging (UD-POS, PAN-X) | `list[list[str]]` tag per word | same |
| QA (XQuAD, MLQA, TyDiQA) | `dict[str, str]` id → answer | `dict[str, list[str]]` answers |
| Tatoeba | `list[int]` retrieved English index | `list[int]`, normally `range(n)` |
| LAReQA, Mewsli-X | `dict[str, list[str]]` id → ranked ids | `dict[str, list[str]]` relevant |
"""

from __future__ import annotations

import importlib
import pkgutil

from eval.metrics.averages import (
    CATEGORIES,
    XTREME_R_TASKS,
    headline_metrics,
    headline_score,
    task_average,
    xtreme_r_average,
)
from eval.metrics.by_task import (
    example_stats,
    metric_from_stats,
    metric_kind,
    metric_names,
    score_task,
)
from eval.metrics.kinds import (
    KINDS,
    MetricKind,
    get_metric_kind,
    known_metrics,
    metric_of_sums,
    register_metric_kind,
    unregister_metric_kind,
)

# Importing each kind module registers its kinds.
_SHARED = ("averages", "kinds", "scoring")
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SHARED:
        importlib.import_module(f"{__name__}.{_module.name}")

from eval.metrics.accuracy import accuracy  # noqa: E402
from eval.metrics.qa import MLQA_LANGS, mlqa_normalize, qa_scores, squad_normalize  # noqa: E402
from eval.metrics.ranking import TOP_K, average_precision_at_k  # noqa: E402
from eval.metrics.tagging import chunk_joins, entity_counts, seqeval_scores  # noqa: E402
from xlmr_flax.formats.span_extraction import Answers  # noqa: E402

METRICS = known_metrics()

__all__ = [
    "CATEGORIES",
    "KINDS",
    "METRICS",
    "MLQA_LANGS",
    "TOP_K",
    "XTREME_R_TASKS",
    "Answers",
    "MetricKind",
    "accuracy",
    "average_precision_at_k",
    "chunk_joins",
    "entity_counts",
    "example_stats",
    "get_metric_kind",
    "headline_metrics",
    "headline_score",
    "metric_from_stats",
    "metric_kind",
    "metric_names",
    "metric_of_sums",
    "mlqa_normalize",
    "qa_scores",
    "register_metric_kind",
    "score_task",
    "seqeval_scores",
    "squad_normalize",
    "task_average",
    "unregister_metric_kind",
    "xtreme_r_average",
]
