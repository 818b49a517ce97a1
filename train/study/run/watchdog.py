"""A stage's step counters and the watchdog that reads them.

The counters (`stages/<id>/progress.json`, process 0) say which try of the stage in
which run is going, its phase (restore, train, evaluate, done), the last train step
finished and the evaluation units written. The training loop advances them every
step (train/loop.py `LoopClock.on_step`), the evaluation every unit. They are
rewritten at each phase and at most every `WRITE_EVERY_S` seconds while training.

A later try of the same run finds the earlier try's record: it counts itself as a
retry and its time since the first try as lost (goodput). The watchdog is a thread
of the stage's own process: when the counters have not moved for `stall_after_s`
(progress, not liveness: a process hung in a collective is alive), it reports the
stall in one line and calls `on_stall`; the Ray executor kills the worker there, so
Ray retries the stage, which resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from absl import logging

from train.study import layout
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import is_primary

WRITE_EVERY_S = 5.0


class StepCounters:
    """The counters of one try of one stage."""

    def __init__(self, workdir: str, stage_id: str, run_id: str, primary: bool | None = None):
        """`primary`: whether this process writes them (None: process 0 does; asking
        JAX starts its backend, which a caller watching start-up decides itself)."""
        self.primary = primary
        self.path = layout.stage_progress(workdir, stage_id)
        self.stage = stage_id
        now = time.time()
        prior = _read(self.path)
        retry = prior.get("run") == run_id and prior.get("phase") != "done"
        self.attempt = int(prior.get("attempt", 0)) + 1 if retry else 1
        self.first_started = float(prior.get("first_started", now)) if retry else now
        self.started = now
        self.record: dict[str, Any] = dict(
            run=run_id, attempt=self.attempt, first_started=self.first_started, started=now,
            phase="start", step=0, units=0, updated=now,
        )  # fmt: skip
        self._moved = time.monotonic()
        self._written = 0.0
        self._write()

    def _write(self) -> None:
        self.record["updated"] = time.time()
        self._written = time.monotonic()
        if self.primary if self.primary is not None else is_primary():
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_file(self.path, json.dumps(self.record))

    def phase(self, name: str) -> None:
        self.record["phase"] = name
        self._moved = time.monotonic()
        self._write()

    def step(self, next_step: int) -> None:
        self.record["step"] = next_step
        self._moved = time.monotonic()
        if self._moved - self._written >= WRITE_EVERY_S:
            self._write()

    def unit(self, *_: Any) -> None:
        self.record["units"] += 1
        self._moved = time.monotonic()
        self._write()

    def still_for(self) -> float:
        """Seconds since the counters last moved."""
        return time.monotonic() - self._moved


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            found = json.load(f)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def watch(
    counters: StepCounters, stall_after_s: float, on_stall: Callable[[str], None]
) -> threading.Event:
    """Starts the watchdog thread; set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(min(stall_after_s / 4, 10.0)):
            still = counters.still_for()
            if still >= stall_after_s:
                record = counters.record
                message = (
                    f"stage {counters.stage}: no progress for {still:.0f} s (phase "
                    f"{record['phase']}, step {record['step']}, try {record['attempt']}); "
                    "stopping it to be retried"
                )
                logging.error("%s", message)
                on_stall(message)
                return

    if stall_after_s > 0:
        threading.Thread(target=run, name="stage-watchdog", daemon=True).start()
    return stop
