"""`python -m eval COMMAND ...`: the evaluation commands, all in this module.

A command is one entry of COMMANDS: its options (`add_arguments(parser)`) and its run
(`run(args) -> int`, the exit status), whose docstring is the command's help. The work
itself lives in the library: prediction in eval/predict, scoring in eval/scoring, the
report in eval/report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable

from xlmr_flax.errors import DataError
from xlmr_flax.languages import CLASSES
from xlmr_flax.storage import local_path
from xlmr_flax.tasks import TARGETS, get_task
from xlmr_flax.tasks.base import SPLITS

# Each command imports what it runs inside its function: `score` and `report` load no
# JAX, and `--help` loads nothing.
PATH_ARGUMENTS = ("checkpoint", "data", "out", "predictions", "labels", "json", "workdir")


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="model directory or checkpoint")
    parser.add_argument("--task", required=True, choices=TARGETS, help="XTREME-R target task")
    parser.add_argument("--langs", help="comma-separated languages (default: every one found)")
    parser.add_argument("--out", required=True, help="submission folder: TASK/SPLIT-LANG.*")
    parser.add_argument("--data", default=None, help="raw-data folder (default: sample data)")
    parser.add_argument(
        "--split", choices=SPLITS, help="split to predict (default: the task's eval split)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="global rows per batch")
    parser.add_argument("--max-length", type=int, help="sub-words per example or QA window")
    parser.add_argument("--layer", type=int, default=-1, help="retrieval: encoder layer")


def predict(args: argparse.Namespace) -> int:
    """Predict every language of a target task and write the submission files.

        python -m eval predict --checkpoint DIR --task T [--langs de,sw] --out DIR
            [--data DIR] [--split test] [--batch-size 32] [--max-length N] [--layer -1]

    CHECKPOINT is a model directory the study wrote (`WORKDIR/stages/<id>/model`) or a
    transformers checkpoint (directory or hub name); it is restored once onto a mesh over
    every device. DATA is the raw-data folder (default: the bundled sample data). Each
    language's predictions go to `OUT/<task>/<split>-<lang>.<ext>` (eval.scoring.submission),
    each file written whole; `python -m eval score` reads them. Exit status 1 on bad
    input (named).
    """
    from eval.predict.predictor import Predictor
    from eval.predict.program import PredictOptions, load_on_mesh
    from eval.scoring.submission import write_predictions
    from xlmr_flax.data import sample_data_dir
    from xlmr_flax.sharding import make_mesh

    task = get_task(args.task)
    split = args.split or task.eval_split
    data = args.data or sample_data_dir()
    langs = args.langs.split(",") if args.langs else None
    unknown = sorted(set(langs or ()) - set(task.languages(split)))
    if unknown:
        return error(f"--langs: {args.task} has no {split} language {unknown}")
    options = PredictOptions.create(
        dict(batch_size=args.batch_size, max_length=args.max_length, layer=args.layer)
    )
    started = time.time()
    mesh = make_mesh((-1, 1, 1))
    try:
        predictor = Predictor(load_on_mesh(args.checkpoint, mesh), mesh, options)
        predictions = predictor.predict_all(args.task, langs, raw_dir=data, split=split)
    except (DataError, FileNotFoundError) as err:
        return error(err)
    if not predictions:
        return error(f"no {split} file of {args.task} under {data}")
    for lang, values in predictions.items():
        print(write_predictions(args.out, args.task, lang, values, split))
    print(
        f"{args.task}: {len(predictions)} languages in {time.time() - started:.1f} s, "
        f"{predictor.compilations} compilations"
    )
    return 0


def score_arguments(parser: argparse.ArgumentParser) -> None:
    from eval.metrics import XTREME_R_TASKS

    parser.add_argument("--predictions", required=True, help="submission folder: TASK/test-LANG.*")
    parser.add_argument("--labels", required=True, help="label folder, same layout")
    parser.add_argument("--json", help="also write the scores and averages to this JSON file")
    parser.add_argument(
        "--tasks",
        default=",".join(XTREME_R_TASKS),
        help="comma-separated tasks to score (default: the ten XTREME-R targets)",
    )
    parser.add_argument("--split", default="test", help="file name prefix (default: test)")


def score(args: argparse.Namespace) -> int:
    """Score a submission folder against label files with the official XTREME-R metrics.

        python -m eval score --predictions out/ --labels labels/ [--json scores.json]

    Both folders use the submission layout `<task>/test-<lang>.<ext>`. Every (task,
    language) with both files is scored (eval.scoring.folders); label files without
    predictions, predictions without labels and files it does not read are listed. The
    table shows each language's metrics and each task's average; `--json` writes
    `{task: {lang: {metric: value}}, "average": {...}}`. A malformed file stops nothing
    else from being scored, but the command then exits 1 (naming each bad file) and
    writes no JSON.
    """
    from eval.scoring.folders import format_table, score_directories
    from xlmr_flax.atomic import write_file

    try:
        tasks = [t for t in args.tasks.split(",") if t]
        for task in tasks:
            get_task(task)  # an unknown name fails before anything is read
        scores = score_directories(args.predictions, args.labels, tasks=tasks, split=args.split)
    except (DataError, ValueError) as err:
        return error(err)
    if scores.results:
        print(format_table(scores))
    for path in scores.no_predictions:
        print(f"missing predictions: {path} has labels but no prediction file", file=sys.stderr)
    for path in scores.no_labels:
        print(f"missing labels: {path} has no label file; not scored", file=sys.stderr)
    for path in scores.ignored:
        expected = f"{args.split}-<lang>.<ext> under a task folder, for an official language"
        print(f"ignored: {path} (not read: expected {expected})", file=sys.stderr)
    for message in scores.errors:
        error(message)
    if scores.errors:
        return 1
    if not scores.results:
        return error(
            f"no (task, language) has both a prediction file under {args.predictions} "
            f"and a label file under {args.labels}"
        )
    if args.json:
        write_file(args.json, json.dumps(scores.to_json(), indent=2, ensure_ascii=False) + "\n")
    return 0


def report_arguments(parser: argparse.ArgumentParser) -> None:
    from eval.analysis.trained import DEFAULT_MARGIN, KEEP, RULES

    parser.add_argument("--workdir", required=True, help="the study's folder (has results.jsonl)")
    parser.add_argument("--out", help="report folder (default: WORKDIR/report), replaced whole")
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--test-one-seed",
        action="store_true",
        help="test effects that rest on one seed (default: their intervals are conditional "
        "on the seed and nothing on them is flagged)",
    )
    parser.add_argument(
        "--primary-class",
        default="low",
        choices=(*CLASSES, "none"),
        help="the resource class named before the results whose effect over all targets "
        "is tested alone at alpha, outside the class family (default: low, as "
        "configs/base.py names it; none: no primary effect)",
    )
    parser.add_argument(
        "--failed-runs",
        choices=RULES,
        default=KEEP,
        help="runs that did not train: keep them (default) or replace each by the next seed "
        "the study trained for every order of its pair (config.report.failed_runs)",
    )
    parser.add_argument(
        "--failure-margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="points above the target's chance at or below which a run's English score "
        f"says it did not train (default {DEFAULT_MARGIN:g})",
    )
    parser.add_argument(
        "--plots",
        choices=("auto", "all", "heatmaps", "none"),
        default="auto",
        help="which plots: all, the heatmaps only, none; auto (default): all for at most "
        "8 comparisons, else the heatmaps (the others on demand with --plots all)",
    )


def report(args: argparse.Namespace) -> int:
    """The report of an ordering study: Markdown, CSV tables and PNG plots.

        python -m eval report --workdir runs/x [--out runs/x/report] [--n-boot 1000] [--seed 0]
            [--test-one-seed] [--primary-class low|mid|high|all|none]
            [--plots auto|all|heatmaps|none] [--failed-runs keep|replace]
            [--failure-margin POINTS]

    Reads WORKDIR/results.jsonl (and the per-example statistics it points to) and writes
    OUT (default WORKDIR/report) whole: report.md, the CSV tables and the plots that
    docs/report.md describes (eval.report.write_report). A partial study is reported as
    far as it goes, with what is missing listed. A failed report never leaves a
    half-written folder; an existing OUT is replaced only if it is an earlier report (or
    empty). Prints the summary; exit status 1 on unreadable results.
    """
    from eval.analysis import ResultsError
    from eval.report import ReportError, format_summary, write_report

    try:
        summary = write_report(
            args.workdir, args.out, n_boot=args.n_boot, seed=args.seed,
            test_one_seed=args.test_one_seed,
            primary_class="" if args.primary_class == "none" else args.primary_class,
            plots=args.plots, failed_runs=args.failed_runs, failure_margin=args.failure_margin,
        )  # fmt: skip
    except (FileNotFoundError, ResultsError, ReportError, ValueError) as err:
        return error(err)
    print(format_summary(summary))
    return 0


def adaptive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, help="the adaptive study's folder")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def adaptive(args: argparse.Namespace) -> int:
    """The state of an adaptive study, as JSON.

        python -m eval adaptive --workdir runs/x [--n-boot 1000] [--seed 0]

    Each comparison's interval, seeds used and state (positive / negative: sign
    decided; negligible: inside ±delta; futile: the seed budget could not decide it;
    budget: undecided at the seed budget; open), and the runs (path, target, seed) of
    the next round. A look whose runs are all evaluated but not yet recorded is
    recorded first (as the study does after each round); a recorded look is never
    decided again (docs/adaptive.md). Exit status 1 when the study cannot be read.
    """
    from eval.analysis import ResultsError
    from eval.report.adaptive import state_json
    from eval.stats.adaptive import DesignError
    from eval.stats.adaptive_study import DesignChanged, next_round

    try:
        state = next_round(args.workdir, n_boot=args.n_boot, seed=args.seed)
    except (FileNotFoundError, ResultsError, DesignChanged, DesignError) as err:
        return error(err)
    print(json.dumps(state_json(state), indent=1))
    return 0


@dataclasses.dataclass(frozen=True)
class Command:
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # its docstring is the command's help


COMMANDS = {
    "predict": Command(predict_arguments, predict),
    "score": Command(score_arguments, score),
    "report": Command(report_arguments, report),
    "adaptive": Command(adaptive_arguments, adaptive),
}


def error(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-command per entry of COMMANDS."""
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        doc = command.run.__doc__ or name
        sub = commands.add_parser(
            name,
            help=doc.strip().split("\n")[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parses `argv` (default: the command line) and runs the chosen command."""
    args = build_parser().parse_args(argv)
    for name in PATH_ARGUMENTS:
        if getattr(args, name, None):
            try:
                setattr(args, name, local_path(getattr(args, name), f"--{name}"))
            except ValueError as err:
                return error(err)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
