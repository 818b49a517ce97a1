"""The sharded train step: same numbers on any mesh and process layout, exact
gradient accumulation, hand-checked losses, and a loud stop on a non-finite loss."""

import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.train_fixtures import batches, tiny_state, train_tiny
from tests.two_process_cluster import launch
from train.checkpoints import TrainCheckpoints
from train.losses import IGNORE, get_loss
from train.optimizer import decay_mask, linear_warmup_decay
from train.step import NonFiniteLossError, check_finite
from xlmr_flax import TaskModel, get_model_config
from xlmr_flax.model import set_remat


@pytest.fixture(scope="module")
def one_device_run():
    return train_tiny((1, 1, 1), jax.devices()[:1])


@pytest.mark.parametrize("mesh_sizes", [(8, 1, 1), (2, 2, 2), (1, 4, 2)])
def test_same_losses_and_params_on_every_mesh(one_device_run, mesh_sizes):
    losses, params = train_tiny(mesh_sizes)
    expected_losses, expected_params = one_device_run
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected_params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_accumulating_four_micro_batches_equals_one_big_batch():
    # Without dropout the micro-batches see the same function as the big batch: five
    # AdamW steps end on the same parameters, to float rounding.
    big, big_params = train_tiny((8, 1, 1), dropout=0.0)
    accumulated, acc_params = train_tiny((8, 1, 1), dropout=0.0, accumulation_steps=4)
    np.testing.assert_allclose(accumulated, big, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(acc_params), jax.tree.leaves(big_params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def tiny_loss_and_grads(remat: str):
    """Loss and gradients of one batch through the tiny classifier, dropout on."""
    batch = {k: jnp.asarray(v) for k, v in next(batches()).items()}
    model = TaskModel(get_model_config("tiny"), "classification", rngs=nnx.Rngs(0), num_labels=3)
    set_remat(model, remat)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(params):
        total, weight = get_loss("classification")(
            nnx.merge(graphdef, params, rest), batch, jax.random.key(3)
        )
        return total / weight

    return jax.jit(jax.value_and_grad(loss))(params)


@pytest.fixture(scope="module")
def plain_loss_and_grads():
    return tiny_loss_and_grads("")


@pytest.mark.parametrize("policy", ["nothing_saveable", "dots_with_no_batch_dims_saveable"])
def test_rematerialised_layers_give_the_same_loss_and_gradients(plain_loss_and_grads, policy):
    # Dropout on: the recomputed forward pass draws the same masks from the same keys.
    plain, plain_grads = plain_loss_and_grads
    remat, remat_grads = tiny_loss_and_grads(policy)
    assert float(remat) == pytest.approx(float(plain), rel=1e-6)
    for a, b in zip(jax.tree.leaves(remat_grads), jax.tree.leaves(plain_grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_an_unknown_remat_policy_is_named():
    model = TaskModel(get_model_config("tiny"), "classification", rngs=nnx.Rngs(0), num_labels=3)
    with pytest.raises(ValueError, match="remat policy 'dots': expected one of nothing_saveable"):
        set_remat(model, "dots")


@pytest.mark.slow  # two processes
def test_two_processes_match_one_process(one_device_run, tmp_path):
    launch("tests/multihost_worker.py", str(tmp_path), timeout_s=300)
    expected_losses, expected_params = one_device_run
    kernel_sum = float(expected_params["encoder"]["layers"][1]["output"]["kernel"].sum())
    for i in range(2):
        result = json.loads((tmp_path / f"process{i}.json").read_text())
        np.testing.assert_allclose(result["losses"], expected_losses, rtol=1e-5)
        np.testing.assert_allclose(result["kernel_sum"], kernel_sum, rtol=1e-4, atol=1e-4)
    # Process 0 alone wrote the metrics; both wrote one checkpoint, which one process reads.
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 5
    _, _, _, _, like = tiny_state((1, 1, 1), jax.devices()[:1])
    restored, meta = TrainCheckpoints(str(tmp_path / "checkpoints")).restore(like)
    assert meta == {"next_step": 5} and int(restored.step) == 5
    for a, b in zip(
        jax.tree.leaves(restored.params), jax.tree.leaves(expected_params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-4, atol=1e-5)


def test_checkpoint_restores_onto_another_mesh(tmp_path):
    _, _, _, _, state = tiny_state((2, 2, 2))
    checkpoints = TrainCheckpoints(str(tmp_path))
    checkpoints.save(state, {"next_step": 0, "seed": 7})
    checkpoints.wait()
    _, _, _, _, like = tiny_state((1, 4, 2), dropout=0.1)
    like = jax.tree.map(lambda x: x * 0, like)  # contents must come from the checkpoint
    restored, meta = checkpoints.restore(like)
    assert meta == {"next_step": 0, "seed": 7}
    for a, b, target in zip(
        jax.tree.leaves(restored), jax.tree.leaves(state), jax.tree.leaves(like), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.sharding == target.sharding


def test_an_interrupted_checkpoint_is_not_listed(tmp_path):
    _, _, _, _, state = tiny_state((8, 1, 1))
    checkpoints = TrainCheckpoints(str(tmp_path))
    checkpoints.save(state, {})
    checkpoints.wait()
    # What a crash mid-save leaves: Orbax's temporary folder for a later step.
    (tmp_path / "7.orbax-checkpoint-tmp-123").mkdir()
    assert TrainCheckpoints(str(tmp_path)).latest_step() == 0


class FixedOutputs:
    """Stands in for a model: returns given outputs, records the inputs it saw."""

    def __init__(self, **outputs):
        self.outputs, self.seen = outputs, []

    def __call__(self, inputs, dropout_rng=None):
        self.seen.append(inputs)
        return self.outputs


def nll(logits, label):
    return -float(jax.nn.log_softmax(jnp.asarray(logits, jnp.float32))[label])


def test_classification_loss_by_hand():
    model = FixedOutputs(logits=jnp.array([[2.0, 0.0], [0.0, 0.0], [1.0, 3.0]]))
    batch = {"input_ids": jnp.zeros((3, 4), jnp.int32), "labels": jnp.array([0, 1, 1]),
             "example_weight": jnp.array([1.0, 1.0, 0.0])}  # fmt: skip
    total, weight = get_loss("classification")(model, batch, None)
    assert float(weight) == 2.0
    assert float(total) == pytest.approx(np.log1p(np.exp(-2.0)) + np.log(2.0), rel=1e-6)


def test_token_loss_ignores_unlabelled_positions_by_hand():
    logits = jnp.array([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0]]])
    batch = {"input_ids": jnp.zeros((1, 3), jnp.int32), "labels": jnp.array([[0, 2, IGNORE]])}
    total, weight = get_loss("token_tagging")(FixedOutputs(logits=logits), batch, None)
    assert float(weight) == 2.0
    assert float(total) == pytest.approx(nll([1, 0, 0], 0) + nll([0, 2, 0], 2), rel=1e-6)


def test_span_loss_is_mean_of_start_and_end_by_hand():
    start, end = jnp.array([[0.0, 1.0, 2.0]]), jnp.array([[3.0, 0.0, 0.0]])
    batch = {"input_ids": jnp.zeros((1, 3), jnp.int32),
             "start_positions": jnp.array([2]), "end_positions": jnp.array([1])}  # fmt: skip
    model = FixedOutputs(start_logits=start, end_logits=end)
    total, weight = get_loss("span_extraction")(model, batch, None)
    expected = (nll([0, 1, 2], 2) + nll([3, 0, 0], 1)) / 2
    assert float(weight) == 1.0 and float(total) == pytest.approx(expected, rel=1e-6)


def test_multiple_choice_and_masked_lm_share_their_formats_losses():
    assert get_loss("multiple_choice") is get_loss("classification")
    assert get_loss("masked_lm") is get_loss("token_tagging")


def test_in_batch_contrastive_loss_by_hand():
    vectors = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    model = FixedOutputs(embedding=jnp.asarray(vectors))
    batch = {
        "input_ids": jnp.zeros((3, 2), jnp.int32),
        "candidate_input_ids": jnp.ones((3, 2), jnp.int32),
    }
    total, weight = get_loss("sentence_embedding")(model, batch, None)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = sum(nll(row, i) for i, row in enumerate(unit @ unit.T / 0.05))
    assert float(weight) == 3.0 and float(total) == pytest.approx(expected, rel=1e-5)
    assert model.seen[1]["input_ids"].sum() == 6  # the candidates were encoded second


def test_non_finite_loss_names_its_step():
    with pytest.raises(NonFiniteLossError, match="step 3: loss is nan"):
        check_finite({"loss": np.float32("nan")}, 3)


def test_training_stops_at_the_first_non_finite_step_before_saving_past_it():
    from train.loop import train_loop

    def step(state, batch):
        return SimpleNamespace(step=state.step + 1), {"loss": jnp.float32(batch["loss"])}

    fed = [{"loss": v} for v in (1.0, 0.5, 0.2, float("inf"), 0.3)]
    logged, saved = [], []
    with pytest.raises(NonFiniteLossError, match="step 4: loss is inf"):
        train_loop(
            step, SimpleNamespace(step=0), fed, log_every=2, save_every=2,
            save=lambda state, done: saved.append(done),
            log=lambda fetched: logged.extend(done for done, _, _ in fetched),
        )  # fmt: skip
    assert saved == [2] and logged == [1, 2, 3]  # step 4's checkpoint is never written


def test_the_loop_steps_each_task_with_its_own_step_and_saves_the_final_step():
    from train.loop import train_loop

    def step_of(task):
        return lambda state, batch: (state + 1, {"loss": jnp.float32(batch), "task": task})

    fed = [("a", 1.0), ("b", 2.0), ("a", 3.0)]
    logged, saved = [], []
    state = train_loop(
        {"a": step_of("a"), "b": step_of("b")}, 10, fed, first_step=10, final_step=13,
        log_every=5, save=lambda state, done: saved.append((state, done)),
        log=lambda fetched: logged.extend((d, m["task"], name) for d, m, name in fetched),
    )  # fmt: skip
    assert state == 13 and saved == [(13, 13)]
    assert logged == [(11, "a", "a"), (12, "b", "b"), (13, "a", "a")]


def test_schedule_warms_up_then_decays_linearly():
    schedule = linear_warmup_decay(1e-3, total_steps=100, warmup_steps=10)
    assert [float(schedule(s)) for s in (0, 5, 10, 55, 100)] == pytest.approx(
        [0.0, 5e-4, 1e-3, 5e-4, 0.0], abs=1e-9
    )


def test_no_weight_decay_on_biases_and_layer_norms():
    params = {
        "dense": {"kernel": 0, "bias": 0},
        "norm": {"scale": 0, "bias": 0},
        "emb": {"embedding": 0},
    }
    assert decay_mask(params) == {
        "dense": {"kernel": True, "bias": False}, "norm": {"scale": False, "bias": False},
        "emb": {"embedding": True},
    }  # fmt: skip
