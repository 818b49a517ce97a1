"""Stages hand their encoder on through Orbax, start fresh heads, resume exactly, run once."""

import errno
import functools
import json
import os
import shutil
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from tests.test_plan import smoke_config
from train import stage as stage_lib
from train.checkpoints import TrainCheckpoints
from train.optimizer import make_optimizer
from train.step import init_train_state
from train.study.layout import is_done, stage_dir
from train.study.plan.plan import build_dag
from train.study.run.training import parent_model_dir, pretrained_root, train_stage
from xlmr_flax import TaskModel
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.errors import CheckpointError
from xlmr_flax.sharding import make_mesh


def tiny_study(steps=4):
    config = smoke_config()
    config.study.sequences = (("mnli",),)
    config.study.include_baseline = False
    config.study.targets = ("xnli",)
    config.study.seeds = (0,)
    config.hparams.default.update(steps=steps, batch_size=8, max_length=32, checkpoint_every=2)
    return config


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def wrap_steps(monkeypatch, wrapper):
    """Every train step the stage binds becomes `wrapper(call number, step, state,
    batch)`; returns the real `bind_seed`."""
    real_bind = stage_lib.bind_seed
    calls = {"n": 0}

    def bind(*args, **kwargs):
        step = real_bind(*args, **kwargs)

        def wrapped(state, batch):
            calls["n"] += 1
            return wrapper(calls["n"], step, state, batch)

        return wrapped

    monkeypatch.setattr(stage_lib, "bind_seed", bind)
    return real_bind


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("study"))
    config = tiny_study()
    dag = build_dag(config)
    pretrained_root(config, workdir)
    mesh = make_mesh((8, 1, 1))
    mnli, xnli = dag.in_order()
    train_stage(config, dag, mnli, workdir, mesh)
    return config, dag, workdir, mesh, mnli, xnli


def test_encoder_is_handed_on_bit_exactly_and_the_head_is_fresh(trained):
    config, dag, workdir, _, mnli, xnli = trained
    _, _, _, parent = load_model_dir(os.path.join(stage_dir(workdir, mnli.id), "model"))
    _, model, heads = stage_lib.initial_model(
        config, xnli, parent_model_dir(config, dag, xnli, workdir)
    )
    kwargs = heads["xnli"][1]
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    for a, b in zip(leaves(params["encoder"]), leaves(parent["encoder"]), strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = nnx.to_pure_dict(
        nnx.state(
            TaskModel(model.config, "classification", rngs=nnx.Rngs(xnli.seed), **kwargs), nnx.Param
        )
    )
    head, trained_head = leaves(params["head"]), leaves(parent["head"])
    for a, b in zip(head, leaves(fresh["head"]), strict=True):
        np.testing.assert_array_equal(a, b)  # initialised from the stage's seed
    # Not the parent's trained head: every leaf differs (biases start at zero and the
    # parent's moved), and the weights are random, not zero.
    for a, b in zip(head, trained_head, strict=True):
        assert a.shape == b.shape and not np.array_equal(a, b)
    assert all(a.any() for a in head if a.ndim > 1)


def test_stage_writes_manifest_metrics_and_done(trained):
    _, _, workdir, _, mnli, _ = trained
    directory = stage_dir(workdir, mnli.id)
    assert is_done(workdir, mnli.id)
    assert {"model", "checkpoints", "metrics.jsonl", "manifest.json", "DONE"} <= set(
        os.listdir(directory)
    )
    assert len(Path(directory, "metrics.jsonl").read_text().splitlines()) == 4
    code = json.loads(Path(directory, "manifest.json").read_text())["code"]
    assert code["commit"] and any(p.startswith("jax==") for p in code["packages"])


def test_a_done_stage_is_not_trained_again(trained, monkeypatch):
    config, dag, workdir, mesh, mnli, _ = trained

    def files():
        found = {}
        for folder, _, names in os.walk(stage_dir(workdir, mnli.id)):
            for name in names:
                path = os.path.join(folder, name)
                found[path] = (os.stat(path).st_mtime_ns, Path(path).read_bytes())
        return found

    before = files()
    monkeypatch.setattr(
        stage_lib, "initial_model", lambda *a: pytest.fail("retrained a done stage")
    )
    assert train_stage(config, dag, mnli, workdir, mesh) == stage_dir(workdir, mnli.id)
    assert files() == before and any(p.endswith("DONE") for p in before)


def test_an_interrupted_stage_resumes_to_the_same_parameters(trained, tmp_path, monkeypatch):
    config, dag, workdir, mesh, mnli, _ = trained
    other = str(tmp_path)
    pretrained_root(config, other)

    def crash_at_four(call, step, state, batch):
        if call == 4:
            raise KeyboardInterrupt("killed")
        return step(state, batch)

    real_bind = wrap_steps(monkeypatch, crash_at_four)
    with pytest.raises(KeyboardInterrupt):
        train_stage(config, dag, mnli, other, mesh)
    assert not is_done(other, mnli.id)
    # A model folder without DONE (a rename cut short on a bucket mount) is not trusted.
    partial = Path(stage_dir(other, mnli.id), "model")
    partial.mkdir()
    (partial / "xlmr_flax.json").write_text("{}")
    monkeypatch.setattr(stage_lib, "bind_seed", real_bind)
    train_stage(config, dag, mnli, other, mesh)  # resumes from the step-2 checkpoint
    _, _, _, resumed = load_model_dir(os.path.join(stage_dir(other, mnli.id), "model"))
    _, _, _, uninterrupted = load_model_dir(os.path.join(stage_dir(workdir, mnli.id), "model"))
    for a, b in zip(leaves(resumed), leaves(uninterrupted), strict=True):
        np.testing.assert_array_equal(a, b)
    metrics = Path(stage_dir(other, mnli.id), "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in metrics] == [1, 2, 3, 4]  # no step twice


def test_a_pretrained_folder_without_its_done_marker_is_written_again(trained, tmp_path):
    config, dag = trained[:2]
    partial = tmp_path / "pretrained" / dag.root  # keyed by the root id
    partial.mkdir(parents=True)
    (partial / "xlmr_flax.json").write_text("{}")  # a copy cut short
    root = pretrained_root(config, str(tmp_path))
    assert root == str(partial)
    _, _, _, params = load_model_dir(root)
    _, _, _, reference = load_model_dir(os.path.join(trained[2], "pretrained", dag.root))
    for a, b in zip(leaves(params), leaves(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "pretrained" / f"{dag.root}.DONE").exists()


def test_a_non_finite_loss_stops_the_stage_and_keeps_its_last_good_checkpoint(
    trained, tmp_path, monkeypatch
):
    config, dag, _, mesh, mnli, _ = trained
    workdir = str(tmp_path)
    pretrained_root(config, workdir)

    def diverge_at_three(call, step, state, batch):
        state, metrics = step(state, batch)
        if call == 3:
            metrics = {**metrics, "loss": metrics["loss"] * np.nan}
        return state, metrics

    wrap_steps(monkeypatch, diverge_at_three)
    message = f"stage {mnli.id} \\(mnli, seed 0\\): step 3: loss is nan.*checkpoint \\(step 2\\)"
    with pytest.raises(stage_lib.NonFiniteLossError, match=message):
        train_stage(config, dag, mnli, workdir, mesh)
    assert not is_done(workdir, mnli.id)
    checkpoints = TrainCheckpoints(os.path.join(stage_dir(workdir, mnli.id), "checkpoints"))
    assert checkpoints.latest_step() == 2  # the diverged step 4 checkpoint was never written


def damage(folder: Path) -> None:
    """Overwrites the middle of every array data file with 0xFF bytes (NaN as float32;
    undecodable if compressed): what a flipped disk block or a bad copy leaves."""
    files = [
        f for f in folder.rglob("*") if f.is_file() and f.parent.parent.name.startswith("ocdbt")
    ]
    assert files
    for f in files:
        data = bytearray(f.read_bytes())
        middle = len(data) // 2
        data[middle // 2 : middle + middle // 2] = b"\xff" * (2 * (middle // 2))
        f.write_bytes(bytes(data))


def test_a_damaged_checkpoint_is_never_restored_and_the_stage_trains_again(
    trained, tmp_path, monkeypatch, caplog
):
    config, dag, workdir, mesh, mnli, _ = trained
    other = str(tmp_path)
    pretrained_root(config, other)

    def crash_at_four(call, step, state, batch):
        if call == 4:
            raise KeyboardInterrupt("killed")
        return step(state, batch)

    real_bind = wrap_steps(monkeypatch, crash_at_four)
    with pytest.raises(KeyboardInterrupt):
        train_stage(config, dag, mnli, other, mesh)
    checkpoint = Path(stage_dir(other, mnli.id), "checkpoints", "2")
    damage(checkpoint / "state")
    monkeypatch.setattr(stage_lib, "bind_seed", real_bind)
    train_stage(config, dag, mnli, other, mesh)
    assert f"checkpoint {checkpoint} is corrupt" in caplog.text
    assert is_done(other, mnli.id)
    _, _, _, retrained = load_model_dir(os.path.join(stage_dir(other, mnli.id), "model"))
    _, _, _, uninterrupted = load_model_dir(os.path.join(stage_dir(workdir, mnli.id), "model"))
    for a, b in zip(leaves(retrained), leaves(uninterrupted), strict=True):
        np.testing.assert_array_equal(a, b)  # trained from step 0 again, exactly


def test_a_checkpoint_with_non_finite_values_is_set_aside_not_restored(trained, tmp_path, caplog):
    config, dag, workdir, mesh, mnli, _ = trained
    _, model, _ = stage_lib.initial_model(
        config, mnli, parent_model_dir(config, dag, mnli, workdir)
    )
    _, state = init_train_state(model, make_optimizer(1e-4, 4)[0], mesh)
    checkpoints = TrainCheckpoints(str(tmp_path / "checkpoints"))
    checkpoints.save(state, {"next_step": 0})
    nan = jax.tree.map(lambda x: x * np.nan, state.params)
    checkpoints.save(state.replace(step=state.step + 1, params=nan), {"next_step": 1})
    checkpoints.wait()
    _, meta = checkpoints.restore_good(state)
    assert meta == {"next_step": 0} and checkpoints.manager.all_steps() == [0]
    assert "is corrupt (non-finite values in" in caplog.text
    assert (tmp_path / "checkpoints-set-aside" / "1" / "state").is_dir()  # kept, not deleted


def test_a_checkpoint_that_fails_to_read_once_is_read_again_and_never_set_aside(
    trained, tmp_path, monkeypatch
):
    config, dag, workdir, mesh, mnli, _ = trained
    _, model, _ = stage_lib.initial_model(
        config, mnli, parent_model_dir(config, dag, mnli, workdir)
    )
    _, state = init_train_state(model, make_optimizer(1e-4, 4)[0], mesh)
    checkpoints = TrainCheckpoints(str(tmp_path / "checkpoints"))
    checkpoints.save(state, {"next_step": 0})
    checkpoints.wait()
    real_restore, calls = checkpoints.restore, []

    def mount_gone(like, step=None, *, times):
        calls.append(step)
        if len(calls) <= times:
            raise ValueError("restore failed") from OSError(
                errno.ENOTCONN, "Transport endpoint is not connected"
            )
        return real_restore(like, step)

    monkeypatch.setattr(checkpoints, "restore", functools.partial(mount_gone, times=1))
    _, meta = checkpoints.restore_good(state)  # the second read answers
    assert meta == {"next_step": 0} and calls == [0, 0]
    calls.clear()
    monkeypatch.setattr(checkpoints, "restore", functools.partial(mount_gone, times=2))
    with pytest.raises(ValueError, match="restore failed"):
        checkpoints.restore_good(state)  # still gone: raised, for a retry elsewhere
    assert checkpoints.manager.all_steps() == [0]
    assert not (tmp_path / "checkpoints-set-aside").exists()


def test_non_finite_weights_are_never_marked_done(trained, tmp_path, monkeypatch):
    config, dag, _, mesh, mnli, _ = trained
    workdir = str(tmp_path)
    pretrained_root(config, workdir)

    def poison_last(call, step, state, batch):
        state, metrics = step(state, batch)
        if call == 4:  # the loss stays finite: only the weights are broken
            state = state.replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
        return state, metrics

    wrap_steps(monkeypatch, poison_last)
    with pytest.raises(CheckpointError, match=r"non-finite final weights in .*nothing was marked"):
        train_stage(config, dag, mnli, workdir, mesh)
    assert not is_done(workdir, mnli.id)


def test_a_parent_model_damaged_after_it_was_written_stops_its_children(trained, tmp_path):
    config, dag, workdir, mesh, mnli, xnli = trained
    copy = tmp_path / "stages" / mnli.id
    shutil.copytree(stage_dir(workdir, mnli.id), copy)
    shutil.copytree(os.path.join(workdir, "pretrained"), tmp_path / "pretrained")
    damage(copy / "model" / "params")
    with pytest.raises(
        CheckpointError, match=f"{copy / 'model'}(/params)?: .*; delete {copy} to train it again"
    ):
        train_stage(config, dag, xnli, str(tmp_path), mesh)
    assert not is_done(str(tmp_path), xnli.id)


def test_a_mixture_stage_trains_every_head_and_hands_on_its_encoder(tmp_path):
    config = tiny_study(steps=6)
    config.study.sequences = (("mnli+squad_v1",),)
    config.hparams.mixture = dict(rate="uniform")
    dag = build_dag(config)
    workdir = str(tmp_path)
    mixture = dag.in_order()[0]
    assert mixture.task == "mnli+squad_v1" and mixture.hparams.rate == "uniform"
    _, model, _ = stage_lib.initial_model(
        config, mixture, parent_model_dir(config, dag, mixture, workdir)
    )
    initial = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    train_stage(config, dag, mixture, workdir, make_mesh((8, 1, 1)))
    _, head, _, handed_on = load_model_dir(os.path.join(stage_dir(workdir, mixture.id), "model"))
    assert head is None and set(handed_on) == {"encoder"}
    checkpoints = TrainCheckpoints(os.path.join(stage_dir(workdir, mixture.id), "checkpoints"))
    assert checkpoints.latest_step() == 6  # the final checkpoint keeps both heads
    args = ocp.args.Composite(state=ocp.args.StandardRestore())
    state = checkpoints.manager.restore(6, args=args)["state"]
    for task in ("mnli", "squad_v1"):
        before, after = leaves(initial["heads"][task]), leaves(state["params"]["heads"][task])
        assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True)), task
    lines = Path(stage_dir(workdir, mixture.id), "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line) for line in lines]
    assert {s["task"] for s in steps} == {"mnli", "squad_v1"}
