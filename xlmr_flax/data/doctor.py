"""What a raw-data folder holds: every task × split × language found, the layout it
was recognised in, its examples, whether it has gold, and its first problem.

    rows = inspect(raw_dir)          # every registered task
    print(format_table(rows))

`python -m xlmr_flax.data doctor --raw DIR` prints the table; what one study needs
of the folder is the pipeline's check (`python -m train --config FILE --check-data`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from xlmr_flax.errors import DataError
from xlmr_flax.tasks import TASKS, Task, get_task


@dataclasses.dataclass(frozen=True)
class SplitRow:
    """One (task, split, language) whose files are under the raw folder."""

    task: str
    split: str
    lang: str
    layout: str
    files: tuple[str, ...]
    examples: int | None  # None: unreadable
    no_gold: str | None  # None: has gold; else why not (predicted, never scored)
    problem: str | None  # the first problem reading it (`FILE:LINE: ...`)

    @property
    def gold(self) -> str:
        if self.problem:
            return "-"
        return "yes" if self.no_gold is None else "no"


def inspect_split(task: Task, raw_dir: str, split: str, lang: str) -> SplitRow | None:
    """The row of (split, lang), None when no layout's files are there."""
    located = task.locate(raw_dir, split, lang)
    if located is None:
        return None
    layout, files = located
    try:
        count = sum(1 for _ in layout.read(files, lang))
        if count == 0:
            return None  # a file shared by languages with none of this one's examples
        no_gold = task.gold(raw_dir, split, lang)
        problem = None
    except DataError as err:
        count, no_gold, problem = None, None, str(err)
    return SplitRow(task.name, split, lang, layout.name, tuple(files), count, no_gold, problem)


def inspect(raw_dir: str, tasks: Iterable[str] | None = None) -> list[SplitRow]:
    """Rows of every (split, language) found of `tasks` (default: every task)."""
    rows = []
    for name in sorted(tasks if tasks is not None else TASKS):
        task = get_task(name)
        for split in task.splits:
            for lang in task.languages(split):
                row = inspect_split(task, raw_dir, split, lang)
                if row is not None:
                    rows.append(row)
    return rows


def format_table(rows: list[SplitRow]) -> str:
    """A fixed-width table, one line per row, then every problem again in full."""
    header = ("task", "split", "lang", "layout", "examples", "gold", "note")
    lines = [header]
    for r in rows:
        note = r.problem or r.no_gold or ""
        examples = "?" if r.examples is None else str(r.examples)
        lines.append((r.task, r.split, r.lang, r.layout, examples, r.gold, note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    ]
    problems = [r.problem for r in rows if r.problem]
    if problems:
        text += ["", f"{len(problems)} problem(s):", *(f"  {p}" for p in problems)]
    return "\n".join(line.rstrip() for line in text)
