"""Every distinct compiled program of a study, described without data or weights.

A train step is one program per (tasks of the stage, their heads, batch shape,
hyperparameters that shape it); an evaluation is one program per (output kind,
static settings, bucket shape). Stages that differ in seed, parent or learning
rate share a program (train/stage.py compiles them once), so a study of
thousands of stages has a few dozen programs. Each is built here on any mesh
from abstract arrays (`jax.ShapeDtypeStruct` with shardings), so it can be
lowered and compiled for a topology this machine does not have.

Shapes: a train step is described at the stage's maximum length (its largest
shape; batches of shorter length bucket compile smaller programs of the same
kind); evaluation buckets are those of `eval.predict.program.PredictOptions`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from eval.predict.program import PredictOptions, forward_function
from train.hparams import AUTO, stage_tasks
from train.losses import get_loss
from train.optimizer import make_optimizer
from train.step import TrainState, make_step_program, optimizer_shardings
from train.study.plan.dag import StageDag, hparams_dict
from train.study.plan.evaluations import units
from train.study.plan.plan import run_options
from xlmr_flax import MixtureModel, TaskModel, get_model_config
from xlmr_flax.data.batching import round_up
from xlmr_flax.formats import get_format
from xlmr_flax.model import set_remat
from xlmr_flax.sharding import batch_sharding, param_shardings, replicated
from xlmr_flax.tasks import get_task


@dataclasses.dataclass(frozen=True)
class Program:
    name: str  # e.g. "train mnli 32x256", "eval logits 128x64 (classification)"
    kind: str  # "train" or "eval"
    users: int  # stages (train) or stage evaluations (eval) that run it
    tokens: int  # tokens one call processes (rows x length x choices)
    build: Callable[[Mesh], tuple[Callable, tuple]]  # mesh -> (jitted, abstract args)
    assumed: str = ""  # what was assumed for lack of data
    stages: tuple[str, ...] = ()  # train: the ids of the stages that run it
    micro_batches: int = 1  # train: a step's micro-batches (0, AUTO: not chosen yet)
    shape: str = ""  # train: the name without the micro-batches (compiled records' key)
    rows: int = 0  # train: the global batch (examples)
    length: int = 0  # train: the padded length


def train_label(shape: str, micro_batches: int) -> str:
    """A train program's name: its shape, and its micro-batches where there are several."""
    return shape if micro_batches in (1, AUTO) else f"{shape} in {micro_batches} micro-batches"


def accumulated(program: Program, micro_batches: int) -> Program:
    """The train program with each step in `micro_batches` micro-batches."""
    build = program.build
    assert isinstance(build, functools.partial)
    return dataclasses.replace(
        program,
        name=train_label(program.shape, micro_batches),
        micro_batches=micro_batches,
        build=functools.partial(
            build.func, *build.args, **{**build.keywords, "micro_batches": micro_batches}
        ),
    )


def model_config(config):
    """The study's model as train/stage.py builds it: the named size, its vocabulary, and
    the default compute dtype (the study trains in float32 today)."""
    return get_model_config(config.model)


@dataclasses.dataclass(frozen=True)
class PlannedTask:
    head_kwargs: dict[str, Any]  # as train/stage.py derives them, assumed without data
    assumed: str  # what was assumed for them, if anything
    choices: int  # sequences a batch row holds side by side


def task_planner(raw_dir: str) -> Callable[[str], PlannedTask]:
    """`PlannedTask` per task name, read from the data once per study: thousands of
    stages ask, and a tag set such as CCG's is its whole training split."""

    @functools.cache
    def planned(name: str) -> PlannedTask:
        task = get_task(name)
        fmt = get_format(task.format)
        kwargs, assumed = fmt.planned_head_kwargs(task, raw_dir)
        return PlannedTask(kwargs, assumed, fmt.choices(task, raw_dir))

    return planned


def _sds(shape, dtype, sharding):
    return jax.ShapeDtypeStruct(tuple(shape), dtype, sharding=sharding)


def _abstract_batch(shapes: Mapping[str, tuple], mesh: Mesh) -> dict[str, Any]:
    return {
        k: _sds(s, jnp.float32 if k == "example_weight" else jnp.int32,
                batch_sharding(mesh, len(s)))
        for k, s in shapes.items()
    }  # fmt: skip


def build_train(
    config, tasks, heads, hp, train_task, choices, mesh: Mesh, *, micro_batches=1, remat=""
):
    """(jitted step, abstract (state, batch, seed)) of `train_task`'s step in a stage,
    each step in `micro_batches` micro-batches, its layers rematerialised under `remat`."""
    mc = model_config(config)
    if len(tasks) == 1:
        make = lambda: TaskModel(mc, heads[tasks[0]][0], rngs=nnx.Rngs(0), **heads[tasks[0]][1])  # noqa: E731
    else:
        make = lambda: MixtureModel(mc, heads, rngs=nnx.Rngs(0))  # noqa: E731
    abstract_model = nnx.eval_shape(make)
    set_remat(abstract_model, remat)
    graphdef, _ = nnx.split(abstract_model)
    param_state = nnx.state(abstract_model, nnx.Param)
    shardings = param_shardings(param_state, mesh)
    params = jax.tree.map(
        lambda a, s: _sds(a.shape, a.dtype, s), nnx.to_pure_dict(param_state), shardings
    )
    optimizer, schedule = make_optimizer(hp["learning_rate"], hp["steps"],
                                         warmup_fraction=hp.get("warmup", 0.1))  # fmt: skip
    opt_abstract = jax.eval_shape(optimizer.init, params)
    opt_shardings = optimizer_shardings(opt_abstract, shardings, mesh)
    opt_state = jax.tree.map(lambda a, s: _sds(a.shape, a.dtype, s), opt_abstract, opt_shardings)
    state = TrainState(step=_sds((), jnp.int32, replicated(mesh)), params=params,
                       opt_state=opt_state)  # fmt: skip
    head = heads[train_task][0]
    loss = get_loss(head)
    if len(tasks) > 1:
        loss = functools.partial(_mixture_loss, loss, train_task)
    program = make_step_program(
        graphdef, loss, optimizer, schedule, state, mesh,
        accumulation_steps=1 if micro_batches == AUTO else micro_batches,
    )  # fmt: skip
    shapes = get_format(get_task(train_task).format).batch_shapes(
        hp["batch_size"], hp["max_length"], choices
    )
    seed = _sds((), jnp.uint32, replicated(mesh))
    return program, (state, _abstract_batch(shapes, mesh), seed)


def _mixture_loss(loss, task: str, model, batch, rng):
    return loss(model.for_task(task), batch, rng)


def train_programs(config, dag: StageDag, planned=None) -> list[Program]:
    planned = planned or task_planner(config.raw_data)
    found: dict[tuple, dict[str, Any]] = {}
    for stage in dag.in_order():
        hp = hparams_dict(stage.hparams)
        tasks = stage_tasks(stage.task)
        heads = {name: (get_task(name).head, planned(name).head_kwargs) for name in tasks}
        notes = [planned(name).assumed for name in tasks if planned(name).assumed]
        run = run_options(config, stage.task)
        # The learning rate shapes nothing; micro-batches and remat shape the step.
        shaping = (hp["batch_size"], hp["max_length"], run.micro_batches, run.remat)
        for name in tasks:
            choices = planned(name).choices
            key = (tasks, tuple(sorted((k, str(v)) for k, v in heads.items())), name, shaping,
                   choices)  # fmt: skip
            new = dict(users=0, hp=hp, heads=heads, choices=choices, notes=notes, tasks=tasks,
                       name=name, stages=[], run=run)  # fmt: skip
            entry = found.setdefault(key, new)
            entry["users"] += 1
            entry["stages"].append(stage.id)
    programs = []
    for entry in found.values():
        hp, name, tasks, run = entry["hp"], entry["name"], entry["tasks"], entry["run"]
        rows, length, choices = hp["batch_size"], hp["max_length"], entry["choices"]
        shape = f"train {'+'.join(tasks)}" + (f" ({name} head)" if len(tasks) > 1 else "")
        shape += f" {rows}x{choices}x{length}" if choices > 1 else f" {rows}x{length}"
        shape += f" remat {run.remat}" if run.remat else ""
        build = functools.partial(build_train, config, tasks, entry["heads"], hp, name, choices,
                                  micro_batches=run.micro_batches, remat=run.remat)  # fmt: skip
        programs.append(Program(
            train_label(shape, run.micro_batches), "train", entry["users"],
            rows * choices * length, build, "; ".join(entry["notes"]), tuple(entry["stages"]),
            micro_batches=run.micro_batches, shape=shape, rows=rows, length=length,
        ))  # fmt: skip
    return programs


# --- evaluation ---------------------------------------------------------------------------


def eval_options(config) -> PredictOptions:
    return PredictOptions.create(config.get("eval"))


def build_eval(config, head, kwargs, kind, static, shapes, mesh: Mesh):
    mc = model_config(config)
    abstract_model = nnx.eval_shape(lambda: TaskModel(mc, head, rngs=nnx.Rngs(0), **kwargs))
    graphdef, _ = nnx.split(abstract_model)
    param_state = nnx.state(abstract_model, nnx.Param)
    shardings = param_shardings(param_state, mesh)
    params = jax.tree.map(
        lambda a, s: _sds(a.shape, a.dtype, s), nnx.to_pure_dict(param_state), shardings
    )
    forward = forward_function(graphdef, mc, kind, static)
    in_batch = {k: batch_sharding(mesh, len(s)) for k, s in shapes.items()}
    batch = {k: _sds(s, jnp.int32, in_batch[k]) for k, s in shapes.items()}
    out = jax.eval_shape(forward, params, batch)
    out_shardings = jax.tree.map(lambda a: batch_sharding(mesh, a.ndim), out)
    jitted = jax.jit(forward, in_shardings=(shardings, in_batch), out_shardings=out_shardings)
    return jitted, (params, batch)


def _stage_head(dag: StageDag, stage_id: str, planned) -> tuple[str | None, dict]:
    if stage_id == dag.root:
        return None, {}
    tasks = stage_tasks(dag.stages[stage_id].task)
    if len(tasks) > 1:  # a mixture hands on its encoder alone
        return None, {}
    return get_task(tasks[0]).head, planned(tasks[0]).head_kwargs


def eval_programs(config, dag: StageDag, data_parallel: int, planned=None) -> list[Program]:
    """One program per (output kind, static settings, bucket shape) of the evaluations.
    Models that differ only in a head's label count share the first one's program
    (the label count changes a few kilobytes of the program's memory)."""
    planned = planned or task_planner(config.raw_data)
    options = eval_options(config)
    rows = round_up(max(1, options.batch_size), data_parallel)
    found: dict[tuple, dict[str, Any]] = {}
    for stage_id in [dag.root, *(s.id for s in dag.in_order())]:
        own_head = _stage_head(dag, stage_id, planned)
        for unit in units(config, dag, stage_id):
            name = unit.task
            task = get_task(name)
            fmt = get_format(task.format)
            head, kwargs = own_head  # what a format predicting without its head runs on
            if fmt.predicts_with_head:
                head, kwargs = task.head, planned(name).head_kwargs
            kind, static = fmt.forward_output(task, options, head)
            choices = planned(name).choices
            for length in options.buckets(options.length_for(task)):
                shape = (rows, choices, length) if choices > 1 else (rows, length)
                key = (kind, static, shape)
                entry = found.setdefault(key, dict(users=0, head=head, kwargs=kwargs,
                                                   format=task.format))  # fmt: skip
                entry["users"] += 1
    programs = []
    for (kind, static, shape), entry in sorted(found.items(), key=lambda kv: str(kv[0])):
        shapes = {"input_ids": shape, "attention_mask": shape}
        label = f"eval {kind} {'x'.join(map(str, shape))} ({entry['format']})"
        build = functools.partial(build_eval, config, entry["head"], entry["kwargs"], kind,
                                  static, shapes)  # fmt: skip
        tokens = 1
        for s in shape:
            tokens *= s
        programs.append(Program(label, "eval", entry["users"], tokens, build))
    return programs


def study_programs(config, dag: StageDag, mesh_data_parallel: int) -> list[Program]:
    planned = task_planner(config.raw_data)
    return train_programs(config, dag, planned) + eval_programs(
        config, dag, mesh_data_parallel, planned
    )
