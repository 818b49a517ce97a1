"""Goodput: how much of a run's time was productive train steps, and where the rest
went, per stage and per study (docs/pipeline.md, "Goodput").

A stage's time runs from when it could have started (its parent finished; the
root: when the study was submitted) to its end: queueing and worker start-up,
earlier tries that died (retries), restoring its parent and its data (restore),
the first step of each step function (compile, or a load from the compilation
cache), the other train steps (productive), checkpoint saves, evaluation, and the
rest (publishing the model). The study adds the driver's own time (checks, lock,
results and report) and counts in stage-seconds, so stages running side by side
on a cluster add up, and goodput is productive stage-seconds over all of them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

# The named parts of a stage's time, productive first.
PARTS = ("train", "compile", "restore", "checkpoint", "evaluation", "queue", "retries", "other")


@dataclasses.dataclass
class StageTimes:
    """Seconds of one stage's run, by part (see the module's docstring)."""

    stage: str
    task: str
    attempts: int = 1
    train: float = 0.0
    compile: float = 0.0
    restore: float = 0.0
    checkpoint: float = 0.0
    evaluation: float = 0.0
    queue: float = 0.0
    retries: float = 0.0
    other: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, part) for part in PARTS)

    @property
    def goodput(self) -> float:
        return self.train / self.total if self.total > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        own = {part: round(getattr(self, part), 3) for part in PARTS}
        return dict(stage=self.stage, task=self.task, attempts=self.attempts, **own,
                    total=round(self.total, 3), goodput=round(self.goodput, 4))  # fmt: skip


def stage_line(times: StageTimes) -> str:
    """One line of the run's log: a stage's goodput and its largest other parts."""
    rest = sorted((p for p in PARTS[1:] if getattr(times, p) >= 0.05), key=times.__getattribute__)
    parts = ", ".join(f"{p} {getattr(times, p):.1f} s" for p in reversed(rest))
    retried = f", {times.attempts} tries" if times.attempts > 1 else ""
    return (
        f"goodput {times.stage} ({times.task}): {times.goodput:.0%} "
        f"(train {times.train:.1f} of {times.total:.1f} s; {parts or 'nothing else'}{retried})"
    )


def study_goodput(
    stages: list[StageTimes], wall_s: float, driver_s: float, executor: str
) -> dict[str, Any]:
    """The study's goodput.json: its totals by part (stage-seconds, with the driver's
    own time) and every stage that ran."""
    totals = {part: sum(getattr(t, part) for t in stages) for part in PARTS}
    totals["driver"] = driver_s
    spent = sum(totals.values())
    return dict(
        executor=executor,
        study=dict(
            wall_s=round(wall_s, 3),
            stage_s=round(spent - driver_s, 3),
            stages=len(stages),
            goodput=round(totals["train"] / spent, 4) if spent > 0 else 0.0,
            parts={k: round(v, 3) for k, v in totals.items()},
        ),
        stages=[t.as_dict() for t in stages],
    )


def study_line(goodput: dict[str, Any]) -> str:
    study = goodput["study"]
    parts = sorted(study["parts"].items(), key=lambda kv: -kv[1])
    named = ", ".join(f"{k} {v:.1f} s" for k, v in parts if k != "train" and v >= 0.05)
    return (
        f"goodput of the study ({goodput['executor']}, {study['stages']} stages run, wall "
        f"{study['wall_s']:.1f} s): {study['goodput']:.0%} train steps of "
        f"{sum(study['parts'].values()):.1f} stage-seconds; {named or 'nothing else'}"
    )


def goodput_text(goodput: dict[str, Any]) -> str:
    return json.dumps(goodput, indent=1)
