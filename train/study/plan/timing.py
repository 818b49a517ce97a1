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
from collections.abc import Callable, Mapping

from train.hparams import stage_tasks
from train.study.plan.dag import StageDag
from train.study.plan.roofline import (
    StepCost,
    analytic_evaluation,
    analytic_train_step,
    roofline_seconds,
    train_memory_per_device,
)
from train.study.plan.schedule import Schedule, ray_schedule, shard_parts, stage_jobs
from train.study.plan.schedule import static_schedule as run_static
from train.study.plan.targets import GIB, TPU_CHIPS, Target, parse_target
from xlmr_flax import get_model_config

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


def compiled_costs(config, dag: StageDag, path: str | None, devices: int):
    """{stage id: cost of one train step} from the compilation recorded at `path` by
    `--compile-only --workdir` (train/study/plan/compile.py), if it ran on `devices`
    devices; else {}."""
    if not path:
        return {}
    from train.study.plan.compile import read_compiled_costs

    compiled_devices, costs = read_compiled_costs(path)
    if not costs or compiled_devices != devices:
        return {}
    from train.study.plan.programs import train_programs

    return {
        stage_id: costs[p.name]
        for p in train_programs(config, dag)
        if p.name in costs
        for stage_id in p.stages
        if len(stage_tasks(dag.stages[stage_id].task)) == 1
    }


def topology_costs(
    config, dag, target: Target, train, evals, mfu, compiled_path: Callable[[str], str] | None
):
    """(LayoutCost per layout, where the step costs came from per layout).
    `compiled_path(topology)`: where a compilation for it is recorded (None: nowhere)."""
    model = get_model_config(config.model)
    flops = sum(w.flops for w in train.values()) + sum(w.flops for w in evals.values())
    rows, sources = [], {}
    for layout in LAYOUTS:
        chips = chips_per_stage(target, layout)
        name = compiled_name(target, chips)
        path = compiled_path(name) if compiled_path and name else None
        compiled = compiled_costs(config, dag, path, chips)
        sources[layout] = f"compiled for {name}" if compiled else "analytic"
        seconds = stage_seconds(target, chips, model, train, evals, mfu, compiled)
        row = layout_cost(target, layout, dag, seconds, flops)[0]
        note = memory_note(model, target, chips, train, compiled, row.note)
        rows.append(dataclasses.replace(row, note=note))
    return rows, sources


def compilable(name: str | None) -> bool:
    """Whether `name` is a topology compile-only accepts (a v4 chip alone is not)."""
    try:
        return bool(name) and bool(parse_target(name))
    except ValueError:
        return False


def memory_note(model, target: Target, chips: int, train, compiled, note: str) -> str:
    """`note`, or that the largest train step does not fit a device's memory:
    the compiled program's peak where the workdir holds it, else an estimate
    (roofline.train_memory_per_device) that `--compile-only` confirms or refutes."""
    largest, task, how = 0.0, "", "estimated"
    for stage_id, w in train.items():
        cost = compiled.get(stage_id)
        need = (cost.peak_bytes if cost and cost.peak_bytes else
                train_memory_per_device(model, w.peak_tokens, w.peak_length, chips))  # fmt: skip
        if need > largest:
            largest, task = need, w.kind
            how = "compiled" if cost and cost.peak_bytes else "estimated"
    if not target.device_memory or largest <= target.device_memory:
        return note
    check = ""
    if how == "estimated" and compilable(compiled_name(target, chips)):
        check = f"; --compile-only --topology {compiled_name(target, chips)} checks it"
    return (
        f"does not fit: {how} {largest / GIB:.0f} GiB per chip for {task}'s step, "
        f"{target.device_memory / GIB:.0f} GiB of HBM{check}"
    )
