"""Goodput as the held chips see it: the share of the chip-seconds a run held that
made productive, preserved progress, per stage and per study (docs/pipeline.md,
"Goodput").

Productive: the train steps of each stage's final lineage (the steps of the try
that trained it to the end, and of each earlier try up to the checkpoint the next
one resumed from) and the evaluation units written. Held: every try's time from
when its chips were its own to its end (its last record, for a killed try),
weighted by its chips; the study adds the chips it held that ran no stage (idle).
Waiting for chips (queue) and between tries is counted apart: a stage holds no
chips then, and the study pays for it as idle chips, if any.

The first step of each step function counts as compile (mostly compilation, or a
load from the compilation cache), not train, even where the lineage keeps it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from train.study.run.attempts import ENDED_DONE, RUNNING, Attempt, StageAttempts

# The parts of a stage's held time, productive first; then its waiting time.
PRODUCTIVE = ("train", "evaluation")
HELD = (*PRODUCTIVE, "startup", "restore", "compile", "checkpoint", "other", "lost")
WAITING = ("queue", "between_tries")
# The study's own parts, in chip-seconds, beside its stages'.
STUDY_ONLY = ("idle", "untracked")


@dataclasses.dataclass
class StageTimes:
    """One stage's seconds by part (held by `chips` chips, or waiting) and its steps."""

    stage: str
    task: str
    chips: int = 1
    attempts: int = 1
    train: float = 0.0
    evaluation: float = 0.0
    startup: float = 0.0
    restore: float = 0.0
    compile: float = 0.0
    checkpoint: float = 0.0
    other: float = 0.0
    lost: float = 0.0
    queue: float = 0.0
    between_tries: float = 0.0
    preserved_steps: int = 0  # steps of the final lineage this run trained
    lost_steps: int = 0  # steps trained past the checkpoint a try's successor resumed from
    restored_steps: int = 0  # steps of the lineage an earlier run trained

    @property
    def held_s(self) -> float:
        return sum(getattr(self, part) for part in HELD)

    @property
    def chip_s(self) -> float:
        return self.held_s * self.chips

    @property
    def productive_s(self) -> float:
        return sum(getattr(self, part) for part in PRODUCTIVE)

    @property
    def goodput(self) -> float:
        return self.productive_s / self.held_s if self.held_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        seconds = {part: round(getattr(self, part), 3) for part in (*HELD, *WAITING)}
        return dict(
            stage=self.stage, task=self.task, chips=self.chips, attempts=self.attempts,
            preserved_steps=self.preserved_steps, lost_steps=self.lost_steps,
            restored_steps=self.restored_steps, **seconds, held_s=round(self.held_s, 3),
            chip_s=round(self.chip_s, 3), goodput=round(self.goodput, 4),
        )  # fmt: skip


def final_lineage(attempts: list[Attempt]) -> tuple[dict[int, tuple[int, int, float]], int]:
    """The steps each try kept: {index of the try: (from step, to step, its train
    seconds for them)}, and the step the lineage's first try restored (0, or a
    checkpoint of an earlier run).

    The lineage ends with the try that trained the stage to its last step, or
    without one with the last try's last checkpoint (a stage that failed or was given
    up keeps its checkpoints: the next run resumes there). Going back, each try kept
    its steps up to the checkpoint its successor restored: the latest earlier try
    that started a checkpoint at that step wrote it."""
    kept: dict[int, tuple[int, int, float]] = {}
    ends = [i for i, a in enumerate(attempts) if a.trained and a.restored_step is not None]
    if ends:
        i = ends[-1]
        a = attempts[i]
        kept[i] = (a.restored_step, a.step, a.parts["train"])
    elif attempts and attempts[-1].saves and attempts[-1].restored_step is not None:
        i, a = len(attempts) - 1, attempts[-1]
        step, seconds = a.saves[-1]
        kept[i] = (a.restored_step, int(step), seconds)
    else:
        return kept, 0
    resumed_at = attempts[i].restored_step
    while resumed_at:
        writers = [
            j
            for j in range(i)
            if attempts[j].restored_step is not None
            and attempts[j].restored_step < resumed_at
            and attempts[j].train_s_at(resumed_at) is not None
        ]
        if not writers:
            break  # restored from an earlier run's checkpoint
        i = writers[-1]
        kept[i] = (attempts[i].restored_step, resumed_at, attempts[i].train_s_at(resumed_at))
        resumed_at = attempts[i].restored_step
    return kept, resumed_at or 0


def stage_times(record: StageAttempts, task: str) -> StageTimes:
    """A stage's goodput from its tries (attempts.py): what each kept is productive,
    the rest of an earlier or killed try is lost; the last try, when it ended itself,
    is split by its measured parts."""
    tries = record.attempts
    kept, restored = final_lineage(tries)
    times = StageTimes(
        record.stage, task, chips=max((a.chips for a in tries), default=0), attempts=len(tries)
    )
    times.restored_steps = restored
    times.queue = max(0.0, tries[0].held_from - record.ready_at) if tries else 0.0
    for index, attempt in enumerate(tries):
        if index:
            times.between_tries += max(0.0, attempt.held_from - tries[index - 1].updated)
        first, last, train_s = kept.get(index, (0, 0, 0.0))
        times.preserved_steps += last - first
        if attempt.restored_step is not None:
            times.lost_steps += max(0, attempt.step - max(last, attempt.restored_step))
        evaluation = (
            attempt.parts["evaluation"] if attempt.status == ENDED_DONE else attempt.units_s
        )
        times.train += train_s
        times.evaluation += evaluation
        if index == len(tries) - 1 and attempt.status != RUNNING:
            parts = attempt.parts
            for part in ("startup", "restore", "compile", "checkpoint", "other"):
                setattr(times, part, getattr(times, part) + parts[part])
            # Lost: its train steps past what it kept, its evaluation past its last
            # unit written; other: whatever its clocks missed between parts.
            times.lost += max(0.0, parts["train"] - train_s + parts["evaluation"] - evaluation)
            times.other += max(0.0, attempt.held_s - sum(parts.values()))
        else:
            times.lost += max(0.0, attempt.held_s - train_s - evaluation)
    return times


def stage_line(times: StageTimes) -> str:
    """One line of the run's log: a stage's goodput, its largest other parts, its
    tries and its wait for chips."""
    rest = [p for p in HELD[2:] if getattr(times, p) >= 0.05]
    rest.sort(key=lambda p: -getattr(times, p))
    parts = ", ".join(f"{p} {getattr(times, p):.1f} s" for p in rest)
    tries = ""
    if times.attempts > 1:
        tries = (
            f"; {times.attempts} tries: {times.preserved_steps} steps kept, {times.lost_steps} lost"
        )
    waited = times.queue + times.between_tries
    return (
        f"goodput {times.stage} ({times.task}): {times.goodput:.0%} of {times.chips} chip(s) x "
        f"{times.held_s:.1f} s held (train {times.train:.1f} s, evaluation "
        f"{times.evaluation:.1f} s; {parts or 'nothing else'}{tries}; "
        f"waited {waited:.1f} s for chips)"
    )


@dataclasses.dataclass
class HeldTime:
    """The chips the study held and how long: `chip_s` of which `idle_chip_s` ran
    nothing (held_chips.py measures them; `window_s`: the seconds measured). Without
    a measure (chips 0) the study holds what its stages held."""

    chips: int = 0
    chip_s: float = 0.0
    idle_chip_s: float | None = None  # None: whatever its stages did not use is idle
    window_s: float = 0.0


def study_goodput(stages: list[StageTimes], held: HeldTime, wall_s: float, executor: str) -> dict:
    """The study's goodput.json: its chip-seconds by part (its stages' parts, the
    chips it held idle, and chips busy outside every try's own clock: untracked) and
    every stage that ran."""
    parts = {part: sum(getattr(t, part) * t.chips for t in stages) for part in HELD}
    in_stages = sum(parts.values())
    if held.idle_chip_s is None:  # in process: the devices held for the run's wall time
        idle, untracked = max(0.0, held.chip_s - in_stages), 0.0
    else:  # a cluster: sampled; a try's own clock misses its worker's start
        idle = held.idle_chip_s
        untracked = max(0.0, held.chip_s - idle - in_stages)
    parts.update(idle=idle, untracked=untracked)
    chip_s = sum(parts.values())
    productive = sum(parts[p] for p in PRODUCTIVE)
    return dict(
        executor=executor,
        study=dict(
            wall_s=round(wall_s, 3),
            window_s=round(held.window_s, 3),
            chips=held.chips,
            stages=len(stages),
            attempts=sum(t.attempts for t in stages),
            chip_s=round(chip_s, 3),
            productive_chip_s=round(productive, 3),
            goodput=round(productive / chip_s, 4) if chip_s > 0 else 0.0,
            parts={k: round(v, 3) for k, v in parts.items()},
            waiting_s={w: round(sum(getattr(t, w) for t in stages), 3) for w in WAITING},
            preserved_steps=sum(t.preserved_steps for t in stages),
            lost_steps=sum(t.lost_steps for t in stages),
        ),
        stages=[t.as_dict() for t in stages],
    )


def study_line(goodput: dict[str, Any]) -> str:
    study = goodput["study"]
    parts = sorted(study["parts"].items(), key=lambda kv: -kv[1])
    named = ", ".join(f"{k} {v:.1f}" for k, v in parts if k not in PRODUCTIVE and v >= 0.05)
    waited = sum(study["waiting_s"].values())
    return (
        f"goodput of the study ({goodput['executor']}, {study['stages']} stages run, wall "
        f"{study['wall_s']:.1f} s): {study['goodput']:.0%} of {study['chip_s']:.1f} "
        f"chip-seconds held ({study['chips']} chips) made preserved progress (train "
        f"{study['parts']['train']:.1f}, evaluation {study['parts']['evaluation']:.1f}); "
        f"{named or 'nothing else'}; stages waited {waited:.1f} s for chips"
    )


def goodput_text(goodput: dict[str, Any]) -> str:
    return json.dumps(goodput, indent=1)
