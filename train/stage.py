"""Training one stage: restore the parent's encoder, fresh head, train, hand off.

Each stage lives in `WORKDIR/stages/<id>/`: `checkpoints/` (resumable train
state, periodic), `model/` (our model directory: the final parameters, config and
tokenizer, written atomically), `metrics.jsonl`, `manifest.json`, and `DONE`
once everything is written. A stage with `DONE` is never trained again; a stage
without it resumes from its latest complete checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import time
from typing import Any

import jax
from flax import nnx

from train import faults
from train.checkpoints import TrainCheckpoints, nonfinite_leaves
from train.dag import Stage, StageDag
from train.losses import get_loss
from train.metrics import MetricsWriter
from train.optimizer import make_optimizer
from train.plan import is_done, root_id, run_options, stage_dir, stage_tasks
from train.progress import StageProgress
from train.step import (
    NonFiniteLossError,
    bind_seed,
    check_finite,
    init_train_state,
    make_step_program,
)
from xlmr_flax import (
    MixtureModel,
    TaskModel,
    export_hf,
    get_model_config,
    load_pretrained,
    load_tokenizer,
)
from xlmr_flax.atomic import write_file
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.data.batching import TrainBatches
from xlmr_flax.data.cache import cached_features, tokenizer_fingerprint
from xlmr_flax.data.mixture import MixtureBatches, mixture_rates
from xlmr_flax.errors import CheckpointError
from xlmr_flax.formats import get_format
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.provenance import provenance
from xlmr_flax.sharding import global_batch, is_primary, sync_processes, to_host
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import sample_tokenizer_path


def tokenizer_path(config) -> str:
    return config.tokenizer or sample_tokenizer_path()


def pretrained_root(config, workdir: str, root: str | None = None) -> str:
    """Our model directory of the pretrained model every path starts from, keyed by
    the root id (`root`; computed from the config if not given): a converted
    checkpoint (`config.init_checkpoint`), or a random `config.model` of the tokenizer's
    vocabulary written in transformers format first (the CPU smoke runs)."""
    root = root or root_id(config)
    folder = os.path.join(workdir, "pretrained")
    model_dir = os.path.join(folder, root)
    done = os.path.join(folder, f"{root}.DONE")  # written last (see run_stage's DONE)
    if os.path.exists(done):
        return model_dir
    source = config.init_checkpoint or os.path.join(folder, f"{root}.init_hf")
    if is_primary():
        shutil.rmtree(model_dir, ignore_errors=True)
        if not config.init_checkpoint:  # the same again: a function of the seed
            shutil.rmtree(source, ignore_errors=True)
            tokenizer = load_tokenizer(tokenizer_path(config))
            model_config = get_model_config(config.model, vocab_size=len(tokenizer))
            params = nnx.to_pure_dict(
                nnx.state(TaskModel(model_config, rngs=nnx.Rngs(config.seed)), nnx.Param)
            )
            export_hf(PretrainedModel(model_config, params, tokenizer=tokenizer), source)
    sync_processes("pretrained: source ready")
    load_pretrained(source, tokenizer=tokenizer_path(config)).save(model_dir)
    if is_primary():
        write_file(done, "")
    sync_processes("pretrained: done")
    return model_dir


def parent_model_dir(config, dag: StageDag, stage: Stage, workdir: str) -> str:
    if stage.parent == dag.root:
        return pretrained_root(config, workdir, dag.root)
    return os.path.join(stage_dir(workdir, stage.parent), "model")


def head_kwargs(task, raw_dir: str) -> dict[str, Any]:
    return get_format(task.format).head_kwargs(task, raw_dir)


def initial_model(config, dag: StageDag, stage: Stage, workdir: str):
    """(model config, model, heads): the parent's final encoder with a fresh head per
    task of the stage (initialised from the stage's seed); `heads` maps each task to
    (head name, head arguments). A one-task stage is a `TaskModel`, a mixture a
    `MixtureModel`."""
    tasks = [get_task(name) for name in stage_tasks(stage.task)]
    parent_dir = parent_model_dir(config, dag, stage, workdir)
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


def stage_batches(config, stage: Stage, tokenizer, workdir: str):
    """`batch(step) -> (task name, batch)`: the task's own batches, or a mixture's."""
    hp, loaders = stage.hparams, {}
    for name in stage_tasks(stage.task):
        task, fmt = get_task(name), get_format(get_task(name).format)
        features = cached_features(
            task, "train", "en", config.raw_data, tokenizer, hp.max_length,
            os.path.join(workdir, "features"), **fmt.feature_kwargs(config.get("eval") or {}),
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


def run_stage(config, dag: StageDag, stage: Stage, workdir: str, mesh, label: str = "") -> str:
    """Trains `stage` (resuming if it was interrupted) and returns its directory;
    `label` names it on the progress bar."""
    directory = stage_dir(workdir, stage.id)
    if is_done(workdir, stage.id):
        return directory
    started = time.time()
    hp, run = stage.hparams, run_options(config, stage.task)
    label = label or f"{stage.task} {stage.id}"
    tokenizer = load_tokenizer(tokenizer_path(config))
    model_config, model, heads = initial_model(config, dag, stage, workdir)
    batch_at = stage_batches(config, stage, tokenizer, workdir)
    optimizer, schedule = make_optimizer(hp.learning_rate, hp.steps, warmup_fraction=hp.warmup)
    graphdef, train_state = init_train_state(model, optimizer, mesh)
    checkpoints = TrainCheckpoints(os.path.join(directory, "checkpoints"))
    first_step = 0
    restored = checkpoints.restore_good(train_state)  # None: none, or none that is sound
    if restored is not None:
        train_state, meta = restored
        first_step = meta["next_step"]
    steps = {}  # per task: stages differing only in parent or seed share one compilation
    for name, (head, _) in heads.items():
        key = (graphdef, name, stage.hparams, mesh)
        if key not in _PROGRAMS:
            loss = get_loss(head)
            if len(heads) > 1:
                loss = functools.partial(_mixture_loss, loss, name)
            _PROGRAMS[key] = make_step_program(
                graphdef, loss, optimizer, schedule, train_state, mesh
            )
        steps[name] = bind_seed(_PROGRAMS[key], stage.seed, mesh)
    writer = MetricsWriter(os.path.join(directory, "metrics.jsonl"))
    writer.start(first_step)
    progress = StageProgress(label, hp.steps, first_step, hp.batch_size, enabled=run.progress)
    every = run.checkpoint_every
    pending: list = []  # metrics still on the devices: fetching syncs, so it is batched
    last: dict[str, float] = {}

    def flush() -> None:
        for done, metrics, name in jax.device_get(pending):
            try:
                check_finite(metrics, done)  # before any save: the last checkpoint stays good
            except NonFiniteLossError as err:
                raise NonFiniteLossError(
                    f"stage {stage.id} ({stage.task}, seed {stage.seed}): {err}; the last good "
                    f"checkpoint (step {checkpoints.latest_step()}) stays in {directory}"
                ) from None
            writer.write(done, metrics, task=name if len(heads) > 1 else None)
            last.update(step=done, **{k: float(v) for k, v in metrics.items()})
        if pending:
            progress.advance(len(pending), last["loss"])
        pending.clear()

    try:
        for step in range(first_step, hp.steps):
            name, batch = batch_at(step)
            train_state, metrics = steps[name](train_state, global_batch(batch, mesh))
            pending.append((step + 1, metrics, name))
            save = (every and (step + 1) % every == 0) or step + 1 == hp.steps
            if save or len(pending) >= run.log_every:
                flush()
            if save:
                checkpoints.save(train_state, {"next_step": step + 1})
            faults.reached(f"step:{stage.id}:{step + 1}")
        flush()
    finally:
        checkpoints.wait()  # also on an error: a save in flight is the last good checkpoint
        progress.close()
        writer.close()
    params = to_host(train_state.params)  # whole on every process
    bad = nonfinite_leaves(params)
    if bad:  # never DONE on weights that are not numbers
        raise CheckpointError(
            f"stage {stage.id} ({stage.task}): non-finite final weights in "
            f"{', '.join(bad[:3])}; nothing was marked done in {directory}"
        )
    model_dir = os.path.join(directory, "model")
    # A mixture hands on its encoder alone; its heads stay in its checkpoints.
    head, kwargs = heads[stage.task] if len(heads) == 1 else (None, {})
    # Without DONE a model folder may be a half-finished rename (bucket mounts copy
    # file by file): it is written again.
    if is_primary():
        shutil.rmtree(model_dir, ignore_errors=True)
    sync_processes(f"stage {stage.id}: model folder cleared")
    params = params if head else {"encoder": params["encoder"]}
    PretrainedModel(model_config, params, head, kwargs, tokenizer).save(model_dir)
    manifest = dict(
        stage=stage.id,
        parent=stage.parent,
        task=stage.task,
        seed=stage.seed,
        hparams=hp.identity(),
        run_options=dataclasses.asdict(run),
        heads=heads,
        resumed_from_step=first_step,
        final_metrics=last,
        seconds_this_run=time.time() - started,
        tokenizer_fingerprint=tokenizer_fingerprint(tokenizer),
        data_fingerprint=dict(stage.data),
        config=json.loads(config.to_json_best_effort()),
        versions=_versions(),
        code=provenance(),  # commit and every installed package (pip freeze)
    )
    if is_primary():
        write_file(os.path.join(directory, "manifest.json"), json.dumps(manifest, indent=2))
        write_file(os.path.join(directory, "DONE"), "")
    faults.reached(f"stage:{stage.id}")
    return directory


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {p: md.version(p) for p in ("jax", "flax", "optax", "orbax-checkpoint", "transformers")}


def _mixture_loss(loss, task: str, model, batch, rng):
    return loss(model.for_task(task), batch, rng)
