"""The roofline bound on a program's time: FLOPs against peak compute, one device's HBM
bytes against its bandwidth, whichever is longer; peaks per chip; the analytic counts."""

import jax
import pytest
from flax import nnx

from train.study.plan.roofline import (
    TRAIN_ACTIVATION_PASSES,
    TRAIN_BYTES_PER_PARAM,
    StepCost,
    activation_bytes_per_token,
    analytic_evaluation,
    analytic_train_step,
    parameter_count,
    roofline_fraction,
    roofline_seconds,
)
from train.study.plan.targets import parse_target
from xlmr_flax import get_model_config
from xlmr_flax.model import XLMREncoder


def test_the_bound_is_compute_or_memory_whichever_takes_longer():
    v4 = parse_target("v4-8")
    assert (v4.peak_flops, v4.bandwidth) == (275e12, 1200e9)
    compute_bound = StepCost(flops=2 * 275e12, bytes_per_device=600e9, source="analytic")
    assert roofline_seconds(compute_bound, 2, v4.peak_flops, v4.bandwidth) == 1.0
    assert roofline_fraction(compute_bound, 2, v4.peak_flops, v4.bandwidth) == 1.0
    memory_bound = StepCost(flops=275e12, bytes_per_device=2400e9, source="analytic")
    assert roofline_seconds(memory_bound, 2, v4.peak_flops, v4.bandwidth) == 2.0
    assert roofline_fraction(memory_bound, 2, v4.peak_flops, v4.bandwidth) == 0.25


@pytest.mark.parametrize(
    "name, peak, bandwidth",
    [("v5litepod-16", 197e12, 819e9), ("v5p-8", 459e12, 2765e9), ("v6e-8", 918e12, 1640e9),
     ("h100x8", 989e12, 3.35e12)],
)  # fmt: skip
def test_every_accelerator_has_its_peak_compute_and_memory_bandwidth(name, peak, bandwidth):
    target = parse_target(name)
    assert (target.peak_flops, target.bandwidth) == (peak, bandwidth)


@pytest.mark.parametrize("size", ["tiny", "large"])
def test_the_parameter_count_is_the_encoders(size):
    config = get_model_config(size)
    model = nnx.eval_shape(lambda: XLMREncoder(config, rngs=nnx.Rngs(0)))
    counted = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert parameter_count(config) == counted  # large: about 559 million


def test_a_train_step_moves_its_weights_and_optimizer_state_plus_its_share_of_activations():
    large = get_model_config("large")
    one, sixteen = (analytic_train_step(large, 32 * 256, 256, d) for d in (1, 16))
    assert one.flops == sixteen.flops
    weights = parameter_count(large) * TRAIN_BYTES_PER_PARAM
    activations = 32 * 256 * TRAIN_ACTIVATION_PASSES * activation_bytes_per_token(large, 256)
    assert one.bytes_per_device == pytest.approx(weights + activations)
    assert sixteen.bytes_per_device == pytest.approx(weights + activations / 16)
    # Spread over a v4-32's 16 chips, a batch of 32 leaves each chip waiting on memory:
    # the bound allows a quarter of peak; on one chip most of it.
    v4 = parse_target("v4-32")
    assert roofline_fraction(sixteen, 16, v4.peak_flops, v4.bandwidth) < 0.3
    assert roofline_fraction(one, 1, v4.peak_flops, v4.bandwidth) > 0.75


def test_an_evaluation_reads_the_weights_once_per_call_and_does_a_third_of_the_flops():
    large = get_model_config("large")
    evaluation = analytic_evaluation(large, tokens=1000 * 128, length=128, calls=10, devices=4)
    train = analytic_train_step(large, 1000 * 128, 128, 4)
    assert evaluation.flops == pytest.approx(train.flops / 3)
    assert evaluation.bytes_per_device == pytest.approx(
        10 * 4 * parameter_count(large) + 1000 * 128 / 4 * activation_bytes_per_token(large, 128)
    )
