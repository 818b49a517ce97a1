"""The report of an ordering study: Markdown, CSV tables and PNG plots
(`python -m eval report`, eval/__main__.py).

Reads WORKDIR/results.jsonl (and the per-example statistics it points to) and
writes OUT (default WORKDIR/report) whole: report.md, the CSV tables and the plots
that docs/report.md describes. A partial study is reported as far as it goes, with
what is missing listed. The folder is built beside OUT and renamed into place, so a
failed report never leaves a half-written one; an existing OUT is replaced only if
it is an earlier report (or empty).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from eval import analysis as an
from eval.analysis.trained import DEFAULT_MARGIN, KEEP
from eval.report.adaptive import write_adaptive
from eval.report.folder import (
    MARKER,
    ReportError,
    _check_replaceable,
    _move_into_place,
    _write_text,
)
from eval.report.markdown import render_markdown
from eval.report.plots import write_plots
from eval.report.runs import write_run_tables
from eval.report.study import analyse
from eval.report.summary import format_summary, summarise
from eval.report.tables import write_tables
from eval.report.training import write_training_tables

__all__ = [
    "MARKER",
    "ReportError",
    "format_summary",
    "summarise",
    "write_report",
]


def write_report(
    workdir: str,
    out: str | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    test_one_seed: bool = False,
    primary_class: str = "",
    plots: str = "auto",
    failed_runs: str = KEEP,
    failure_margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """Analyses the study in `workdir` and writes the report folder `out` (default
    WORKDIR/report) whole; returns the summary `format_summary` prints.
    `test_one_seed`: test effects that rest on one seed (see `eval.stats.effects`);
    `primary_class`: the resource class whose all-targets effect is tested alone
    (see `eval.stats.ordering.ordering_effects`);
    `plots`: which plots (`eval.report.plots.plot_kinds`);
    `failed_runs`, `failure_margin`: the rule for runs that did not train and the
    check's margin (eval/analysis/trained.py)."""
    if n_boot < 2:
        raise ValueError(f"--n-boot must be at least 2, got {n_boot}")
    out = os.path.abspath(out or an.report_dir(workdir))
    _check_replaceable(out)
    study = analyse(
        workdir,
        n_boot=n_boot,
        seed=seed,
        test_one_seed=test_one_seed,
        primary_class=primary_class,
        failed_runs=failed_runs,
        failure_margin=failure_margin,
    )
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".report-partial-", dir=parent)
    try:
        files = write_tables(study, staging)
        files += write_run_tables(study, staging)
        files += write_training_tables(study, staging)
        files += write_plots(study, staging, plots)
        markdown = render_markdown(study, files, n_boot, seed)
        markdown += write_adaptive(workdir, staging, files)  # "" unless the study is adaptive
        _write_text(os.path.join(staging, "report.md"), markdown)
        files.append("report.md")
        manifest = {"written_by": "eval.report", "files": sorted(files)}
        _write_text(os.path.join(staging, MARKER), json.dumps(manifest, indent=1))
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summarise(study, out)
