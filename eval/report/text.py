"""The small pieces of report text: numbers, paths, comparisons, Markdown tables and
the effect cells of the ordering tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from eval import analysis as an

MAX_ROWS = 50  # longer lists in report.md are cut; the CSV files hold every row


def _short(path: Sequence[str]) -> str:
    return an.path_key(path)


def comparison_label(first: Sequence[str], second: Sequence[str]) -> str:
    """'mnli>squad_v1 vs squad_v1>mnli' (effect = first − second)."""
    return f"{_short(first)} vs {_short(second)}"


def _fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _pm(mean: float, sd: float, digits: int = 1) -> str:
    if math.isfinite(sd):
        return f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return f"{mean:.{digits}f}"


def _label(path: Sequence[str]) -> str:
    return " → ".join(path) if path else "(none)"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return [*lines, ""]


def _cut(rows: Sequence, csv_name: str) -> tuple[Sequence, list[str]]:
    """The first MAX_ROWS rows, and a line pointing to the CSV when rows were cut."""
    if len(rows) <= MAX_ROWS:
        return rows, []
    return rows[:MAX_ROWS], [f"({len(rows) - MAX_ROWS} more rows in `{csv_name}`.)", ""]


def _effect_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    marks = "*" if row["significant"] else "†" if row["excludes_zero"] else ""
    marks += "~" if row.get("conditional") else ""
    interval = f"[{_fmt(row['ci_low'], 2)}, {_fmt(row['ci_high'], 2)}]"
    return f"{_fmt(row['effect'], 2, True)}{marks} {interval}"
