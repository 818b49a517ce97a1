"""The report folder is replaced whole or not at all: it is built beside OUT and
renamed into place, and an existing OUT is replaced only if it is an earlier report
(it holds MARKER) or empty."""

from __future__ import annotations

import os
import shutil
import tempfile

MARKER = ".xlmr-flax-report"  # names a folder this module wrote, so it may be replaced


class ReportError(RuntimeError):
    """The report cannot be written where asked."""


def _check_replaceable(out: str) -> None:
    """Refuses an existing `out` that is neither empty nor an earlier report."""
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ReportError(f"{out}: exists and is not a folder; choose another --out")
    if os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
        raise ReportError(
            f"{out}: exists and is not a report written by `python -m eval report` "
            "(no marker file); choose another --out or move it away"
        )


def _move_into_place(staging: str, out: str) -> None:
    """Renames `staging` to `out`; an earlier report is moved aside first and removed
    only once the new one is in place."""
    _check_replaceable(out)  # again: something may have appeared while we analysed
    if not os.path.exists(out):
        os.rename(staging, out)
        return
    old = tempfile.mkdtemp(prefix=".report-old-", dir=os.path.dirname(out))
    os.rmdir(old)  # a fresh unused name: rename needs the target to be absent
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
