"""The trainer in a study's workdir: the pretrained model every path starts from,
and each stage trained on its parent's model into the stage's own folder."""

from __future__ import annotations

import os
import shutil

from flax import nnx

from train.loop import LoopClock
from train.stage import run_stage, tokenizer_path
from train.study import layout
from train.study.plan.dag import Stage, StageDag
from train.study.plan.plan import root_id, run_options
from xlmr_flax import TaskModel, export_hf, get_model_config, load_pretrained, load_tokenizer
from xlmr_flax.atomic import write_file
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.sharding import is_primary, sync_processes


def pretrained_root(config, workdir: str, root: str | None = None) -> str:
    """Our model directory of the pretrained model every path starts from, keyed by
    the root id (`root`; computed from the config if not given): a converted
    checkpoint (`config.init_checkpoint`), or a random `config.model` of the tokenizer's
    vocabulary written in transformers format first (the CPU smoke runs)."""
    root = root or root_id(config)
    model_dir = layout.pretrained_dir(workdir, root)
    done = layout.pretrained_done(workdir, root)  # written last, as a stage's DONE
    if os.path.exists(done):
        return model_dir
    source = config.init_checkpoint or layout.pretrained_source(workdir, root)
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


def model_dir(workdir: str, dag: StageDag, stage_id: str) -> str:
    """The model directory a stage hands on (the root's: the pretrained model)."""
    if stage_id == dag.root:
        return layout.pretrained_dir(workdir, dag.root)
    return layout.stage_model_dir(workdir, stage_id)


def parent_model_dir(config, dag: StageDag, stage: Stage, workdir: str) -> str:
    if stage.parent == dag.root:
        return pretrained_root(config, workdir, dag.root)
    return layout.stage_model_dir(workdir, stage.parent)


def train_stage(
    config, dag: StageDag, stage: Stage, workdir: str, mesh, label: str = "",
    clock: LoopClock | None = None,
) -> str:  # fmt: skip
    """Trains `stage` in `WORKDIR/stages/<id>/` (resuming it; nothing if it is done);
    `clock` receives the training loop's timings."""
    files = layout.stage_files(workdir, stage.id)
    if os.path.exists(files.done):
        return files.directory
    parent = parent_model_dir(config, dag, stage, workdir)
    options = run_options(config, stage.task)
    return run_stage(config, stage, parent, files, mesh, options, label, clock=clock)
