"""The tables of an ordering study, from the records of `WORKDIR/results.jsonl`.

    records = load_results("runs/x/results.jsonl")
    scores, incomplete = headline_scores(records)        # {(path, target, lang, seed): score}
    cells = summarise_seeds(scores)                      # mean ± sd over seeds per language
    gains = gains_over_baseline(cells)                   # path − no intermediate task

- `records`: results.jsonl read and checked, records grouped by run;
- `grouping`: path and language labels, resource classes, sort keys, the comparisons
  the study's paths allow and the runs it lacks;
- `scores`: headline scores and their summaries over seeds, tasks, classes, paths,
  and the gain over no intermediate task;
- `stages`: forgetting and alignment, measured stage by stage.

The ordering effect and its intervals are `eval.stats.ordering`'s (docs/report.md says more).
"""

from eval.analysis.grouping import (
    ALL_TARGETS,
    SOURCE_LANGS,
    find_missing,
    in_class,
    language_cc100,
    language_class,
    language_order,
    order_comparisons,
    path_key,
    path_order,
)
from eval.analysis.records import (
    KINDS,
    REQUIRED_KEYS,
    Path,
    Record,
    ResultsError,
    RunKey,
    examples_file,
    examples_name,
    group_runs,
    load_results,
    parse_results,
    report_dir,
    results_file,
    write_results,
)
from eval.analysis.scores import (
    HEADLINE,
    gains_by_class,
    gains_over_baseline,
    headline_metrics,
    headline_scores,
    mean_sd,
    path_averages,
    summarise_seeds,
    task_scores,
)
from eval.analysis.stages import alignment_by_class, alignment_table, forgetting
from xlmr_flax.languages import CLASSES

__all__ = [
    "ALL_TARGETS",
    "CLASSES",
    "HEADLINE",
    "KINDS",
    "REQUIRED_KEYS",
    "SOURCE_LANGS",
    "Path",
    "Record",
    "ResultsError",
    "RunKey",
    "alignment_by_class",
    "alignment_table",
    "examples_file",
    "examples_name",
    "find_missing",
    "forgetting",
    "gains_by_class",
    "gains_over_baseline",
    "group_runs",
    "headline_metrics",
    "headline_scores",
    "in_class",
    "language_cc100",
    "language_class",
    "language_order",
    "load_results",
    "mean_sd",
    "order_comparisons",
    "parse_results",
    "path_averages",
    "path_key",
    "path_order",
    "report_dir",
    "results_file",
    "summarise_seeds",
    "task_scores",
    "write_results",
]
