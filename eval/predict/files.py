"""Predict every language of a target task and write the submission files.

    python -m eval predict --checkpoint DIR --task T [--langs de,sw] --out DIR
        [--data DIR] [--split test] [--batch-size 32] [--max-length N] [--layer -1]

CHECKPOINT is a model directory the pipeline wrote (`WORKDIR/stages/<id>/model`)
or a transformers checkpoint (directory or hub name); it is restored once onto a
mesh over every device. DATA is the raw-data folder (default: the bundled sample
data). Each language's predictions go to `OUT/<task>/<split>-<lang>.<ext>`
(`eval.scoring.submission`), each file written whole; `python -m eval score` reads them.
"""

from __future__ import annotations

import argparse
import sys
import time

from eval.predict.predictor import PredictOptions, Predictor, load_on_mesh
from eval.scoring.submission import write_predictions
from xlmr_flax.data import sample_data_dir
from xlmr_flax.errors import DataError
from xlmr_flax.sharding import make_mesh
from xlmr_flax.tasks import TARGETS, get_task
from xlmr_flax.tasks.base import SPLITS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `predict` command's options."""
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


def run(args: argparse.Namespace) -> int:
    """Writes one file per language; exit status 1 on bad input (named)."""
    task = get_task(args.task)
    split = args.split or task.eval_split
    data = args.data or sample_data_dir()
    langs = args.langs.split(",") if args.langs else None
    unknown = sorted(set(langs or ()) - set(task.languages(split)))
    if unknown:
        print(f"error: --langs: {args.task} has no {split} language {unknown}", file=sys.stderr)
        return 1
    options = PredictOptions.create(
        dict(batch_size=args.batch_size, max_length=args.max_length, layer=args.layer)
    )
    started = time.time()
    mesh = make_mesh((-1, 1, 1))
    try:
        predictor = Predictor(load_on_mesh(args.checkpoint, mesh), mesh, options)
        predictions = predictor.predict_all(args.task, langs, raw_dir=data, split=split)
    except (DataError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not predictions:
        print(f"error: no {split} file of {args.task} under {data}", file=sys.stderr)
        return 1
    for lang, values in predictions.items():
        print(write_predictions(args.out, args.task, lang, values, split))
    print(
        f"{args.task}: {len(predictions)} languages in {time.time() - started:.1f} s, "
        f"{predictor.compilations} compilations"
    )
    return 0
