"""Each stage's time on the chips a layout gives it, and what each layout then costs on a
topology: the schedule Ray runs (train/study/plan/schedule.py) against today's static
`--shard I/N` parts.

A stage's time is its training steps then its own evaluations on the same chips. Without
a given MFU a step takes its roofline bound (train/study/plan/roofline.py), from the
program compiled for that many devices where the workdir holds it, else counted
analytically; with `--mfu` it takes FLOPs / (chips x peak x MFU), the MFU falling in
proportion below SATURATING_TOKENS tokens per chip per step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from train.study.plan.dag import StageDag
from train.study.plan.roofline import (
    StepCost,
    analytic_evaluation,
    analytic_train_step,
    roofline_seconds,
)
from train.study.plan.schedule import Schedule, ray_schedule, shard_parts, stage_jobs
from train.study.plan.schedule import static_schedule as run_static
from train.study.plan.targets import TPU_CHIPS, Target

LAYOUTS = ("slice", "host", "chip")
SATURATING_TOKENS = 4096


def mfu_at(tokens_per_chip: float, mfu: float) -> float:
    return mfu * min(1.0, tokens_per_chip / SATURATING_TOKENS)


@dataclasses.dataclass(frozen=True)
class LayoutCost:
    layout: str
    chips_per_stage: int
    parallel: int  # stages side by side
    chip_hours: float  # the schedule Ray runs: makespan x every chip of the slice
    hours: float
    usd: float | None
    note: str = ""
    utilisation: float = 1.0  # busy share of the chips held, under Ray
    static_chip_hours: float = 0.0  # today's --shard I/N parts, one per chip group
    static_hours: float = 0.0
    static_utilisation: float = 1.0
    peak_fraction: float = 0.0  # FLOPs done / (busy chip-seconds x peak): the bound's MFU


def chips_per_stage(target: Target, layout: str) -> int:
    return {"slice": target.chips, "host": target.chips_per_host, "chip": 1}[layout]


def compiled_name(target: Target, chips: int) -> str | None:
    """The topology a stage of `chips` chips of `target`'s generation compiles as
    (v4-8 for a v4 host), None for GPU and CPU targets."""
    chip = TPU_CHIPS.get(target.generation)
    return f"{target.generation}-{chips * chip['cores_per_chip']}" if chip else None


def stage_seconds(
    target: Target,
    chips: int,
    model,
    train: Mapping[str, object],
    evals: Mapping[str, object],
    mfu: float | None,
    compiled: Mapping[str, StepCost],
) -> dict[str, float]:
    """{stage id (and the root): seconds of its training and evaluations on `chips`}.
    `train`/`evals`: cost.Work per stage; `compiled`: step costs per stage id compiled
    for `chips` devices."""
    peak, bandwidth = target.peak_flops, target.bandwidth
    seconds: dict[str, float] = {}
    for stage_id in {*train, *evals}:
        total = 0.0
        w = train.get(stage_id)
        if w is not None and w.steps:
            if mfu:
                total += w.flops / (chips * peak * mfu_at(w.tokens_per_step / chips, mfu))
            else:
                step = compiled.get(stage_id) or analytic_train_step(
                    model, w.tokens_per_step, w.length, chips
                )
                step = dataclasses.replace(step, flops=w.flops / w.steps)  # the stage's count
                total += w.steps * roofline_seconds(step, chips, peak, bandwidth)
        e = evals.get(stage_id)
        if e is not None and e.flops:
            if mfu:  # evaluation batches are large (config.eval.batch_size): the full MFU
                total += e.flops / (chips * peak * mfu)
            else:
                cost = analytic_evaluation(model, e.tokens, e.length, e.calls, chips)
                total += roofline_seconds(cost, chips, peak, bandwidth)
        seconds[stage_id] = total
    return seconds


def layout_cost(
    target: Target, layout: str, dag: StageDag, seconds: Mapping[str, float], flops: float
) -> tuple[LayoutCost, Schedule, Schedule]:
    """The layout's cost under Ray, with today's static shards for comparison."""
    chips = chips_per_stage(target, layout)
    groups = target.chips // chips
    ray = ray_schedule(stage_jobs(dag, seconds), groups)
    static = run_static(shard_parts(dag, seconds, groups)) if groups > 1 else ray
    chip_hours = ray.chip_hours(target.chips)
    usd = chip_hours * target.price_per_chip_hour if target.price_per_chip_hour else None
    note = "single host: the same as slice" if layout == "host" and target.hosts == 1 else ""
    busy_chip_seconds = ray.busy * chips
    return (
        LayoutCost(
            layout=layout,
            chips_per_stage=chips,
            parallel=groups,
            chip_hours=chip_hours,
            hours=ray.makespan / 3600,
            usd=usd,
            note=note,
            utilisation=ray.utilisation,
            static_chip_hours=static.chip_hours(target.chips),
            static_hours=static.makespan / 3600,
            static_utilisation=static.utilisation,
            peak_fraction=flops / (busy_chip_seconds * target.peak_flops)
            if busy_chip_seconds
            else 0.0,
        ),
        ray,
        static,
    )
