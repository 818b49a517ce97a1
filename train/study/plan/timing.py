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
from collections.abc import Callable, Mapping, Sequence

from train.hparams import stage_tasks
from train.study.plan.dag import StageDag
from train.study.plan.fit import (
    chips_per_stage,
    does_not_fit,
    fit_summary,
    read_peaks,
    stage_micro_batches,
    study_fits,
)
from train.study.plan.programs import train_label
from train.study.plan.roofline import (
    StepCost,
    analytic_evaluation,
    analytic_train_step,
    roofline_seconds,
)
from train.study.plan.schedule import Schedule, ray_schedule, shard_parts, stage_jobs
from train.study.plan.schedule import static_schedule as run_static
from train.study.plan.targets import TPU_CHIPS, Target, parse_target
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
    micro_batches: str = ""  # the train steps run in several micro-batches: "task k, ..."
    refused: str = ""  # why `--executor ray` cannot run it here ("": it can)


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
    micro_batches: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """{stage id (and the root): seconds of its training and evaluations on `chips`}.
    `train`/`evals`: cost.Work per stage; `compiled`: step costs per stage id compiled
    for `chips` devices; `micro_batches`: each stage's (default 1)."""
    micro_batches = micro_batches or {}
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
                    model, w.tokens_per_step, w.length, chips, micro_batches.get(stage_id, 1)
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


def compiled_costs(
    config, dag: StageDag, path: str | None, devices: int, fits: Mapping[str, tuple]
) -> dict[str, StepCost]:
    """{stage id: cost of one train step} from the compilation recorded at `path` by
    `--compile-only --workdir` (train/study/plan/compile.py), if it ran on `devices`
    devices, of each program in the micro-batches chosen for it (`fits`); else {}."""
    if not path:
        return {}
    from train.study.plan.compile import read_compiled_costs

    compiled_devices, costs = read_compiled_costs(path)
    if not costs or compiled_devices != devices:
        return {}
    found = {}
    for program, fit in fits.values():
        name = train_label(program.shape, fit.micro_batches or 1)
        for stage_id in program.stages if name in costs else ():
            if len(stage_tasks(dag.stages[stage_id].task)) == 1:
                found[stage_id] = costs[name]
    return found


def topology_costs(
    config, dag, target: Target, train, evals, mfu, compiled_path: Callable[[str], str] | None,
    cluster: Sequence[str] | None = None,
):  # fmt: skip
    """(LayoutCost per layout, where the step costs came from per layout).
    `compiled_path(topology)`: where a compilation for it is recorded (None: nowhere);
    `cluster`: the accelerator types the cluster file offers (None: not checked).
    Each layout runs every train step in the least micro-batches that fit a chip
    (train/study/plan/fit.py)."""
    model = get_model_config(config.model)
    flops = sum(w.flops for w in train.values()) + sum(w.flops for w in evals.values())
    rows, sources = [], {}
    for layout in LAYOUTS:
        chips = chips_per_stage(target, layout)
        name = compiled_name(target, chips)
        path = compiled_path(name) if compiled_path and name else None
        fits = study_fits(config, dag, chips, target.device_memory, read_peaks(path, chips))
        compiled = compiled_costs(config, dag, path, chips, fits)
        sources[layout] = f"compiled for {name}" if compiled else "analytic"
        micro = stage_micro_batches(dag, fits)
        seconds = stage_seconds(target, chips, model, train, evals, mfu, compiled, micro)
        row = layout_cost(target, layout, dag, seconds, flops)[0]
        note = does_not_fit(fits, target) or row.note
        refused = ray_refusal(target, layout) or cluster_refusal(target, layout, cluster)
        rows.append(dataclasses.replace(
            row, note=note, micro_batches=fit_summary(fits), refused=refused
        ))  # fmt: skip
    return rows, sources


def ray_refusal(target: Target, layout: str) -> str:
    """Why the Ray executor does not run `layout` on `target` ("" when it does): it runs
    one task per stage (train/study/run/resources.py): a chip, a host, or a slice of
    one host."""
    if layout == "slice" and target.hosts > 1:
        return "not run by --executor ray (a stage across hosts)"
    return ""


def cluster_refusal(target: Target, layout: str, offered: Sequence[str] | None) -> str:
    """Why the cluster file cannot supply a stage of `layout` on `target` ("" when it
    can, or when `offered` is None): a chip or a host of `target`'s generation needs a
    node type of that generation with at least as many chips per host; a slice, a node
    type of exactly that accelerator type."""
    if offered is None or target.platform != "tpu":
        return ""
    chips = chips_per_stage(target, layout)
    if layout == "slice" and target.hosts > 1:
        supplied = target.name in offered
    else:
        supplied = any(
            t.generation == target.generation and t.chips_per_host >= chips
            for t in map(parse_target, offered)
        )
    if supplied:
        return ""
    return f"the cluster file offers no node for it (offers {', '.join(offered) or 'none'})"
