"""What each try of a stage in one run held and kept, on disk, so that the try that
ends the stage (or the driver, when Ray gave up on it) can tell which train steps and
evaluation units of earlier tries were preserved (goodput.py).

`stages/<id>/attempts.json` (process 0) holds the run's id, when the stage could
have started, and one record per try. A try writes its record when it starts, at
each phase, just before each checkpoint it starts (with the train-step seconds so
far: what that checkpoint would preserve), after each evaluation unit it writes, at
least every `HEARTBEAT_S` seconds in between (a thread: a try lost while it
compiles for minutes is held that long), and at its end. A try that is killed
leaves its last record behind: `updated` is the last time it was heard of.
A new run starts the file afresh (its time before this run is not this run's).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

from absl import logging

from train.study import layout
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import is_primary

HEARTBEAT_S = 5.0
RUNNING, ENDED_DONE, ENDED_FAILED = "running", "done", "failed"
# Seconds a try measures by name (goodput.py adds what it preserved and lost).
MEASURED = ("startup", "restore", "compile", "train", "checkpoint", "evaluation", "other")


def measured_parts() -> dict[str, float]:
    return dict.fromkeys(MEASURED, 0.0)


@dataclasses.dataclass
class Attempt:
    """One try of a stage: when it held its chips, how far it got, what it saved."""

    attempt: int
    chips: int
    held_from: float  # time.time() when its chips were its own (its task began)
    updated: float  # the last time it was heard of: its end, for a try that ended
    status: str = RUNNING  # RUNNING (also: killed while running), ENDED_DONE, ENDED_FAILED
    restored_step: int | None = None  # where its training began (None: it did not train)
    step: int = 0  # the last train step it finished
    trained: bool = False  # its training loop ran to the stage's last step
    saves: list[list[float]] = dataclasses.field(default_factory=list)  # [step, train s]
    units: int = 0  # evaluation units it wrote
    units_s: float = 0.0  # its evaluation seconds up to its last unit written
    parts: dict[str, float] = dataclasses.field(default_factory=lambda: measured_parts())

    @property
    def held_s(self) -> float:
        return max(0.0, self.updated - self.held_from)

    def train_s_at(self, step: int) -> float | None:
        """The train-step seconds of this try up to its checkpoint at `step` (None: it
        started none there)."""
        found = [s for at, s in self.saves if int(at) == step]
        return found[-1] if found else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        names = {f.name for f in dataclasses.fields(cls)}
        attempt = cls(**{k: v for k, v in data.items() if k in names})
        attempt.parts = {**measured_parts(), **attempt.parts}
        return attempt


@dataclasses.dataclass
class StageAttempts:
    """The tries of one stage in one run (the content of attempts.json)."""

    stage: str
    run: str
    ready_at: float  # time.time() when it could have started (its parent had ended)
    attempts: list[Attempt]

    def as_json(self) -> str:
        tries = [dataclasses.asdict(a) for a in self.attempts]
        record = dict(stage=self.stage, run=self.run, ready_at=self.ready_at, attempts=tries)
        return json.dumps(record)


def read_attempts(workdir: str, stage_id: str, run_id: str) -> StageAttempts | None:
    """The stage's tries in run `run_id` (None: no file, another run's, or unreadable)."""
    path = layout.stage_attempts(workdir, stage_id)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("run") != run_id:
            return None
        tries = [Attempt.from_dict(a) for a in data["attempts"]]
        return StageAttempts(stage_id, run_id, float(data["ready_at"]), tries)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        logging.warning("%s: unreadable (%s); its earlier tries are not counted", path, err)
        return None


class AttemptLog:
    """The record of this try, appended to the stage's earlier tries of the same run
    and rewritten as it goes (process 0 writes; the others keep it in memory)."""

    def __init__(
        self, workdir: str, stage_id: str, run_id: str, *, chips: int, held_from: float,
        ready_at: float,
    ) -> None:  # fmt: skip
        self.workdir, now = workdir, time.time()
        prior = read_attempts(workdir, stage_id, run_id) if is_primary() else None
        earlier = prior.attempts if prior else []
        self.current = Attempt(len(earlier) + 1, chips, min(held_from, now), now)
        self.current.parts["startup"] = now - self.current.held_from
        self.record = StageAttempts(
            stage_id, run_id, prior.ready_at if prior else ready_at, [*earlier, self.current]
        )
        self._clock = None
        self._evaluating_since: float | None = None
        self._lock = threading.Lock()  # one snapshot at a time, the newest last
        self._closed = threading.Event()
        self.write()
        if is_primary():
            threading.Thread(target=self._beat, name="attempt-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        while not self._closed.wait(HEARTBEAT_S):
            try:
                self.write()
            except OSError as err:  # the try's own next write meets it too
                logging.warning("attempts.json: heartbeat not written (%s)", err)

    def write(self) -> None:
        with self._lock:
            self.current.updated = time.time()
            if is_primary():
                path = layout.stage_attempts(self.workdir, self.record.stage)
                write_file(path, self.record.as_json())

    def close(self) -> None:
        """Stops the heartbeat (this try ended, or its process is about to)."""
        self._closed.set()

    def add(self, part: str, seconds: float) -> None:
        self.current.parts[part] += seconds
        self.write()

    def training(self, clock) -> None:
        """Follows a training loop's clock (train/loop.py `LoopClock`): its steps, its
        checkpoints, its timings."""
        self._clock = clock

    def _from_clock(self) -> None:
        clock, current = self._clock, self.current
        current.restored_step = clock.first_step
        current.step = clock.first_step + clock.steps
        current.parts.update(compile=clock.compile_s, train=clock.steps_s, checkpoint=clock.saves_s)

    def step(self, next_step: int) -> None:
        """After each train step: the heartbeat writes it (the first at once: where
        this try's training began)."""
        first = self.current.restored_step is None
        self._from_clock()
        if first:
            self.write()

    def save(self, next_step: int) -> None:
        """Just before a checkpoint of `next_step` steps is started."""
        self._from_clock()
        self.current.step = next_step
        self.current.saves.append([next_step, self._clock.steps_s])
        self.write()

    def training_ended(self, clock, began: float, ended: float, finished: bool) -> None:
        """The stage's training returned (`finished`) or raised; `began` and `ended`:
        its span (time.perf_counter()), of which the loop's clock timed its part."""
        self._clock, parts = clock, self.current.parts
        if clock.started is None:  # stopped, or found the stage trained, before its loop
            parts["restore"] += ended - began
        else:
            self._from_clock()
            parts["restore"] += clock.started - began  # parent model, data, checkpoint
            if clock.ended is not None:
                parts["other"] += ended - clock.ended  # publishing the model
            self.current.trained = finished
        self.write()

    def evaluating(self) -> None:
        self._evaluating_since = time.perf_counter()
        self.write()

    def unit(self, *_: Any) -> None:
        self.current.units += 1
        if self._evaluating_since is not None:
            self.current.units_s = time.perf_counter() - self._evaluating_since
        self.write()

    def end(self, status: str) -> StageAttempts:
        """This try ended itself (ENDED_DONE or ENDED_FAILED); returns every try."""
        self.close()
        self.current.status = status
        self.write()
        return self.record
