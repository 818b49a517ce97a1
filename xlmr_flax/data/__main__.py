"""Prepare and validate task data.

    python -m xlmr_flax.data prepare --task xnli --raw download/ --data-dir tfds/
    python -m xlmr_flax.data validate --task panx --file download/panx/test-sw.tsv
    python -m xlmr_flax.data corpus --raw download/ --out corpus.txt
    python -m xlmr_flax.data fetch --task squad_v1 --raw download/   # needs the network

`validate` reads one split's files (several `--file` for tasks that need more,
e.g. SIQA's examples and labels) and prints the example count and label
distribution, or the first problem as `FILE:LINE: what is wrong`.
"""

from __future__ import annotations

import argparse
import collections
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


def _layout_for(task, name: str | None, n_files: int):
    """The layout named `name`, or the first that reads `n_files` files."""
    for layout in task.layouts:
        split = (layout.splits or task.splits)[-1]
        if (name is None or layout.name == name) and len(layout.paths(split, "en")) == n_files:
            return layout
    accepted = "; ".join(
        f"{x.name}: {len(x.paths((x.splits or task.splits)[-1], 'en'))} file(s)"
        for x in task.layouts
    )
    raise DataError(f"{task.name}: no layout reads {n_files} --file(s) (layouts: {accepted})")


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
    prepare = sub.add_parser("prepare", help="build a task's array_record dataset")
    prepare.add_argument("--task", required=True, choices=sorted(TASKS))
    prepare.add_argument("--raw", required=True, help="the XTREME download folder")
    prepare.add_argument("--data-dir", required=True, help="TFDS data folder to write")
    fetch = sub.add_parser("fetch", help="write a task's raw files from TFDS's own builder")
    fetch.add_argument("--task", required=True)
    fetch.add_argument("--raw", required=True, help="folder to write the raw files into")
    fetch.add_argument("--tfds-dir", help="where TFDS keeps its downloads and datasets")
    corpus = sub.add_parser("corpus", help="write all text of the tasks' raw data, one per line")
    corpus.add_argument("--raw", required=True, help="the XTREME download folder")
    corpus.add_argument("--out", required=True, help="text file to write")
    validate = sub.add_parser("validate", help="check raw files of one task split")
    validate.add_argument("--task", required=True, choices=sorted(TASKS))
    validate.add_argument(
        "--file", required=True, action="append", help="repeat for multi-file tasks"
    )
    validate.add_argument("--layout", help="the task's layout the files are in (default: by count)")
    args = parser.parse_args(argv)
    if args.command == "corpus":
        return write_corpus(args.raw, args.out)
    if args.command == "fetch":
        from xlmr_flax.data.tfds_native import fetch as fetch_raw

        for path in fetch_raw(args.task, args.raw, args.tfds_dir):
            print(f"wrote {path}")
        return 0
    task = get_task(args.task)
    try:
        if args.command == "prepare":
            from xlmr_flax.data.tfds_builder import prepare as build

            builder = build(task.name, args.raw, args.data_dir)
            for name, split in sorted(builder.info.splits.items()):
                print(f"{task.name} {name}: {split.num_examples} examples")
            print(f"wrote {builder.data_dir}")
        else:
            layout = _layout_for(task, args.layout, len(args.file))
            count, labels = summarize(task, layout.reader(*args.file))
            print(f"{' + '.join(args.file)}: {count} examples")
            for label, n in sorted(labels.items(), key=lambda kv: -kv[1]):
                print(f"  {label}\t{n}")
    except DataError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
