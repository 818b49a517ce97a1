"""What a study needs from its raw-data folder, checked before anything trains.

Every stage's task needs English training data with gold; every target needs files
to predict, and gold on the split the config scores it on (`eval.split`). Broken
files are reported with their first problem (`FILE:LINE: ...`). The main command
runs this check before a study; `python -m train --config FILE --check-data` prints
it (`print_data_check`) and runs nothing.
"""

from __future__ import annotations

from eval.scoring.gold import AUTO, CHOICES, evaluation_pairs, plan_evaluation
from train.hparams import stage_tasks
from train.study.plan.dag import StageDag
from train.study.plan.plan import ConfigError, small_training_sets
from xlmr_flax.data.doctor import SplitRow, format_table, inspect_split
from xlmr_flax.tasks import get_task


def check_eval_options(config) -> None:
    """`eval.split` names targets of the study and valid choices."""
    choices = dict((config.get("eval") or {}).get("split", {}) or {})
    for target, choice in choices.items():
        if target not in config.study.targets:
            raise ConfigError(f"eval.split.{target}: {target!r} is not a target of the study")
        if choice not in CHOICES:
            raise ConfigError(f"eval.split.{target}: {choice!r}; expected one of {CHOICES}")


def training_tasks(dag: StageDag) -> list[str]:
    return sorted({t for s in dag.stages.values() for t in stage_tasks(s.task)})


def needed_rows(config, dag: StageDag) -> tuple[list[SplitRow], list[str]]:
    """The rows of every split the study reads, and its problems (empty: runnable)."""
    raw, rows, problems = config.raw_data, [], []
    examples: dict[str, int] = {}  # English training examples of each readable task
    files: dict[str, str] = {}  # ... and the file they are in
    for name in training_tasks(dag):
        task = get_task(name).data_task("train")
        row = inspect_split(task, raw, "train", "en")
        if row is None:
            problems.append(
                f"{name}: no English training data under {raw} "
                f"(expected {task.expected('train', 'en')})"
            )
            continue
        rows.append(row)
        if row.problem:
            problems.append(f"{name} train: {row.problem}")
        elif row.no_gold:
            problems.append(f"{name} train: no gold to train on ({row.no_gold})")
        elif row.examples is not None:
            examples[name] = row.examples
            files[name] = row.files[0] if row.files else raw
    # A split smaller than one batch: named with its file, caught before anything trains.
    problems += [
        f"{line} in {files[line.split()[0]]}" for line in small_training_sets(config, dag, examples)
    ]
    labels = (config.get("eval") or {}).get("labels", "") or ""
    for target in sorted(config.study.targets):
        task = get_task(target)
        found = [
            row
            for split, lang in evaluation_pairs(target)
            if (row := inspect_split(task, raw, split, lang)) is not None
        ]
        rows += found
        broken = [r for r in found if r.problem]
        problems += [f"{target} {r.split} {r.lang}: {r.problem}" for r in broken]
        if broken:
            continue
        if not found:
            split = task.splits[-1]
            problems.append(
                f"{target}: no files under {raw} (expected e.g. "
                f"{task.expected(split, task.languages(split)[0])})"
            )
            continue
        choice = (config.get("eval") or {}).get("split", {}).get(target, AUTO)
        plan = plan_evaluation(target, raw, labels, choice)
        if choice != AUTO and not plan.scored:
            reasons = "; ".join(f"{lang}: {why}" for lang, why in sorted(plan.unscored.items()))
            problems.append(
                f"{target}: eval.split.{target}={choice!r} but no {choice} language has gold "
                f"({reasons or 'no files'})"
            )
    return rows, problems


def print_data_check(config, dag: StageDag) -> bool:
    """Prints every split the study reads and its problems; True when it can run."""
    check_eval_options(config)
    rows, problems = needed_rows(config, dag)
    print(format_table(rows))
    if problems:
        print(f"\nthe study cannot run on {config.raw_data}:", *problems, sep="\n  ")
        return False
    print(f"\nevery split the study needs is under {config.raw_data}")
    return True


def check_study_data(config, dag: StageDag) -> None:
    """Raises ConfigError listing every problem, one per line."""
    check_eval_options(config)
    _, problems = needed_rows(config, dag)
    if problems:
        raise ConfigError(
            f"the raw data under {config.raw_data} cannot run this study "
            f"(--check-data shows every split):\n  " + "\n  ".join(problems)
        )
