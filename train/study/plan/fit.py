"""Steps that fit the chips: for each train program, the least micro-batches (gradient
accumulation, train/step.py) whose memory fits one device of a layout.

The memory of a step in `k` micro-batches comes, in this order of trust, from
- the program compiled for that many devices in `k` micro-batches (`--compile-only
  --workdir`, recorded in WORKDIR/compiled/<topology>.json): its peak, or the
  compiler's refusal (RESOURCE_EXHAUSTED);
- the same program compiled in another count, corrected by the estimate's difference
  between the two counts ("calibrated");
- the estimate alone (roofline.train_memory_per_device, calibrated against compiled
  peaks; docs/tpu.md, "Memory").

A step is sized at its program's shape (batch x choices x the stage's maximum length),
the largest batch it can see, so the dry run, `--compile-only` and the run itself
choose the same count. A config that names `micro_batches` (an integer) is checked,
not chosen for; 0 (`AUTO`, the default) takes the least count that fits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping

from train.hparams import AUTO
from train.study.plan.dag import StageDag
from train.study.plan.programs import Program, train_programs
from train.study.plan.roofline import train_memory_per_device
from train.study.plan.targets import GIB, Target
from xlmr_flax import get_model_config

Peaks = Mapping[tuple[str, int], float | None]  # (program shape, micro-batches) -> peak


@dataclasses.dataclass(frozen=True)
class Fit:
    """A train program's micro-batches on one device count."""

    micro_batches: int | None  # None: no count fits (or none splits the batch)
    need_bytes: float  # one device's memory at that count (at the most, if none fits)
    how: str  # "compiled", "calibrated" (from a compiled count) or "estimated"


def micro_batch_options(rows: int, devices: int) -> list[int]:
    """Counts that split a batch of `rows` into equal micro-batches, each dividing over
    `devices` data-parallel devices, ascending."""
    return [k for k in range(1, rows + 1) if rows % (k * devices) == 0]


def program_fit(
    model, program: Program, devices: int, capacity: float | None, peaks: Peaks | None = None
) -> Fit:
    """The least micro-batches of `program` whose step fits `capacity` bytes per device
    (any count the compiler did not refuse fits an unknown capacity); the config's own
    count if it names one."""
    peaks = peaks or {}
    given = program.micro_batches
    options = micro_batch_options(program.rows, devices) if given == AUTO else [given]
    if not options or program.rows % (options[0] * devices):
        return Fit(None, math.inf, f"no count splits {program.rows} rows over {devices} devices")

    def estimate(k: int) -> float:
        return train_memory_per_device(model, program.tokens, program.length, devices, k)

    known = {k: v for (shape, k), v in peaks.items() if shape == program.shape}
    measured = {k: v for k, v in known.items() if v is not None}

    def need(k: int) -> tuple[float, str]:
        if k in known:
            return (math.inf if known[k] is None else known[k]), "compiled"
        if measured:
            near = min(measured, key=lambda j: (abs(math.log(j / k)), j))
            return measured[near] + estimate(k) - estimate(near), "calibrated"
        return estimate(k), "estimated"

    for k in options:
        bytes_, how = need(k)
        if math.isfinite(bytes_) and (capacity is None or bytes_ <= capacity):
            return Fit(k, bytes_, how)
    bytes_, how = need(options[-1])
    return Fit(None, bytes_, how)


def recorded_programs(path: str | None, devices: int) -> list[dict]:
    """The program entries of a compilation recorded at `path` for `devices` devices
    ([] if there is none, or it was compiled for another count)."""
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    return record["programs"] if record.get("devices") == devices else []


def read_peaks(path: str | None, devices: int) -> Peaks:
    """{(program shape, micro-batches): peak bytes, None where the compiler refused} of
    a compilation recorded at `path` for `devices` devices ({} if none)."""
    return {
        (p.get("shape") or p["program"], p.get("micro_batches", 1)): (
            p["peak_bytes"] if p.get("fits", True) else None
        )
        for p in recorded_programs(path, devices)
        if p.get("kind", "train") == "train" and ("peak_bytes" in p or not p.get("fits", True))
    }


def study_fits(
    config, dag: StageDag, devices: int, capacity: float | None, peaks: Peaks | None = None
) -> dict[str, tuple[Program, Fit]]:
    """{program shape: (program, its fit)} of every train program of the study."""
    model = get_model_config(config.model)
    return {
        p.shape: (p, program_fit(model, p, devices, capacity, peaks or {}))
        for p in train_programs(config, dag)
    }


def stage_micro_batches(dag: StageDag, fits: Mapping[str, tuple[Program, Fit]]) -> dict[str, int]:
    """{stage id: micro-batches}: a mixture stage takes its tasks' largest count; a stage
    whose step fits at no count keeps 1 (its layout does not fit)."""
    chosen: dict[str, int] = {}
    for program, fit in fits.values():
        for stage_id in program.stages:
            chosen[stage_id] = max(chosen.get(stage_id, 1), fit.micro_batches or 1)
    return chosen


def task_micro_batches(dag: StageDag, per_stage: Mapping[str, int]) -> dict[str, int]:
    """{stage task (or mixture): micro-batches}: every stage of a task has its shape."""
    chosen: dict[str, int] = {}
    for stage_id, k in per_stage.items():
        task = dag.stages[stage_id].task
        chosen[task] = max(chosen.get(task, 1), k)
    return chosen


def misfits(fits: Mapping[str, tuple[Program, Fit]]) -> list[tuple[Program, Fit]]:
    """The train programs that fit at no count, largest need first."""
    found = [(p, f) for p, f in fits.values() if f.micro_batches is None]
    return sorted(found, key=lambda pf: -pf[1].need_bytes)


def fit_summary(fits: Mapping[str, tuple[Program, Fit]]) -> str:
    """`commonsenseqa 4 (compiled), hellaswag 4` for the programs run in several
    micro-batches, each marked where its memory came from a compilation."""
    parts: dict[str, tuple[int, str]] = {}
    for program, fit in fits.values():
        if fit.micro_batches and fit.micro_batches > 1:
            name = program.shape.split(" ")[1]
            parts[name] = max(parts.get(name, (1, "")), (fit.micro_batches, fit.how))
    return ", ".join(
        f"{name} {k}" + ("" if how == "estimated" else f" ({how})")
        for name, (k, how) in sorted(parts.items())
    )


def does_not_fit(fits: Mapping[str, tuple[Program, Fit]], target: Target) -> str:
    """One line naming the largest program that fits at no count ("" if all fit)."""
    bad = misfits(fits)
    if not bad:
        return ""
    program, fit = bad[0]
    need = f"{fit.how} {fit.need_bytes / GIB:.0f} GiB" if math.isfinite(fit.need_bytes) else fit.how
    return (
        f"does not fit: {program.shape} needs {need} per chip in its most micro-batches, "
        f"{target.device_memory / GIB:.0f} GiB of HBM"
    )


def resolve_micro_batches(config, dag: StageDag, per_stage: Mapping[str, int]) -> None:
    """Writes the chosen counts into `config.hparams.<task>.micro_batches` where the
    config leaves them 0 (`AUTO`), so every stage's worker runs the planner's choice."""
    from train.study.plan.plan import run_options

    with config.unlocked():  # a locked config takes new keys here too
        for task, k in task_micro_batches(dag, per_stage).items():
            if run_options(config, task).micro_batches != AUTO:
                continue
            if task not in config.hparams:
                config.hparams[task] = {}
            config.hparams[task].micro_batches = k


def chips_per_stage(target: Target, layout: str) -> int:
    """The chips (one device each) of one stage under `layout` on `target`."""
    return {"slice": target.chips, "host": target.chips_per_host, "chip": 1}[layout]
