"""Training one stage: restore the parent's encoder, fresh head, train, publish.

`run_stage` holds four steps, one function each: `initial_model` (the parent's
encoder under a fresh head per task), `stage_batches` (the task's batches, or a
mixture's), the loop with its checkpoint cadence (train/loop.py) and `publish`
(`model/`, `manifest.json`, then `DONE`). Where each file goes is the caller's
(`StageFiles`; a study's layout is train/study/layout.py). A stage with `DONE`
is never trained again; one without resumes from its latest sound checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import time
from typing import Any, Protocol

import jax
from flax import nnx

from train.checkpoints import TrainCheckpoints, nonfinite_leaves
from train.hparams import Hyperparameters, RunOptions, stage_tasks
from train.loop import LoopClock, train_loop
from train.losses import get_loss
from train.metrics import MetricsWriter
from train.optimizer import make_optimizer
from train.progress import StageProgress
from train.step import (
    NonFiniteLossError,
    TrainState,
    bind_seed,
    init_train_state,
    make_step_program,
)
from xlmr_flax import MixtureModel, TaskModel, faults, load_tokenizer
from xlmr_flax.atomic import write_file
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.data.batching import TrainBatches
from xlmr_flax.data.cache import cached_features, tokenizer_fingerprint
from xlmr_flax.data.mixture import MixtureBatches, mixture_rates
from xlmr_flax.errors import CheckpointError
from xlmr_flax.formats import get_format
from xlmr_flax.model import set_remat
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.provenance import provenance
from xlmr_flax.sharding import global_batch, is_primary, sync_processes, to_host
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import sample_tokenizer_path


class TrainableStage(Protocol):
    """What the trainer needs to know of a stage (a study's `dag.Stage` is one)."""

    id: str
    parent: str
    task: str  # one task, or a mixture `a+b`
    seed: int
    hparams: Hyperparameters
    data: tuple[tuple[str, str | None], ...]  # training data fingerprints, for the manifest


@dataclasses.dataclass(frozen=True)
class StageFiles:
    """Where one stage's outputs go, and the feature cache it shares with others."""

    directory: str
    checkpoints: str  # resumable train state, periodic
    model: str  # our model directory of the final parameters, written atomically
    metrics: str  # metrics.jsonl (TensorBoard events beside it)
    manifest: str
    done: str  # written last
    features: str


def tokenizer_path(config) -> str:
    return config.tokenizer or sample_tokenizer_path()


def head_kwargs(task, raw_dir: str) -> dict[str, Any]:
    return get_format(task.format).head_kwargs(task, raw_dir)


def initial_model(config, stage: TrainableStage, parent_dir: str):
    """(model config, model, heads): the parent's final encoder (from `parent_dir`)
    with a fresh head per task of the stage (initialised from the stage's seed);
    `heads` maps each task to (head name, head arguments). A one-task stage is a
    `TaskModel`, a mixture a `MixtureModel`."""
    tasks = [get_task(name) for name in stage_tasks(stage.task)]
    again = f"delete {os.path.dirname(parent_dir)} to train it again"
    try:
        model_config, _, _, parent = load_model_dir(parent_dir)
    except CheckpointError as err:  # the first line: TensorStore appends pages of detail
        first = str(err).splitlines()[0].split(" See full TensorStore details")[0]
        raise CheckpointError(f"{first[:400]}; {again}") from None
    bad = nonfinite_leaves(parent["encoder"])
    if bad:
        raise CheckpointError(
            f"{parent_dir}: non-finite weights in {', '.join(bad[:3])} (damaged after it "
            f"was written); {again}"
        )
    heads = {t.name: (t.head, head_kwargs(t, config.raw_data)) for t in tasks}
    rngs = nnx.Rngs(stage.seed)
    if len(tasks) == 1:
        model = TaskModel(model_config, tasks[0].head, rngs=rngs, **heads[tasks[0].name][1])
    else:
        model = MixtureModel(model_config, heads, rngs=rngs)
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, {**nnx.to_pure_dict(state), "encoder": parent["encoder"]})
    nnx.update(model, state)
    return model_config, model, heads


def stage_batches(config, stage: TrainableStage, tokenizer, features_dir: str):
    """`batch(step) -> (task name, batch)`: the task's own batches, or a mixture's."""
    hp, loaders = stage.hparams, {}
    for name in stage_tasks(stage.task):
        task, fmt = get_task(name), get_format(get_task(name).format)
        features = cached_features(
            task, "train", "en", config.raw_data, tokenizer, hp.max_length,
            features_dir, **fmt.feature_kwargs(config.get("eval") or {}),
        )  # fmt: skip
        masking = fmt.masking(tokenizer)
        loaders[name] = TrainBatches(
            features, hp.batch_size, stage.seed, masking=masking,
            process_index=jax.process_index(), process_count=jax.process_count(),
        )  # fmt: skip
    if len(loaders) == 1:
        ((name, loader),) = loaders.items()
        return lambda step: (name, loader.batch(step))
    sizes = {name: len(loader.features) for name, loader in loaders.items()}
    rates = mixture_rates(sizes, hp.rate, hp.cap)
    return MixtureBatches(loaders, rates, stage.seed).batch


_PROGRAMS: dict = {}


def check_micro_batches(stage: TrainableStage, micro_batches: int, mesh) -> None:
    """Each micro-batch must split over the mesh's data-parallel devices."""
    devices = mesh.shape["data"] * mesh.shape["fsdp"]
    if stage.hparams.batch_size % (micro_batches * devices):
        raise ValueError(
            f"config.hparams.{stage.task}.micro_batches: {micro_batches} micro-batches of the "
            f"batch of {stage.hparams.batch_size} do not split over {devices} devices"
        )


def step_functions(
    graphdef, heads, stage: TrainableStage, optimizer, schedule, state, mesh, micro_batches: int = 1
):
    """One bound train step per task; stages differing only in parent or seed share
    one compilation."""
    check_micro_batches(stage, micro_batches, mesh)
    steps = {}
    for name, (head, _) in heads.items():
        key = (graphdef, name, stage.hparams, mesh, micro_batches)
        if key not in _PROGRAMS:
            loss = get_loss(head)
            if len(heads) > 1:
                loss = functools.partial(_mixture_loss, loss, name)
            _PROGRAMS[key] = make_step_program(
                graphdef, loss, optimizer, schedule, state, mesh, accumulation_steps=micro_batches
            )
        steps[name] = bind_seed(_PROGRAMS[key], stage.seed, mesh)
    return steps


def run_stage(
    config,
    stage: TrainableStage,
    parent_dir: str,
    files: StageFiles,
    mesh,
    run: RunOptions,
    label: str = "",
    clock: LoopClock | None = None,
) -> str:
    """Trains `stage` on top of the model in `parent_dir` (resuming if it was
    interrupted), publishes it in `files` and returns its directory; `label` names
    it on the progress bar, `clock` receives the loop's timings (goodput)."""
    if os.path.exists(files.done):
        return files.directory
    started = time.time()
    hp = stage.hparams
    tokenizer = load_tokenizer(tokenizer_path(config))
    model_config, model, heads = initial_model(config, stage, parent_dir)
    set_remat(model, run.remat)
    batch_at = stage_batches(config, stage, tokenizer, files.features)
    optimizer, schedule = make_optimizer(hp.learning_rate, hp.steps, warmup_fraction=hp.warmup)
    graphdef, train_state = init_train_state(model, optimizer, mesh)
    checkpoints = TrainCheckpoints(files.checkpoints)
    first_step = 0
    restored = checkpoints.restore_good(train_state)  # None: none, or none that is sound
    if restored is not None:
        train_state, meta = restored
        first_step = meta["next_step"]
    steps = step_functions(
        graphdef, heads, stage, optimizer, schedule, train_state, mesh, run.accumulation
    )
    train_state, last = train_steps(
        stage, steps, train_state, batch_at, first_step, files, checkpoints, mesh, run,
        label or f"{stage.task} {stage.id}", multitask=len(heads) > 1, clock=clock,
    )  # fmt: skip
    publish(config, stage, files, model_config, heads, train_state, tokenizer, run, dict(
        resumed_from_step=first_step, final_metrics=last, seconds_this_run=time.time() - started,
    ))  # fmt: skip
    return files.directory


def train_steps(
    stage: TrainableStage, steps, state: TrainState, batch_at, first_step: int, files: StageFiles,
    checkpoints: TrainCheckpoints, mesh, run: RunOptions, label: str, multitask: bool,
    clock: LoopClock | None = None,
) -> tuple[TrainState, dict[str, float]]:  # fmt: skip
    """The loop from `first_step` to the last step, with its metrics file, progress bar
    and checkpoints every `run.checkpoint_every` steps and at the end; returns the
    final state and the last metrics logged."""
    hp = stage.hparams
    writer = MetricsWriter(files.metrics)
    writer.start(first_step)
    progress = StageProgress(label, hp.steps, first_step, hp.batch_size, enabled=run.progress)
    last: dict[str, float] = {}

    def log(fetched) -> None:
        for done, metrics, name in fetched:
            writer.write(done, metrics, task=name if multitask else None)
            last.update(step=done, **{k: float(v) for k, v in metrics.items()})
        progress.advance(len(fetched), last["loss"])

    def batches():
        for step in range(first_step, hp.steps):
            name, batch = batch_at(step)
            yield name, global_batch(batch, mesh)

    try:
        state = train_loop(
            steps, state, batches(), first_step=first_step, final_step=hp.steps,
            log_every=run.log_every, save_every=run.checkpoint_every,
            save=lambda s, done: checkpoints.save(s, {"next_step": done}), log=log,
            after_step=lambda done: faults.reached(f"step:{stage.id}:{done}"), clock=clock,
        )  # fmt: skip
    except NonFiniteLossError as err:
        raise NonFiniteLossError(
            f"stage {stage.id} ({stage.task}, seed {stage.seed}): {err}; the last good "
            f"checkpoint (step {checkpoints.latest_step()}) stays in {files.directory}"
        ) from None
    finally:
        checkpoints.wait()  # also on an error: a save in flight is the last good checkpoint
        progress.close()
        writer.close()
    return state, last


def publish(
    config, stage: TrainableStage, files: StageFiles, model_config, heads, state: TrainState,
    tokenizer, run: RunOptions, facts: dict[str, Any],
) -> None:  # fmt: skip
    """Writes `model/` (final weights, all finite), `manifest.json` and, last, `DONE`."""
    params = to_host(state.params)  # whole on every process
    bad = nonfinite_leaves(params)
    if bad:  # never DONE on weights that are not numbers
        raise CheckpointError(
            f"stage {stage.id} ({stage.task}): non-finite final weights in "
            f"{', '.join(bad[:3])}; nothing was marked done in {files.directory}"
        )
    # A mixture hands on its encoder alone; its heads stay in its checkpoints.
    head, kwargs = heads[stage.task] if len(heads) == 1 else (None, {})
    # Without DONE a model folder may be a half-finished rename (bucket mounts copy
    # file by file): it is written again.
    if is_primary():
        shutil.rmtree(files.model, ignore_errors=True)
    sync_processes(f"stage {stage.id}: model folder cleared")
    params = params if head else {"encoder": params["encoder"]}
    PretrainedModel(model_config, params, head, kwargs, tokenizer).save(files.model)
    manifest = dict(
        stage=stage.id,
        parent=stage.parent,
        task=stage.task,
        seed=stage.seed,
        hparams=stage.hparams.identity(),
        run_options=dataclasses.asdict(run),
        heads=heads,
        **facts,
        tokenizer_fingerprint=tokenizer_fingerprint(tokenizer),
        data_fingerprint=dict(stage.data),
        config=json.loads(config.to_json_best_effort()),
        versions=_versions(),
        code=provenance(),  # commit and every installed package (pip freeze)
    )
    if is_primary():
        write_file(files.manifest, json.dumps(manifest, indent=2))
        write_file(files.done, "")
    faults.reached(f"stage:{stage.id}")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {p: md.version(p) for p in ("jax", "flax", "optax", "orbax-checkpoint", "transformers")}


def _mixture_loss(loss, task: str, model, batch, rng):
    return loss(model.for_task(task), batch, rng)
