"""What became of each stage of a run, and the failures a study keeps.

A stage ends `done`, `failed` (its own error: bad data, a config error, a
non-finite loss; one line) or `blocked` (an ancestor failed, so it never ran). A
failed stage writes `stages/<id>/FAILED` with its line; the next try of the stage
(the same command run again) removes it first. At the end of a run,
`WORKDIR/failed.json` lists the failed stages of the study with the zero-shot cells
(path, target, seed) they leave empty, for the report; it is removed when nothing
failed. A storage error (disk full, read-only, ESTALE on a bucket mount) is not a
stage's failure: the study stops on it (exit 4).

Under the Ray executor a mount that stopped answering on one host (ENOTCONN, EIO,
ESTALE: `node_error`) is that node's fault, not the study's: the stage is retried on
another node (`NodeFault`, ray_executor.py). In process, with one host, it stops the
study like any storage error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import time

from eval.analysis.records import StageFailure, failures_json
from train.study import layout
from train.study.plan.dag import StageDag
from train.study.run.goodput import StageTimes
from xlmr_flax.atomic import write_file

DONE, FAILED, BLOCKED = "done", "failed", "blocked"
# A mount gone on one host (gcsfuse after its daemon died: ENOTCONN; EIO; a stale handle).
NODE_ERRORS = (errno.ENOTCONN, errno.EIO, errno.ESTALE)
STORAGE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, *NODE_ERRORS)
STORAGE_TEXTS = {
    "No space left on device": errno.ENOSPC,
    "Read-only file system": errno.EROFS,
    "Stale file handle": errno.ESTALE,
    "Transport endpoint is not connected": errno.ENOTCONN,
    "Input/output error": errno.EIO,
}
MAX_LINE = 500


@dataclasses.dataclass
class StageOutcome:
    """How one stage's try ended (what an executor returns per stage)."""

    stage: str
    status: str  # DONE, FAILED or BLOCKED
    error: str | None = None  # one line
    times: StageTimes | None = None
    evaluated: int = 0  # evaluation units run
    ended: float = 0.0  # time.time() at its end: its children may start from here


class StageFailed(Exception):
    """Raised by a stage's Ray task for a failed stage: Ray then fails its dependents
    without running them, and does not retry it (an exception is not a lost worker)."""

    def __init__(self, outcome: StageOutcome):
        super().__init__(outcome.error)
        self.outcome = outcome

    def __reduce__(self):
        return StageFailed, (self.outcome,)


class NodeFault(Exception):
    """Raised by a stage's Ray task when its node, not the stage, is at fault (the
    health check failed, the JAX backend did not start, the mount is gone): the
    driver drains the node and runs the stage again elsewhere."""

    def __init__(self, node: str, line: str):
        super().__init__(line)
        self.node = node
        self.line = line

    def __reduce__(self):
        return NodeFault, (self.node, self.line)


def one_line(err: BaseException) -> str:
    """An exception as one line: its type and its message's first line."""
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def storage_error(err: BaseException) -> OSError | None:
    """The storage failure behind `err`, if any: an OSError with a storage errno in
    its chain, or the same message inside a checkpoint library's own exception."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in STORAGE_ERRORS:
            return err
        for text, code in STORAGE_TEXTS.items():
            if text in str(err):
                named = re.search(r'"(/[^"]+)"', str(err))  # TensorStore quotes the file
                return OSError(code, text, named.group(1) if named else None)
        err = err.__cause__ or err.__context__
    return None


def node_error(err: BaseException) -> OSError | None:
    """The storage failure behind `err` when it is one host's mount that stopped
    answering (NODE_ERRORS), not the storage itself."""
    found = storage_error(err)
    return found if found is not None and found.errno in NODE_ERRORS else None


def write_failed(workdir: str, stage_id: str, error: str, run_id: str) -> None:
    path = layout.stage_failed(workdir, stage_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_file(path, json.dumps(dict(error=error, run=run_id, time=time.time())))


def clear_failed(workdir: str, stage_id: str) -> None:
    """A new try of the stage: its last failure no longer stands."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(layout.stage_failed(workdir, stage_id))


def failed_error(workdir: str, stage_id: str) -> str | None:
    """The one-line error of the stage's last try, if it failed."""
    try:
        with open(layout.stage_failed(workdir, stage_id), encoding="utf-8") as f:
            return str(json.load(f)["error"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return "the FAILED record does not read back"


def blocked_by(dag: StageDag, stage_id: str, failed: set[str]) -> str | None:
    """The failed ancestor of a stage, if one is."""
    while stage_id != dag.root:
        stage_id = dag.stages[stage_id].parent
        if stage_id in failed:
            return stage_id
    return None


def study_failures(dag: StageDag, errors: dict[str, str]) -> list[StageFailure]:
    """The failed stages (`errors`: stage id -> line), each with the zero-shot cells
    its failure leaves empty (the sequences evaluated at it or below it)."""
    from train.study.plan.evaluations import stage_path

    found = []
    for stage_id, error in sorted(errors.items()):
        below = {s.id for s in dag.subtree(stage_id)} if stage_id != dag.root else None
        cells = tuple(
            (tuple(s.path), s.target, s.seed)
            for s in dag.sequences
            if below is None or (s.evaluated_stage or dag.root) in below
        )
        stage = dag.stages.get(stage_id)
        found.append(
            StageFailure(
                stage=stage_id,
                task=stage.task if stage else "pretrained",
                seed=stage.seed if stage else -1,
                path=tuple(stage_path(dag, stage_id)),
                error=error,
                cells=cells,
            )
        )
    return found


def record_failures(workdir: str, failures: list[StageFailure]) -> None:
    """Writes failed.json (or removes it: nothing failed)."""
    path = layout.failed_file(workdir)
    if failures:
        write_file(path, failures_json(failures))
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
