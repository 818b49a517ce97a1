"""What a study costs before it runs: examples, tokens, FLOPs, chip-hours, wall-clock
and list price, per stage kind and in total, for each execution layout of a topology
(docs/cost.md).

FLOPs per training token are 6 x non-embedding parameters plus attention's
12 x layers x hidden x length (forward + backward; evaluation: a third of it), or
XLA's count of the compiled program. Tokens are sequences per example
(`Format.sequences_per_example`) x padded length. Training tokens follow the task's
length distribution where its English training data and the tokenizer are at hand
(train/study/plan/lengths.py); elsewhere the stage's maximum length, an upper bound.

Time per stage (train/study/plan/timing.py): its steps at their roofline bound
(train/study/plan/roofline.py) unless `--mfu` is given, then its evaluations on the
same chips. Chip-hours are those of the schedule Ray runs (train/study/plan/schedule.py):
every stage on its chip group as soon as its parent is done and a group is free, the
slice held from the first start to the last finish; today's static `--shard I/N`
parts are priced beside it.

Layouts (the chips one stage trains on):
- `slice`: every stage on the whole slice, one after another (one JAX process per
  host, `jax.distributed` across the hosts).
- `host`: a stage per host, on its local chips; stages of different subtrees run side
  by side.
- `chip`: a stage per chip.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from eval.analysis.records import Kind
from eval.predict.program import PredictOptions
from train.hparams import stage_tasks
from train.study.plan.dag import StageDag, hparams_dict
from train.study.plan.evaluations import units
from train.study.plan.lengths import LENGTH_SAMPLE, measured_lengths
from train.study.plan.roofline import train_flops_per_token
from train.study.plan.targets import PRICES_AS_OF, parse_target
from train.study.plan.timing import LAYOUTS, SATURATING_TOKENS, mfu_at, topology_costs
from xlmr_flax import get_model_config
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task

DEFAULT_TOPOLOGIES = ["v4-32", "v5litepod-16"]
# Evaluation examples per language when the data is not present to count them: the
# dataset's own size where it is one number (Tatoeba: 1,000 sentence pairs per
# language in XTREME), else an assumption the output names.
KNOWN_EVAL_EXAMPLES = {"tatoeba": 1000}
ASSUMED_EVAL_EXAMPLES = 5000
__all__ = ["DEFAULT_TOPOLOGIES", "LAYOUTS", "mfu_at", "print_cost", "study_cost"]


@dataclasses.dataclass
class Work:
    """One stage's (or one stage's evaluations') compute."""

    kind: str
    examples: int = 0
    tokens: int = 0
    flops: float = 0.0
    tokens_per_step: int = 0  # a train step's global batch in tokens (0: evaluation)
    steps: int = 0  # train steps (evaluation: 0)
    length: float = 0.0  # mean padded length, weighted by tokens
    calls: float = 0.0  # evaluation: forward passes of a batch of rows
    peak_tokens: int = 0  # the longest train batch in tokens (measured, else at max length)
    peak_length: float = 0.0  # that batch's padded length


def stage_work(config, stage, width: Callable[[Any], int], lengths, longest) -> Work:
    """`width(task)`: sequences per example; `lengths`, `longest`: measured mean padded
    lengths and longest batches by (task, max length), the maximum length where none
    is known."""
    hp = hparams_dict(stage.hparams)
    model = get_model_config(config.model)
    tasks = [get_task(t) for t in stage_tasks(stage.task)]
    task = tasks[0]
    length = lengths.get((task.name, hp["max_length"])) or hp["max_length"]
    per_step = round(hp["batch_size"] * length * width(task))
    examples = hp["steps"] * hp["batch_size"]
    tokens = hp["steps"] * per_step
    flops = tokens * train_flops_per_token(model, length)
    peak_length = longest.get((task.name, hp["max_length"])) or hp["max_length"]
    peak = hp["batch_size"] * peak_length * width(task)
    return Work(stage.task, examples, tokens, flops, per_step, hp["steps"], length,
                peak_tokens=peak, peak_length=peak_length)  # fmt: skip


def eval_examples(task, raw_dir: str, lang: str, split: str) -> tuple[int, bool]:
    """(examples, counted): from the data when present, else ASSUMED_EVAL_EXAMPLES."""
    try:
        return sum(1 for _ in task.read(raw_dir, split, lang)), True
    except (OSError, ValueError):
        if task.name in KNOWN_EVAL_EXAMPLES:
            return KNOWN_EVAL_EXAMPLES[task.name], True
        return ASSUMED_EVAL_EXAMPLES, False


def evaluation_work(config, dag: StageDag, width) -> tuple[dict[str, Work], dict[str, Work], bool]:
    """(per unit name (target, tatoeba, dev-<task>): the work of all its evaluations,
    per stage id (the root's too): the work of its own evaluations, whether example
    counts were assumed); every example at the evaluation's maximum length, a forward
    pass per `eval.batch_size` sequences."""
    model = get_model_config(config.model)
    options = PredictOptions.create(config.get("eval"))
    counts: dict[tuple, tuple[int, bool]] = {}
    work: dict[str, Work] = {}
    by_stage: dict[str, Work] = {}
    assumed = False
    for stage_id in [dag.root, *(s.id for s in dag.in_order())]:
        mine = by_stage[stage_id] = Work("evaluations")
        for unit in units(config, dag, stage_id):
            name, dev = unit.task, unit.kind == Kind.DEV
            task = get_task(name)
            split = "dev" if dev else task.eval_split
            langs = ("en",) if dev else task.eval_langs
            length = options.length_for(task)
            sequences = width(task)
            entry = work.setdefault(f"eval {unit.name}", Work(f"eval {unit.name}"))
            for lang in langs:
                key = (name, split, lang)
                if key not in counts:
                    counts[key] = eval_examples(task, config.raw_data, lang, split)
                n, counted = counts[key]
                assumed |= not counted
                flops = n * sequences * length * train_flops_per_token(model, length) / 3
                for w in (entry, mine):
                    w.examples += n
                    w.tokens += n * sequences * length
                    w.flops += flops
                mine.length += n * sequences * length * length  # divided by tokens below
                mine.calls += math.ceil(n * sequences / max(1, options.batch_size))
        mine.length = mine.length / mine.tokens if mine.tokens else 0.0
    return work, by_stage, assumed


def compiled_path(workdir: str | None) -> Callable[[str], str] | None:
    """Where `--compile-only --workdir` records a topology's compilation (None: no workdir)."""
    if not workdir:
        return None
    from train.study.layout import compiled_file

    return lambda topology: compiled_file(workdir, topology)


def compiled_flops(config, dag: StageDag, workdir: str | None, topologies: Sequence[str]):
    """({stage id: FLOPs of one train step}, topology) from the first of `topologies`
    compiled with `--compile-only --workdir` (train/study/plan/compile.py), else ({}, None)."""
    from train.study.layout import compiled_file
    from train.study.plan.compile import read_compiled
    from train.study.plan.programs import train_programs

    for name in topologies if workdir else ():
        topology = parse_target(name).name
        flops = read_compiled(compiled_file(workdir, topology))
        if flops:
            by_stage = {
                stage_id: flops[p.name]
                for p in train_programs(config, dag)
                if p.name in flops
                for stage_id in p.stages
            }
            return by_stage, topology
    return {}, None


@dataclasses.dataclass
class StudyWork:
    """What the study computes, before any timing."""

    train: dict[str, Work]  # per stage id, in the DAG's order
    evaluations: dict[str, Work]  # per stage id (and the root): its own evaluations
    units: dict[str, Work]  # per evaluation unit, summed over stages
    eval_examples_assumed: bool
    lengths: dict[tuple[str, int], float]
    length_note: str
    flops_compiled_on: str | None
    stages_with_compiled_flops: int


def study_work(config, dag: StageDag, topologies: Sequence[str], workdir: str | None = None):
    """Every stage's training and evaluation work (FLOPs from the programs compiled for
    the first of `topologies` where the workdir holds them)."""
    widths: dict[str, int] = {}

    def width(task) -> int:
        if task.name not in widths:
            widths[task.name] = get_format(task.format).sequences_per_example(task, config.raw_data)
        return widths[task.name]

    lengths, longest, length_note = measured_lengths(config, dag)
    train = {s.id: stage_work(config, s, width, lengths, longest) for s in dag.in_order()}
    step_flops, compiled_on = compiled_flops(config, dag, workdir, topologies)
    for stage_id, w in train.items():
        if stage_id in step_flops and len(stage_tasks(dag.stages[stage_id].task)) == 1:
            w.flops = step_flops[stage_id] * w.steps
    per_unit, per_stage, assumed = evaluation_work(config, dag, width)
    return StudyWork(train, per_stage, per_unit, assumed, lengths, length_note, compiled_on,
                     sum(s in step_flops for s in train))  # fmt: skip


def study_cost(
    config,
    dag: StageDag,
    topologies: Sequence[str],
    mfu: float | None = None,
    workdir: str | None = None,
    cluster: Sequence[str] | None = None,
):
    """Per stage kind and per topology x layout; a JSON-ready dict. `cluster`: the
    accelerator types the cluster file offers (layouts it cannot supply are refused)."""
    work = study_work(config, dag, topologies, workdir)
    kinds: dict[str, Work] = collections.OrderedDict()
    for w in work.train.values():
        k = kinds.setdefault(w.kind, Work(w.kind))
        k.examples += w.examples
        k.tokens += w.tokens
        k.flops += w.flops
    costs, sources = {}, {}
    for name in topologies:
        target = parse_target(name)
        if not target.peak_flops or not target.bandwidth:
            raise ValueError(f"topology {name}: no peak FLOP/s or memory bandwidth to time it on")
        costs[target.name], sources[target.name] = topology_costs(
            config,
            dag,
            target,
            work.train,
            work.evaluations,
            mfu,
            compiled_path(workdir),
            cluster,
        )
    return dict(
        kinds=list(kinds.values()),
        evaluations=list(work.units.values()),
        eval_examples_assumed=work.eval_examples_assumed,
        mfu=mfu,
        mfu_source="given" if mfu else "roofline",
        step_cost_sources=sources,
        costs=costs,
        stages=len(work.train),
        flops_compiled_on=work.flops_compiled_on,
        stages_with_compiled_flops=work.stages_with_compiled_flops,
        measured_lengths={f"{t} (max {m})": round(v, 1) for (t, m), v in work.lengths.items()},
        length_note=work.length_note,
    )


def _row(w: Work) -> str:
    return f"  {w.kind:<28} {w.examples:>14,} {w.tokens:>18,} {w.flops:>11.3e}"


def print_cost(
    config,
    dag: StageDag,
    topologies: Sequence[str],
    mfu: float | None = None,
    workdir: str | None = None,
    out=print,
    cluster: Sequence[str] | None = None,
) -> dict[str, Any]:
    result = study_cost(config, dag, topologies, mfu, workdir, cluster)
    out("cost of the whole study (stages done or not):")
    out(f"  {'stage kind':<28} {'examples':>14} {'tokens':>18} {'FLOPs':>11}")
    for w in result["kinds"] + result["evaluations"]:
        out(_row(w))
    total = Work(
        "total",
        sum(w.examples for w in result["kinds"] + result["evaluations"]),
        sum(w.tokens for w in result["kinds"] + result["evaluations"]),
        sum(w.flops for w in result["kinds"] + result["evaluations"]),
    )
    out(_row(total))
    if result["measured_lengths"]:
        measured = ", ".join(f"{k} {v}" for k, v in result["measured_lengths"].items())
        text = (
            f"(training tokens at the mean padded length of up to {LENGTH_SAMPLE:,} sampled "
            f"training examples: {measured}; at the maximum length for the rest)"
        )
        out(textwrap.fill(text, 88, initial_indent="  ", subsequent_indent="   "))
    else:
        out(f"  (training tokens at the maximum length, an upper bound: {result['length_note']})")
    if result["flops_compiled_on"]:
        out(
            f"  (train FLOPs of {result['stages_with_compiled_flops']} stages from their "
            f"programs compiled for {result['flops_compiled_on']}; the rest 6 N tokens + attention)"
        )
    else:
        out("  (FLOPs: 6 x parameters x tokens + attention; compile with --workdir to use XLA's)")
    if result["eval_examples_assumed"]:
        out(
            f"  (evaluation data absent: {ASSUMED_EVAL_EXAMPLES} examples per language assumed; "
            f"evaluation tokens at the maximum length, an upper bound: buckets cut it)"
        )
    text = (
        f"{timing_line(result)}; list prices of {PRICES_AS_OF} (docs/tpu.md), on demand. "
        "Chip-hours: the schedule Ray runs (a stage starts once its parent is done and chips "
        "are free), the slice held from first start to last finish, idle and queueing included"
    )
    out(textwrap.fill(text, 88, break_on_hyphens=False))
    summary = {}
    for name, rows in result["costs"].items():
        sources = result["step_cost_sources"][name]
        out(f"{name}:")
        for c in rows:
            out(layout_row(c, sources[c.layout] if not result["mfu"] else ""))
        best = recommended(rows)
        out(f"  {recommendation_line(best, rows, name)}")
        summary[name] = {c.layout: dataclasses.asdict(c) for c in rows} | {
            "recommended": best.layout if best else None,
            "micro_batches": best.micro_batches if best else None,
        }
    out(json.dumps({"cost": summary, "total_flops": total.flops}))
    return result


def runnable(c) -> bool:
    """Whether `--executor ray` runs the layout here and every train step fits a chip."""
    return not c.refused and not c.note.startswith("does not fit")


def recommended(rows):
    """The cheapest layout in chip-hours that the Ray executor runs and that fits (None
    if there is none)."""
    return min((c for c in rows if runnable(c)), key=lambda c: c.chip_hours, default=None)


def recommendation_line(best, rows, topology: str) -> str:
    others = [c for c in rows if c is not best]
    why = "; ".join(
        f"{c.layout}: {c.refused or c.note.split(':')[0]}" for c in others if not runnable(c)
    )
    if best is None:
        return f"recommended: none ({why})"
    micro = f", micro-batches {best.micro_batches}" if best.micro_batches else ""
    run = f"--executor ray --layout {best.layout} --topology {topology}{micro}"
    return f"recommended: {best.layout} ({run})" + (f"; not {why}" if why else "")


def timing_line(result: dict[str, Any]) -> str:
    if result["mfu"]:
        return (
            f"time: MFU {result['mfu']:.0%} (given) at >= {SATURATING_TOKENS} tokens per chip "
            "per step, proportionally less below"
        )
    return (
        "time: roofline bound of each program (FLOPs and HBM bytes per step against the "
        "chip's peak compute and memory bandwidth; no chip runs faster, and no device has "
        "measured the MFU yet: --mfu prices at one)"
    )


def layout_row(c, source: str) -> str:
    """One layout: the Ray schedule's price (and its note), then on a second line how
    busy Ray keeps the chips, today's static shards beside it and the roofline's share."""
    usd = f"${c.usd:,.0f}" if c.usd is not None else "price unknown"
    note = f"  ({c.note})" if c.note else ""
    details = [f"Ray {c.utilisation:.1%} busy"]
    if c.micro_batches:
        details.append(f"micro-batches {c.micro_batches}")
    if c.refused:
        details.append(f"refused: {c.refused}")
    if c.parallel > 1:
        details.append(
            f"static --shard I/{c.parallel}: {c.static_chip_hours:,.0f} chip-hours, "
            f"{c.static_hours:,.1f} h, {c.static_utilisation:.1%} busy"
        )
    if source:
        details.append(f"roofline {c.peak_fraction:.0%} of peak, {source} steps")
    return (
        f"  layout {c.layout:<6} {c.parallel:>3} x {c.chips_per_stage:>2} chips  "
        f"{c.chip_hours:>12,.0f} chip-hours  {c.hours:>10,.1f} h wall  {usd}{note}\n"
        f"      {'; '.join(details)}"
    )
