"""Where each try of a stage ran and how it ended (the Ray executor).

Every try of a stage writes `stages/<id>/tries/<run>.<n>.json` when it starts
(`end: running`) and again when it ends: `done`, `failed` (the stage's own error),
`node fault` (its node was at fault; the line says why), `stalled` (the watchdog
stopped it). A try whose worker or node was lost keeps `running`. The driver reads
the record of a lost try (a stall is not a preemption) and of a try that has not
started (a stage still waiting for a node); tests read which node each try ran on.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from train.study import layout
from xlmr_flax.atomic import write_file

RUNNING, DONE, FAILED, NODE_FAULT, STALLED = "running", "done", "failed", "node fault", "stalled"


def try_path(workdir: str, stage_id: str, run_id: str, attempt: int) -> str:
    return os.path.join(layout.stage_tries_dir(workdir, stage_id), f"{run_id}.{attempt}.json")


class TryRecord:
    """The record of one try, written at its start and rewritten at its end by the
    try's one process (a Ray task of one process per stage: asking JAX which
    process this is would start its backend before the health check)."""

    def __init__(self, workdir: str, stage_id: str, run_id: str, attempt: int, node: str):
        self.path = try_path(workdir, stage_id, run_id, attempt)
        self.record: dict[str, Any] = dict(
            stage=stage_id, run=run_id, attempt=attempt, node=node, pid=os.getpid(),
            started=time.time(), end=RUNNING,
        )  # fmt: skip
        self._write()

    def end(self, how: str, error: str | None = None, phase: str | None = None) -> None:
        self.record.update(end=how, ended=time.time())
        if error:
            self.record["error"] = error
        if phase:
            self.record["phase"] = phase
        self._write()

    def _write(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_file(self.path, json.dumps(self.record))


def read_try(workdir: str, stage_id: str, run_id: str, attempt: int) -> dict[str, Any] | None:
    """The record of one try, None before it started (or when it does not read)."""
    try:
        with open(try_path(workdir, stage_id, run_id, attempt), encoding="utf-8") as f:
            found = json.load(f)
        return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None


def stage_tries(workdir: str, stage_id: str) -> list[dict[str, Any]]:
    """Every recorded try of the stage, oldest first."""
    folder = layout.stage_tries_dir(workdir, stage_id)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                found.append(json.load(f))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: (r.get("run", ""), r.get("attempt", 0)))
