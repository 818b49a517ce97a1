"""Time of the report on a full-size synthetic study.

    python -m bench.report_speed --study /tmp/full-study            # generate once, then time
    python -m bench.report_speed --study /tmp/full-study --scale 0.1 # a tenth of the test sets

The study is what a full run of configs/xtreme_r_sequencing.py writes: 82 paths (no
intermediate task, nine tasks alone, the 72 ordered pairs of them), the ten XTREME-R targets at
their languages and (approximate) real test sizes, three seeds; results.jsonl and
one `.npy` examples file per run and language (`bench.simulation.write_study`,
named by `eval.analysis.records`). It is generated once (`--study` is reused when it
holds a results.jsonl), then `python -m eval report` runs on it in-process
(analysis, CSV tables, plots as `--plots` says, Markdown) with the default 1,000
bootstrap draws. The last line of output is one JSON object: wall and CPU seconds of
the report, and the peak resident memory of this process and of its largest
plotting process (run it under `/usr/bin/time -v` for the whole).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import tempfile
import time

import numpy as np

from bench import simulation
from eval import analysis, report

TASKS = ("anli", "mnli", "qqp", "sst2", "squad_v1", "hellaswag", "ccg", "cosmosqa", "csqa")


def full_size_paths(tasks: int = len(TASKS)) -> list[tuple[str, ...]]:
    """No intermediate task, each task alone, every ordered pair (82 paths for 9)."""
    chosen = TASKS[:tasks]
    return [(), *((t,) for t in chosen), *itertools.permutations(chosen, 2)]


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", default=os.path.join(tempfile.gettempdir(), "full-study"))
    parser.add_argument("--scale", type=float, default=1.0, help="test sizes × this")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=len(TASKS), help="intermediate tasks")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--plots", default="auto", help="as `python -m eval report --plots`")
    args = parser.parse_args()
    generated = None
    if not os.path.exists(analysis.results_file(args.study)):
        shutil.rmtree(args.study, ignore_errors=True)
        os.makedirs(args.study)
        start = time.perf_counter()
        scenario = simulation.Scenario("full size", seeds=args.seeds)
        simulation.write_study(
            args.study,
            scenario,
            np.random.default_rng(0),
            simulation.full_size_targets(args.scale),
            full_size_paths(args.tasks),
        )
        generated = time.perf_counter() - start
    names = {r.examples for r in analysis.load_results(analysis.results_file(args.study))}
    names.discard(None)
    size = sum(os.path.getsize(analysis.examples_file(args.study, n)) for n in names)
    start, cpu = time.perf_counter(), _cpu_seconds()
    summary = report.write_report(args.study, n_boot=args.n_boot, plots=args.plots)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
    result = dict(
        report_s=round(seconds, 1),
        # CPU seconds of the report, its plotting processes included: on a shared
        # machine the wall time says more about the other jobs than about the report.
        report_cpu_s=round(cpu, 1),
        generate_s=None if generated is None else round(generated, 1),
        records=summary["records"],
        examples_files=len(names),
        examples_mb=round(size / 2**20, 1),
        peak_rss_mb=round(own),  # this process (analysis, tables, Markdown)
        peak_child_rss_mb=round(children),  # the largest plotting process
        plots=args.plots,
        paths=len(summary["paths"]),
        targets=len(summary["targets"]),
        seeds=len(summary["seeds"]),
        n_boot=args.n_boot,
        scale=args.scale,
        cpus=os.cpu_count(),
        machine=platform.machine(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
