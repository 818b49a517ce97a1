"""What a study costs before it runs: examples, tokens, FLOPs, chip-hours, wall-clock
and list price, per stage kind and in total, for each execution layout of a topology.

FLOPs per training token are 6 x non-embedding parameters plus attention's
12 x layers x hidden x length (forward + backward; evaluation: a third of it).
Tokens are sequences per example (`Format.sequences_per_example`) x padded length.
Training tokens follow the task's length distribution where its English training
data and the tokenizer are at hand: a sample of it is featurised and batched as the
trainer batches it (`TrainBatches`, bucketed by length), and the mean padded length
counts; elsewhere the stage's maximum length, an upper bound. Time = FLOPs / (chips x
peak x MFU), the MFU of a chip depending on how many tokens it gets per step
(`mfu_at`): a batch of 32 spread over a whole slice leaves each chip nearly idle, so
the layouts differ.

Layouts (docs/tpu.md, "Execution layouts"):
- `slice`: every stage on the whole slice, one after another (one JAX process per
  host, `jax.distributed` across the hosts).
- `host`: every host runs its own `--shard i/H` of the DAG on its local chips
  (`launch_tpu.sh run --layout host`); stages of different subtrees run side by side.
- `chip`: every chip runs its own shard (one process per chip); planned only,
  as the lower bound of chip-hours (the launcher does not start it yet).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from eval.evaluators import PredictOptions
from train.hparams import stage_tasks
from train.study.plan.dag import StageDag, hparams_dict
from train.study.plan.lengths import LENGTH_SAMPLE, measured_lengths
from train.study.plan.targets import PRICES_AS_OF, Target, parse_target
from train.study.run.units import units
from xlmr_flax import get_model_config
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task

DEFAULT_TOPOLOGIES = ["v4-32", "v5litepod-16"]
LAYOUTS = ("slice", "host", "chip")
# Assumed until bench/train_step.py measures it on the chip (docs/benchmarks.md): the
# MFU of a chip fed at least SATURATING_TOKENS tokens per step, in proportion below.
ASSUMED_MFU = 0.40
SATURATING_TOKENS = 4096
# Evaluation examples per language when the data is not present to count them: the
# dataset's own size where it is one number (Tatoeba: 1,000 sentence pairs per
# language in XTREME), else an assumption the output names.
KNOWN_EVAL_EXAMPLES = {"tatoeba": 1000}
ASSUMED_EVAL_EXAMPLES = 5000


def train_flops_per_token(config, length: int) -> float:
    """6 x non-embedding parameters (forward + backward) plus attention's
    12 x layers x hidden x length (the PaLM paper's accounting)."""
    per_layer = 4 * config.hidden_size**2 + 2 * config.hidden_size * config.intermediate_size
    return 6 * config.num_layers * per_layer + 12 * config.num_layers * config.hidden_size * length


def mfu_at(tokens_per_chip: float, mfu: float) -> float:
    return mfu * min(1.0, tokens_per_chip / SATURATING_TOKENS)


@dataclasses.dataclass
class Work:
    """One stage's (or one stage's evaluations') compute."""

    kind: str
    examples: int = 0
    tokens: int = 0
    flops: float = 0.0
    tokens_per_step: int = 0  # a train step's global batch in tokens (0: evaluation)


def stage_work(config, stage, width: Callable[[Any], int], lengths: dict[str, float]) -> Work:
    """`width(task)`: sequences per example; `lengths`: measured mean padded lengths by
    (task, max length), the maximum length where none is known."""
    hp = hparams_dict(stage.hparams)
    model = get_model_config(config.model)
    tasks = [get_task(t) for t in stage_tasks(stage.task)]
    task = tasks[0]
    length = lengths.get((task.name, hp["max_length"])) or hp["max_length"]
    per_step = round(hp["batch_size"] * length * width(task))
    examples = hp["steps"] * hp["batch_size"]
    tokens = hp["steps"] * per_step
    flops = tokens * train_flops_per_token(model, length)
    return Work(stage.task, examples, tokens, flops, per_step)


def eval_examples(task, raw_dir: str, lang: str, split: str) -> tuple[int, bool]:
    """(examples, counted): from the data when present, else ASSUMED_EVAL_EXAMPLES."""
    try:
        return sum(1 for _ in task.read(raw_dir, split, lang)), True
    except (OSError, ValueError):
        if task.name in KNOWN_EVAL_EXAMPLES:
            return KNOWN_EVAL_EXAMPLES[task.name], True
        return ASSUMED_EVAL_EXAMPLES, False


def evaluation_work(config, dag: StageDag, width) -> tuple[dict[str, Work], bool]:
    """Per unit name (target, tatoeba, dev-<task>): the work of all its evaluations,
    every example at the evaluation's maximum length."""
    model = get_model_config(config.model)
    options = PredictOptions.create(config.get("eval"))
    counts: dict[tuple, tuple[int, bool]] = {}
    work: dict[str, Work] = {}
    assumed = False
    for stage_id in [dag.root, *(s.id for s in dag.in_order())]:
        for unit in units(dag, stage_id):
            name = unit.removeprefix("dev-")
            task = get_task(name)
            split = "dev" if unit.startswith("dev-") else task.eval_split
            langs = ("en",) if unit.startswith("dev-") else task.eval_langs
            length = options.length_for(task)
            sequences = width(task)
            entry = work.setdefault(f"eval {unit}", Work(f"eval {unit}"))
            for lang in langs:
                key = (name, split, lang)
                if key not in counts:
                    counts[key] = eval_examples(task, config.raw_data, lang, split)
                n, counted = counts[key]
                assumed |= not counted
                entry.examples += n
                entry.tokens += n * sequences * length
                entry.flops += n * sequences * length * train_flops_per_token(model, length) / 3
    return work, assumed


@dataclasses.dataclass(frozen=True)
class LayoutCost:
    layout: str
    chips_per_stage: int
    parallel: int  # stages side by side
    chip_hours: float
    hours: float
    usd: float | None
    note: str = ""


def layout_costs(
    target: Target, stages: Sequence[tuple[str, Work]], evals: float, mfu: float, dag: StageDag
) -> list[LayoutCost]:
    """Chip-hours and wall-clock of the study on `target` for each layout."""
    peak = target.peak_flops
    results = []
    for layout in LAYOUTS:
        chips = {"slice": target.chips, "host": target.chips_per_host, "chip": 1}[layout]
        parallel = target.chips // chips
        seconds: dict[str, float] = {}
        for stage_id, w in stages:
            efficiency = mfu_at(w.tokens_per_step / chips, mfu)
            seconds[stage_id] = w.flops / (chips * peak * efficiency)
        # Evaluations run at the full MFU: their batches are large (config.eval.batch_size).
        eval_seconds = evals / (target.chips * peak * mfu)
        if parallel == 1:
            wall = sum(seconds.values())
        else:  # the shards of `--shard i/N`, each on its own chips
            wall = max(
                sum(seconds.get(s.id, 0.0) for s in dag.shard(i, parallel)) for i in range(parallel)
            )
        hours = wall / 3600 + eval_seconds / 3600
        chip_hours = hours * target.chips
        usd = chip_hours * target.price_per_chip_hour if target.price_per_chip_hour else None
        note = "not started by the launcher yet" if layout == "chip" else ""
        if layout == "host" and target.hosts == 1:
            note = "single host: the same as slice"
        results.append(LayoutCost(layout, chips, parallel, chip_hours, hours, usd, note))
    return results


def compiled_flops(config, dag: StageDag, workdir: str | None, topologies: Sequence[str]):
    """({stage id: FLOPs of one train step}, topology) from the first of `topologies`
    compiled with `--compile-only --workdir` (train/study/plan/compile.py), else ({}, None)."""
    from train.study.plan.compile import read_compiled
    from train.study.plan.programs import train_programs
    from train.study.run.layout import compiled_file

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


def study_cost(
    config,
    dag: StageDag,
    topologies: Sequence[str],
    mfu: float | None = None,
    workdir: str | None = None,
):
    """Per stage kind and per topology x layout; a JSON-ready dict."""
    widths: dict[str, int] = {}

    def width(task) -> int:
        if task.name not in widths:
            widths[task.name] = get_format(task.format).sequences_per_example(task, config.raw_data)
        return widths[task.name]

    lengths, length_note = measured_lengths(config, dag)
    stages = [(s.id, stage_work(config, s, width, lengths)) for s in dag.in_order()]
    step_flops, compiled_on = compiled_flops(config, dag, workdir, topologies)
    for stage_id, w in stages:
        if stage_id in step_flops and len(stage_tasks(dag.stages[stage_id].task)) == 1:
            w.flops = step_flops[stage_id] * hparams_dict(dag.stages[stage_id].hparams)["steps"]
    kinds: dict[str, Work] = collections.OrderedDict()
    for _, w in stages:
        k = kinds.setdefault(w.kind, Work(w.kind))
        k.examples += w.examples
        k.tokens += w.tokens
        k.flops += w.flops
    evals, assumed = evaluation_work(config, dag, width)
    eval_flops = sum(w.flops for w in evals.values())
    stated_mfu, mfu_source = (mfu, "given") if mfu else (ASSUMED_MFU, "assumed")
    costs = {}
    for name in topologies:
        target = parse_target(name)
        if not target.peak_flops:
            raise ValueError(f"topology {name}: no peak FLOP/s known to time it on")
        costs[target.name] = layout_costs(target, stages, eval_flops, stated_mfu, dag)
    return dict(
        kinds=list(kinds.values()),
        evaluations=list(evals.values()),
        eval_examples_assumed=assumed,
        mfu=stated_mfu,
        mfu_source=mfu_source,
        costs=costs,
        stages=len(stages),
        flops_compiled_on=compiled_on,
        stages_with_compiled_flops=sum(s in step_flops for s, _ in stages),
        measured_lengths={f"{t} (max {m})": round(v, 1) for (t, m), v in lengths.items()},
        length_note=length_note,
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
) -> dict[str, Any]:
    result = study_cost(config, dag, topologies, mfu, workdir)
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
    out(
        f"MFU {result['mfu']:.0%} ({result['mfu_source']}; no accelerator measurement in "
        f"docs/benchmarks.md yet) at >= {SATURATING_TOKENS} tokens per chip per step, "
        f"proportionally less below; list prices of {PRICES_AS_OF} (docs/tpu.md), on demand"
    )
    summary = {}
    for name, rows in result["costs"].items():
        out(f"{name}:")
        for c in rows:
            usd = f"${c.usd:,.0f}" if c.usd is not None else "price unknown"
            note = f"  ({c.note})" if c.note else ""
            out(
                f"  layout {c.layout:<6} {c.parallel:>3} x {c.chips_per_stage:>2} chips  "
                f"{c.chip_hours:>12,.0f} chip-hours  {c.hours:>10,.1f} h wall  {usd}{note}"
            )
        best = min(rows, key=lambda c: c.chip_hours if not c.note.startswith("not") else 1e99)
        out(f"  recommended: {best.layout}")
        summary[name] = {c.layout: dataclasses.asdict(c) for c in rows} | {
            "recommended": best.layout
        }
    out(json.dumps({"cost": summary, "total_flops": total.flops}))
    return result
