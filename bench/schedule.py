"""The full study's schedule on a slice, simulated: Ray's list scheduling against today's
static `--shard I/N` parts, per execution layout.

    python -m bench.schedule                                   # the full study on a v4-32
    python -m bench.schedule --topology v5litepod-16 --mfu 0.4
    python -m bench.schedule --config 'configs/xtreme_r_sequencing.py:targets=xnli,seeds=1'

Per-stage times are the planner's (train/study/plan/timing.py: each stage's steps at their
roofline bound, or at `--mfu`, then its evaluations on the same chips); the schedules are
train/study/plan/schedule.py's. Three ways to run each layout's chip groups:

- `ray, DAG order`: every stage submitted in the DAG's order, started by Ray when its
  parent is done and a group is free (what the planner prices);
- `ray, longest path first`: the same, submitted longest remaining chain first;
- `static shards`: `--shard i/N` per group, whole subtrees balanced by stage count,
  each group running its part in sequence.

Chip-hours are makespan x every chip of the slice. Prints a Markdown table, then one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from train.study.plan.cost import study_work
from train.study.plan.fit import does_not_fit, stage_micro_batches, study_fits
from train.study.plan.plan import build_dag, load_config_file
from train.study.plan.schedule import (
    critical_path_order,
    ray_schedule,
    shard_parts,
    stage_jobs,
    static_schedule,
)
from train.study.plan.targets import parse_target
from train.study.plan.timing import LAYOUTS, chips_per_stage, stage_seconds
from xlmr_flax import get_model_config


def load_study(spec: str):
    path, _, arg = spec.partition(":")
    config = load_config_file(path).get_config(arg or None)
    return config, build_dag(config)


def simulate(config, dag, topology: str, mfu: float | None) -> list[dict]:
    target = parse_target(topology)
    work = study_work(config, dag, [topology])
    model = get_model_config(config.model)
    rows = []
    for layout in LAYOUTS:
        chips = chips_per_stage(target, layout)
        groups = target.chips // chips
        fits = study_fits(config, dag, chips, target.device_memory)
        micro = stage_micro_batches(dag, fits)
        seconds = stage_seconds(target, chips, model, work.train, work.evaluations, mfu, {}, micro)
        jobs = stage_jobs(dag, seconds)
        memory = does_not_fit(fits, target)
        runs = {"ray, DAG order": ray_schedule(jobs, groups)}
        if groups > 1:
            runs["ray, longest path first"] = ray_schedule(critical_path_order(jobs), groups)
            runs["static shards"] = static_schedule(shard_parts(dag, seconds, groups))
        for executor, schedule in runs.items():
            chip_hours = schedule.chip_hours(target.chips)
            price = target.price_per_chip_hour
            rows.append(
                dict(
                    layout=layout,
                    groups=f"{groups} x {chips}",
                    executor=executor,
                    makespan_h=schedule.makespan / 3600,
                    chip_hours=chip_hours,
                    utilisation=schedule.utilisation,
                    usd=chip_hours * price if price else None,
                    memory=memory,
                )
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.schedule", description=__doc__)
    parser.add_argument("--config", default="configs/xtreme_r_sequencing.py")
    parser.add_argument("--topology", default="v4-32")
    parser.add_argument("--mfu", type=float, default=None, help="default: roofline bound")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config, dag = load_study(args.config)
    rows = simulate(config, dag, args.topology, args.mfu)
    timing = f"MFU {args.mfu:.0%}" if args.mfu else "roofline bound"
    print(f"{args.topology}, {len(dag.stages):,} stages, step times: {timing}")
    print("| layout | chip groups | executor | makespan | chip-hours | utilisation | on demand |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        usd = f"${r['usd']:,.0f}" if r["usd"] is not None else "n/a"
        print(
            f"| {r['layout']} | {r['groups']} | {r['executor']} | {r['makespan_h']:,.1f} h | "
            f"{r['chip_hours']:,.0f} | {r['utilisation']:.1%} | {usd} |"
        )
    for layout, note in dict.fromkeys((r["layout"], r["memory"]) for r in rows if r["memory"]):
        print(f"{layout}: {note}")
    seconds = time.perf_counter() - started
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(json.dumps(dict(topology=args.topology, stages=len(dag.stages), timing=timing,
                          rows=rows, seconds=round(seconds, 1), load_average=load)))  # fmt: skip


if __name__ == "__main__":
    main()
