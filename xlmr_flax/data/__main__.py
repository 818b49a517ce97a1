"""Fetch, validate and inspect task data.

    python -m xlmr_flax.data validate --task panx --file download/panx/test-sw.tsv
    python -m xlmr_flax.data corpus --raw download/ --out corpus.txt
    python -m xlmr_flax.data fetch --task panx --langs en,de,sw --raw download/   # network
    python -m xlmr_flax.data doctor --raw download/

`validate` reads one split's files (several `--file` for tasks that need more,
e.g. SIQA's examples and labels) and prints the example count and label
distribution, or the first problem as `FILE:LINE: what is wrong`. `doctor` prints
every task × split × language found under a raw folder (layout, examples, gold,
first problem) and exits 1 when a file is broken. What one study needs of the folder
is checked by the main command: `python -m train --config FILE --check-data`.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import sys

from xlmr_flax.errors import DataError
from xlmr_flax.tasks import TASKS, get_task


def summarize(task, examples) -> tuple[int, collections.Counter]:
    labels: collections.Counter = collections.Counter()
    count = 0
    for example in examples:
        count += 1
        gold = [k for k in ("label", "tags", "answers") if k in example]
        if gold and example[gold[0]] is None:
            labels["(no gold)"] += 1
        elif "label" in example:
            labels[str(example["label"])] += 1
        elif "tags" in example:
            labels.update(example["tags"])
        elif "answers" in example:
            labels["unanswerable" if example["is_impossible"] else "answerable"] += 1
    return count, labels


def _shapes(task, layout) -> list[list[str]]:
    """The file names `layout` reads, for every split and language of the task."""
    return [
        [os.path.basename(p) for p in layout.paths(split, lang)]
        for split in layout.splits or task.splits
        if split in task.splits
        for lang in task.languages(split)
    ]


def _layout_for(task, name: str | None, files: list[str]):
    """The layout named `name`, else the first whose file names fit `files` (for any
    split and language; `*` in a layout's names matches anything), else the first
    that reads as many files (None: none does)."""
    given = [os.path.basename(f) for f in files]
    fitting, named = [], []
    for layout in task.layouts:
        if name is not None and layout.name != name:
            continue
        shapes = [shape for shape in _shapes(task, layout) if len(shape) == len(files)]
        if shapes:
            fitting.append(layout)
        if any(all(map(fnmatch.fnmatch, given, shape)) for shape in shapes):
            named.append(layout)
    return (named or fitting or [None])[0]


def run_doctor(raw_dir: str) -> int:
    """Prints the table; 1 when a file is broken."""
    from xlmr_flax.data.doctor import format_table, inspect

    if not os.path.isdir(raw_dir):
        print(f"error: --raw {raw_dir}: no such folder", file=sys.stderr)
        return 1
    rows = inspect(raw_dir)
    print(format_table(rows))
    return 1 if any(r.problem for r in rows) else 0


def write_corpus(raw_dir: str, out: str) -> int:
    from xlmr_flax.data.corpus import task_texts

    seen: set[str] = set()
    with open(out, "w", encoding="utf-8") as f:
        for name in sorted(TASKS):
            for text in task_texts(TASKS[name], raw_dir):
                line = " ".join(text.split())
                if line not in seen:
                    seen.add(line)
                    f.write(line + "\n")
    print(f"wrote {len(seen)} lines to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xlmr_flax.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="write a task's raw files from TFDS's own builder")
    fetch.add_argument("--task", required=True)
    fetch.add_argument("--raw", required=True, help="folder to write the raw files into")
    fetch.add_argument("--tfds-dir", help="where TFDS keeps its downloads and datasets")
    fetch.add_argument(
        "--langs", help="comma-separated languages (default: every one TFDS has for the task)"
    )
    corpus = sub.add_parser("corpus", help="write all text of the tasks' raw data, one per line")
    corpus.add_argument("--raw", required=True, help="the XTREME download folder")
    corpus.add_argument("--out", required=True, help="text file to write")
    validate = sub.add_parser("validate", help="check raw files of one task split")
    validate.add_argument("--task", required=True, choices=sorted(TASKS))
    validate.add_argument(
        "--file", required=True, action="append", help="repeat for multi-file tasks"
    )
    validate.add_argument("--layout", help="the task's layout the files are in (default: by count)")
    doctor = sub.add_parser("doctor", help="what a raw-data folder holds, and what is broken")
    doctor.add_argument("--raw", required=True, help="the raw-data folder")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return run_doctor(args.raw)
    raw = getattr(args, "raw", None)
    if args.command == "corpus" and not os.path.isdir(raw):
        return _usage_error(
            f"--raw {raw}: no such folder (the XTREME download layout, docs/data.md)"
        )
    if args.command == "corpus":
        return write_corpus(args.raw, args.out)
    if args.command == "fetch":
        from xlmr_flax.data.tf_stand_in import NeedsTensorFlow
        from xlmr_flax.data.tfds_native import fetch as fetch_raw

        langs = args.langs.split(",") if args.langs else None
        try:
            written = fetch_raw(args.task, args.raw, args.tfds_dir, langs)
        except (ValueError, NeedsTensorFlow) as err:
            print(err, file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
        return 0
    task = get_task(args.task)
    try:
        layout = _layout_for(task, args.layout, args.file)
        if layout is None:
            counts = sorted({len(shape) for x in task.layouts for shape in _shapes(task, x)})
            return _usage_error(
                f"validate --task {task.name}: expected {' or '.join(map(str, counts))} "
                f"--file (one per file the task reads), got {len(args.file)}"
            )
        count, labels = summarize(task, layout.reader(*args.file))
        print(f"{' + '.join(args.file)}: {count} examples")
        for label, n in sorted(labels.items(), key=lambda kv: -kv[1]):
            print(f"  {label}\t{n}")
    except DataError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
