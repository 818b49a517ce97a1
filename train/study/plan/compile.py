"""Compile before you rent: every program of a study, compiled for a target topology.

    python -m train --config configs/xtreme_r_sequencing.py --compile-only --topology v4-32
    python -m train --config configs/xtreme_r_sequencing.py --compile-only --topology v4-8 \
        --layout chip --compile-filter '^train (commonsenseqa|hellaswag|squad_v2) ' --workdir W

Each distinct train step and evaluation bucket (train/study/plan/programs.py) is lowered on
a mesh of the target's devices and compiled by the target's own compiler: TPU
devices come from libtpu and GPU devices from the CUDA plugin as compile-only
devices, so no accelerator is needed (`pip install -e ".[compile]"`); `cpu-N`
compiles for this machine's CPU devices. Per program it reports the memory one
device needs (arguments, temporaries, peak) against the device's memory, the
FLOPs of one call and the compile time; a program that does not fit fails the
command, named, whether the compiler refuses it (RESOURCE_EXHAUSTED on TPU) or
its peak exceeds the device's memory.

`--layout chip|host` compiles for one stage's chips under that layout (a mesh of one
chip, or of one host's chips) instead of the whole topology; each train step runs in
the micro-batches the planner chooses for those chips (train/study/plan/fit.py), and
one refused by the compiler is compiled again in the next count. With `--workdir`
every result is kept in WORKDIR/compiled/<topology of the stage>.json (v4-2 for one
v4 chip), merged with earlier ones, and the planner reads it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable, Sequence

from train.hparams import AUTO
from train.study.plan.dag import StageDag
from train.study.plan.fit import (
    chips_per_stage,
    micro_batch_options,
    program_fit,
    recorded_programs,
)
from train.study.plan.programs import Program, accumulated, study_programs
from train.study.plan.roofline import StepCost
from train.study.plan.targets import GIB, Target, compile_devices
from xlmr_flax import get_model_config
from xlmr_flax.atomic import write_file
from xlmr_flax.sharding import make_mesh


class ProgramFailed(RuntimeError):
    """A program of the study does not compile for the target (e.g. a batch that does
    not divide over its devices)."""


class ProgramTooLarge(ProgramFailed):
    """A program of the study does not fit the target's device memory."""


@dataclasses.dataclass(frozen=True)
class Compiled:
    program: str
    users: int
    argument_bytes: int
    output_bytes: int
    temp_bytes: int
    peak_bytes: int
    flops: float | None  # one call, all devices together
    seconds: float
    bytes_accessed: float | None = None  # one call, one device's memory traffic
    kind: str = "train"  # "train" or "eval"
    shape: str = ""  # train: the program's name without its micro-batches
    micro_batches: int = 1
    fits: bool = True  # False: the compiler refused it for lack of memory (no peak)
    error: str = ""  # the compiler's refusal, its first line

    def row(self, capacity: int | None) -> str:
        if not self.fits:
            refused = f"does not fit: the compiler refused it ({self.seconds:.1f} s)"
            return f"{self.program:<48} {refused}"
        peak = f"{self.peak_bytes / GIB:7.2f}"
        of = f" / {capacity / GIB:.2f}" if capacity else ""
        flops = f"{self.flops:.3g}" if self.flops else "n/a"
        return (
            f"{self.program:<48} args {self.argument_bytes / GIB:7.2f}  temp "
            f"{self.temp_bytes / GIB:7.2f}  peak {peak}{of} GiB  flops {flops:>9}  "
            f"{self.seconds:6.1f} s  ({self.users} uses)"
        )


def peak_bytes(memory) -> int:
    """A device's peak: what the compiler reports, else arguments + outputs not aliased
    to arguments (the donated state) + temporaries."""
    reported = getattr(memory, "peak_memory_in_bytes", 0) or 0
    estimate = (
        memory.argument_size_in_bytes
        + memory.output_size_in_bytes
        - memory.alias_size_in_bytes
        + memory.temp_size_in_bytes
    )
    return int(max(reported, estimate))


def compile_program(program: Program, mesh, devices: int) -> Compiled:
    started = time.perf_counter()
    try:
        jitted, args = program.build(mesh)
        compiled = jitted.lower(*args).compile()
    except Exception as err:  # XLA reports memory exhaustion as a generic runtime error
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:400]
        if "RESOURCE_EXHAUSTED" in str(err) or "out of memory" in str(err).lower():
            raise ProgramTooLarge(f"program {program.name!r} does not fit: {first}") from None
        raise ProgramFailed(f"program {program.name!r} does not compile: {first}") from err
    seconds = time.perf_counter() - started
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) and cost else cost
    flops = float(cost["flops"]) * devices if cost and cost.get("flops", -1) > 0 else None
    traffic = float(cost["bytes accessed"]) if cost and cost.get("bytes accessed", -1) > 0 else None
    return Compiled(
        program=program.name,
        kind=program.kind,
        shape=program.shape,
        micro_batches=program.micro_batches or 1,
        users=program.users,
        argument_bytes=int(memory.argument_size_in_bytes),
        output_bytes=int(memory.output_size_in_bytes),
        temp_bytes=int(memory.temp_size_in_bytes),
        peak_bytes=peak_bytes(memory),
        flops=flops,
        seconds=seconds,
        bytes_accessed=traffic,
    )


def compile_study(
    config,
    dag: StageDag,
    target: Target,
    *,
    only: str | None = None,
    layout: str = "slice",
    device_memory: int | None = None,
    out: Callable[[str], None] = print,
    devices: Sequence | None = None,
    path: str | None = None,
) -> list[Compiled]:
    """Compiles the study's programs (those whose name matches the regex `only`) for
    one stage's chips of `target` under `layout` (slice: all of them), each train step
    in the micro-batches the planner chooses (train/study/plan/fit.py), or the config's;
    raises ProgramTooLarge naming the first that does not fit at any count. `path`:
    the record (compiled/<topology>.json), updated after every program, read first
    (counts already refused there are not tried again)."""
    capacity = device_memory or target.device_memory
    devices = list(devices if devices is not None else compile_devices(target))
    devices = devices[: chips_per_stage(target, layout)]
    mesh = make_mesh(tuple(config.get("mesh", (-1, 1, 1))), devices=devices)
    dp = mesh.shape["data"] * mesh.shape["fsdp"]
    programs = [p for p in study_programs(config, dag, dp) if not only or re.search(only, p.name)]
    what = f"{layout} layout: {len(devices)} of its devices" if layout != "slice" else "all devices"
    out(f"{target.describe()}; {what}; mesh {dict(mesh.shape)}; {len(programs)} programs")
    model = get_model_config(config.model)
    record = read_record(path, len(devices))
    results = []

    def keep(result: Compiled) -> None:
        record[result.program] = result
        if path:
            write_compiled(path, target, list(record.values()), len(devices))

    for program in programs:
        result = compile_fitted(program, mesh, capacity, model, record, keep, out)
        if result is None:
            raise ProgramTooLarge(too_large(record, program, target, capacity))
        results.append(result)
    worst = max(results, key=lambda r: r.peak_bytes, default=None)
    summary = {
        "topology": target.name,
        "layout": layout,
        "devices": len(devices),
        "programs": len(results),
        "largest_peak_gib": round(worst.peak_bytes / GIB, 3) if worst else 0,
        "largest_program": worst.program if worst else None,
        "device_memory_gib": round(capacity / GIB, 3) if capacity else None,
        "compile_seconds": round(sum(r.seconds for r in results), 1),
    }
    out(json.dumps(summary))
    return results


def compile_fitted(
    program: Program, mesh, capacity: int | None, model, record: dict[str, Compiled], keep, out
) -> Compiled | None:
    """`program` compiled in the micro-batches the planner chooses from `record` (the
    config's count if it names one), then in the next larger count while the compiler
    refuses it or its peak exceeds `capacity`; each result goes to `keep`. None: it
    fits at no count."""
    devices = mesh.devices.size
    dp = mesh.shape["data"] * mesh.shape["fsdp"]
    choose = program.kind == "train" and program.micro_batches == AUTO
    options = micro_batch_options(program.rows, dp) or [1]  # 1: the compiler names it
    count = 0
    while True:
        chosen = program
        if choose:
            peaks = {(c.shape, c.micro_batches): c.peak_bytes if c.fits else None
                     for c in record.values()}  # fmt: skip
            fit = program_fit(model, program, dp, capacity, peaks).micro_batches
            larger = [k for k in options if k > count]  # a refused count: fewer fail too
            if not larger:
                return None
            count = fit if fit in larger else larger[0]
            chosen = accumulated(program, count)
        result = compile_or_refusal(chosen, mesh, devices)
        out(result.row(capacity))
        if chosen.assumed:
            out(f"  assumed: {chosen.assumed}")
        keep(result)
        if result.fits and not (capacity and result.peak_bytes > capacity):
            return result
        if not choose:
            return None


def compile_or_refusal(program: Program, mesh, devices: int) -> Compiled:
    """The compiled program, or a record that the compiler refused it for memory."""
    started = time.perf_counter()
    try:
        return compile_program(program, mesh, devices)
    except ProgramTooLarge as err:
        micro = program.micro_batches or 1
        return Compiled(
            program=program.name, users=program.users, argument_bytes=0, output_bytes=0,
            temp_bytes=0, peak_bytes=0, flops=None, seconds=time.perf_counter() - started,
            kind=program.kind, shape=program.shape, micro_batches=micro, fits=False,
            error=str(err),
        )  # fmt: skip


def too_large(
    record: dict[str, Compiled], program: Program, target: Target, capacity: int | None
) -> str:
    """Why `program` fits at no count: its last result in `record`."""
    shape = program.shape or program.name
    result = [r for r in record.values() if (r.shape or r.program) == shape][-1]
    if not result.fits:
        return result.error or f"program {result.program!r} does not fit ({target.name})"
    return (
        f"program {result.program!r} needs {result.peak_bytes / GIB:.2f} GiB per device, "
        f"{target.name} devices hold {capacity / GIB:.2f} GiB"
    )


def read_record(path: str | None, devices: int) -> dict[str, Compiled]:
    """{program: Compiled} of the record at `path` if it was compiled for `devices`."""
    fields = {f.name for f in dataclasses.fields(Compiled)}
    return {
        p["program"]: Compiled(**{k: v for k, v in p.items() if k in fields})
        for p in recorded_programs(path, devices)
    }


def write_compiled(
    path: str, target: Target, results: Sequence[Compiled], devices: int | None = None
) -> None:
    """The record of a compilation for `devices` devices of `target` (all of them)."""
    record = {
        "topology": target.name,
        "devices": devices or target.devices,
        "programs": [dataclasses.asdict(r) for r in results],
    }
    write_file(path, json.dumps(record, indent=1))


def read_compiled_costs(path: str) -> tuple[int, dict[str, StepCost]]:
    """(devices, {program: FLOPs and one device's bytes per call}) of a recorded
    compilation with both counts; (0, {}) if none."""
    if not os.path.exists(path):
        return 0, {}
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    source = f"compiled for {record['topology']}"
    costs = {
        p["program"]: StepCost(p["flops"], p["bytes_accessed"], source, p.get("peak_bytes"))
        for p in record["programs"]
        if p.get("flops") and p.get("bytes_accessed")
    }
    return record.get("devices", 0), costs


def read_compiled(path: str) -> dict[str, float]:
    """{program name: FLOPs of one call} of a recorded compilation ({} if none)."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return {p["program"]: p["flops"] for p in json.load(f)["programs"] if p["flops"]}
