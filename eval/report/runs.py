"""What the report says of the study's last run itself: the stages that failed (with
their error and the zero-shot cells they leave empty) and where its time went
(goodput). Both come from the study folder (`failed.json`, `goodput.json`; see
eval/analysis/records.py); a folder without them reports neither."""

from __future__ import annotations

from typing import Any

from eval.analysis.records import StageFailure
from eval.report.study import Study
from eval.report.tables import _write_csv
from eval.report.text import _cut, _label, _table

PART_NAMES = {
    "train": "train steps kept (productive)",
    "evaluation": "evaluation units written (productive)",
    "startup": "worker start-up (backend, mesh)",
    "restore": "restore (parent model, data, checkpoint)",
    "compile": "compile (first step of each program)",
    "checkpoint": "checkpoint saves",
    "other": "publishing models, untimed gaps",
    "lost": "lost (tries' work past their last kept checkpoint)",
    "idle": "idle (chips held, no stage running)",
    "untracked": "untracked (chips busy outside every try's clock)",
}


def failed_cells(failures: list[StageFailure]) -> list[dict[str, Any]]:
    """One row per zero-shot cell a failure leaves empty (failed.csv)."""
    return [
        dict(path=path, target=target, seed=seed, stage=f.stage, error=f.error)
        for f in failures
        for path, target, seed in f.cells
    ]


def section_failed(failures: list[StageFailure]) -> list[str]:
    """Lines for "What is missing": the failed stages and the cells they empty."""
    if not failures:
        return []
    lines = [
        f"{len(failures)} stage(s) failed in the last run; they and every stage below them "
        "have no records, so these zero-shot cells are missing (all languages; the same "
        "command tries them again; every cell in `failed.csv`):",
        "",
    ]
    rows = []
    for f in failures:
        targets = sorted({f"{_label(p)}: {t} (seed {s})" for p, t, s in f.cells})
        error = f.error.replace("|", "/")  # a Markdown table cell
        rows.append((f.stage, _label(f.path), f.seed, error, "; ".join(targets)))
    shown, more = _cut(rows, "failed.csv")
    return [*lines, *_table(("stage", "path", "seed", "error", "missing cells"), shown), *more]


def section_goodput(goodput: dict[str, Any] | None) -> list[str]:
    """The goodput of the last run: its chip-seconds by part and their share."""
    if not goodput:
        return []
    study = goodput["study"]
    parts = study["parts"]
    spent = sum(parts.values()) or 1.0
    waited = sum((study.get("waiting_s") or {}).values())
    lines = [
        "## Goodput of the last run",
        "",
        f"Executor `{goodput['executor']}`, {study['stages']} stage(s) run in "
        f"{study.get('attempts', study['stages'])} tries, wall time {study['wall_s']:.1f} s, "
        f"{study.get('chips', 0)} chips held: goodput (train steps kept in each stage's "
        f"final checkpoint lineage and evaluation, over every chip-second held) "
        f"**{study['goodput']:.0%}**; {study.get('preserved_steps', 0)} train steps kept, "
        f"{study.get('lost_steps', 0)} lost; stages waited {waited:.1f} s for chips (not "
        "counted: no chip was theirs). Per stage: `goodput.csv`.",
        "",
    ]
    rows = [
        (PART_NAMES.get(name, name), f"{seconds:.1f}", f"{seconds / spent:.0%}")
        for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1])
    ]
    return [*lines, *_table(("part", "chip-seconds", "share"), rows)]


def write_run_tables(study: Study, directory: str) -> list[str]:
    """failed.csv and goodput.csv where there is something to write."""
    files = []
    if study.failures:
        columns = ("path", "target", "seed", "stage", "error")
        files.append(_write_csv(directory, "failed.csv", failed_cells(study.failures), columns))
    if study.goodput and study.goodput.get("stages"):
        rows = study.goodput["stages"]
        files.append(_write_csv(directory, "goodput.csv", rows, tuple(rows[0])))
    return files
