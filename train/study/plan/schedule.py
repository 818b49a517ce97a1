"""The schedule a study runs to, simulated: per-stage times in, makespan and chip use out.

Two ways to run the stage DAG on a slice cut into equal chip groups (a chip, a host or
the whole slice per stage):

- `ray_schedule`: list scheduling, as the Ray executor runs a study: a stage (its
  training, then its evaluations, on the same chips) starts as soon as its parent is
  done and a chip group is free; ready stages wait in the order they became ready,
  ties in the order they were submitted (the DAG's order), as Ray's queue of ready
  tasks serves them. Independent jobs (the pretrained model's evaluations) are ready
  at once.
- `static_schedule`: today's `--shard I/N`: the DAG's `shard` method gives each group
  whole subtrees of the root's children balanced by stage count, and each group runs
  its part in sequence; the slice is held until the last group is done.

Chip-hours are what is billed: makespan x every chip of the slice, idle or queued
time included.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping, Sequence

from train.study.plan.dag import StageDag


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    parent: str | None  # a job that must finish first (None, or not a job: ready at once)
    seconds: float


@dataclasses.dataclass(frozen=True)
class Schedule:
    makespan: float  # seconds from the first start to the last finish
    busy: float  # group-seconds of work
    groups: int  # chip groups running side by side
    starts: Mapping[str, float]  # job id -> start time (seconds)

    @property
    def utilisation(self) -> float:
        """Busy share of the chips held (1.0: no chip ever idle or waiting)."""
        return self.busy / (self.makespan * self.groups) if self.makespan else 1.0

    def chip_hours(self, chips: int) -> float:
        """What a slice of `chips` costs for the schedule: held from start to finish."""
        return self.makespan * chips / 3600


def ray_schedule(jobs: Sequence[Job], groups: int) -> Schedule:
    """List scheduling of `jobs` (in submission order) on `groups` identical chip groups."""
    if groups < 1:
        raise ValueError(f"{groups} chip groups: expected at least one")
    order = {job.id: index for index, job in enumerate(jobs)}
    children: dict[str, list[Job]] = {}
    ready: list[tuple[float, int, Job]] = []  # (ready time, submission index, job)
    for job in jobs:
        if job.parent in order:
            children.setdefault(job.parent, []).append(job)
        else:
            ready.append((0.0, order[job.id], job))
    heapq.heapify(ready)
    running: list[tuple[float, int, str]] = []  # (finish time, submission index, job id)
    free, now, starts = groups, 0.0, {}
    while ready or running:
        while free and ready and ready[0][0] <= now:
            _, index, job = heapq.heappop(ready)
            starts[job.id] = now
            heapq.heappush(running, (now + job.seconds, index, job.id))
            free -= 1
        now, _, done = heapq.heappop(running)
        free += 1
        for child in children.get(done, ()):
            heapq.heappush(ready, (now, order[child.id], child))
    if len(starts) != len(jobs):  # a parent that is itself waiting on a cycle
        raise ValueError(f"{len(jobs) - len(starts)} jobs never became ready (a cycle)")
    return Schedule(now, sum(j.seconds for j in jobs), groups, starts)


def critical_path_order(jobs: Sequence[Job]) -> list[Job]:
    """`jobs` reordered longest remaining path first (a job's seconds plus its longest
    chain of descendants), ties in the given order: parents stay before children, so
    an executor can submit in this order, and long chains start early instead of last."""
    children: dict[str, list[Job]] = {}
    for job in jobs:
        children.setdefault(job.parent, []).append(job)
    remaining: dict[str, float] = {}
    for job in reversed(jobs):  # children come after their parents in `jobs`
        below = [remaining[c.id] for c in children.get(job.id, ())]
        remaining[job.id] = job.seconds + max(below, default=0.0)
    index = {job.id: i for i, job in enumerate(jobs)}
    return sorted(jobs, key=lambda j: (-remaining[j.id], index[j.id]))


def static_schedule(parts: Sequence[Sequence[float]]) -> Schedule:
    """Each part's stages in sequence on its own chip group (`parts`: seconds per stage)."""
    totals = [sum(p) for p in parts]
    return Schedule(max(totals, default=0.0), sum(totals), len(parts), {})


def stage_jobs(dag: StageDag, seconds: Mapping[str, float]) -> list[Job]:
    """The study as jobs in the DAG's order: the root's own work (its evaluations,
    needing no stage) first, then every stage after its parent."""
    jobs = [Job(dag.root, None, seconds.get(dag.root, 0.0))]
    for stage in dag.in_order():
        parent = None if stage.parent == dag.root else stage.parent
        jobs.append(Job(stage.id, parent, seconds[stage.id]))
    return jobs


def shard_parts(dag: StageDag, seconds: Mapping[str, float], count: int) -> list[list[float]]:
    """Seconds per stage of each `--shard i/count`; the first shard also evaluates the
    pretrained model (train/study/run/runner.py)."""
    parts = [[seconds[s.id] for s in dag.shard(i, count)] for i in range(count)]
    parts[0].insert(0, seconds.get(dag.root, 0.0))
    return parts
