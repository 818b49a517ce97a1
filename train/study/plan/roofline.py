"""A roofline bound on a program's time: its FLOPs against the chips' peak compute and
the bytes each device moves to and from HBM against the memory bandwidth, whichever
takes longer. No chip runs the program faster, so a time from it is a lower bound
(an MFU of 100 % for a compute-bound step); it is what the planner prices until a
device measures the MFU (bench/train_step.py, docs/benchmarks.md).

FLOPs and bytes per call come from the compiled program's own cost analysis where
`--compile-only --workdir` recorded it for the device count a layout gives a stage
(train/study/plan/compile.py), else from the analytic count below. Collectives over
the interconnect (the data-parallel gradient all-reduce) are not counted.

Analytic count (data parallel, the study's mesh: every device holds every parameter
and its optimizer state, in float32 as the study trains today):
- FLOPs: 6 x non-embedding parameters + attention's 12 x layers x hidden x length per
  training token (the PaLM paper's accounting); a third of it to evaluate.
- bytes per device, training step: 40 per parameter (read forward and backward 8, the
  gradient written 4, AdamW reading gradient, both moments and the parameter 16 and
  writing moments and parameter 12), plus activations: per token and layer
  34 x hidden + 5 x heads x length bytes at 16 bits (Korthikanti et al. 2022, "Reducing
  activation recomputation in large transformer models", section 4), doubled for
  float32, written forward, read back and matched by their gradients backward (x 3).
- bytes per device, evaluation call: 4 per parameter (read once) plus the activations
  written once.
- memory per device (whether a layout fits, and in how many micro-batches:
  train/study/plan/fit.py): 12 bytes per parameter of state (parameter, two moments),
  8 for the gradient and the update's temporaries, 4 more for the summed gradient when
  a step runs in several micro-batches, plus the activations one micro-batch keeps for
  the backward pass: the count above times ACTIVATION_SHARE, calibrated against libtpu's
  compiled peaks of XLM-R Large on v4 (docs/tpu.md, "Memory").
- a step in k micro-batches reads the parameters k times and the summed gradient
  k - 1 more times (ACCUMULATION_BYTES_PER_PARAM per extra micro-batch).
"""

from __future__ import annotations

import dataclasses

TRAIN_BYTES_PER_PARAM = 40
EVAL_BYTES_PER_PARAM = 4
TRAIN_ACTIVATION_PASSES = 3
ACCUMULATION_BYTES_PER_PARAM = 16  # parameters read forward and backward, the sum updated
STATE_BYTES_PER_PARAM = 12  # parameter and both AdamW moments, float32
STEP_BYTES_PER_PARAM = 8  # the gradient and the update's temporaries
ACCUMULATOR_BYTES_PER_PARAM = 4  # the gradient summed over micro-batches
# Activations the compiled step keeps, as a share of the count above: the largest
# share among libtpu's compiled peaks (XLM-R Large on one v4 host, float32; XNLI
# 32 x 256: 0.557, CommonsenseQA 32 x 5 x 256: 0.445), so the estimate stays at or
# above every measured peak (docs/tpu.md, "Memory").
ACTIVATION_SHARE = 0.56


@dataclasses.dataclass(frozen=True)
class StepCost:
    """One call of a program."""

    flops: float  # all devices together
    bytes_per_device: float  # HBM traffic of one device
    source: str  # "analytic" or "compiled for <topology>"
    peak_bytes: float | None = None  # compiled: one device's memory at the program's peak


def train_flops_per_token(config, length: float) -> float:
    """6 x non-embedding parameters (forward + backward) plus attention's
    12 x layers x hidden x length (the PaLM paper's accounting)."""
    per_layer = 4 * config.hidden_size**2 + 2 * config.hidden_size * config.intermediate_size
    return 6 * config.num_layers * per_layer + 12 * config.num_layers * config.hidden_size * length


def parameter_count(config) -> int:
    """Every parameter of the encoder (embeddings included: their gradient is dense and
    AdamW updates every row), without the small task head."""
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h
    per_layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h  # attention, MLP, 2 norms
    return embeddings + 2 * h + config.num_layers * per_layer


def activation_bytes_per_token(config, length: float) -> float:
    """Activations one token leaves in HBM over all layers in one forward pass."""
    per_layer = 34 * config.hidden_size + 5 * config.num_heads * length  # at 16 bits
    dtype_bytes = {"float32": 4, "bfloat16": 2, "float16": 2}.get(str(config.dtype), 4)
    return per_layer * config.num_layers * dtype_bytes / 2


def analytic_train_step(
    config, tokens: float, length: float, devices: int, micro_batches: int = 1
) -> StepCost:
    """A train step of `tokens` tokens (batch x padded length x sequences per row), in
    `micro_batches` micro-batches."""
    per_param = TRAIN_BYTES_PER_PARAM + (micro_batches - 1) * ACCUMULATION_BYTES_PER_PARAM
    traffic = parameter_count(config) * per_param + (
        tokens / devices * TRAIN_ACTIVATION_PASSES * activation_bytes_per_token(config, length)
    )
    return StepCost(tokens * train_flops_per_token(config, length), traffic, "analytic")


def analytic_evaluation(
    config, tokens: float, length: float, calls: float, devices: int
) -> StepCost:
    """`calls` forward passes holding `tokens` tokens in all (a stage's evaluations)."""
    traffic = calls * parameter_count(config) * EVAL_BYTES_PER_PARAM + (
        tokens / devices * activation_bytes_per_token(config, length)
    )
    return StepCost(tokens * train_flops_per_token(config, length) / 3, traffic, "analytic")


def train_memory_per_device(
    config, tokens: float, length: float, devices: int, micro_batches: int = 1
) -> float:
    """Bytes one device holds at a train step's peak, estimated: the state, gradient and
    update temporaries (and the summed gradient over several micro-batches), plus the
    activations kept for the backward pass of one micro-batch of its share of `tokens`
    at `length` (the longest batch)."""
    per_param = STATE_BYTES_PER_PARAM + STEP_BYTES_PER_PARAM
    per_param += ACCUMULATOR_BYTES_PER_PARAM if micro_batches > 1 else 0
    kept = tokens / (devices * micro_batches) * activation_bytes_per_token(config, length)
    return parameter_count(config) * per_param + kept * ACTIVATION_SHARE


def roofline_seconds(cost: StepCost, chips: int, peak_flops: float, bandwidth: float) -> float:
    """The bound: compute time on `chips` at peak, or one device's memory traffic at
    full bandwidth, whichever is longer."""
    return max(cost.flops / (chips * peak_flops), cost.bytes_per_device / bandwidth)


def roofline_fraction(cost: StepCost, chips: int, peak_flops: float, bandwidth: float) -> float:
    """The highest MFU the roofline allows the program: 1.0 when compute-bound."""
    return cost.flops / (chips * peak_flops) / roofline_seconds(cost, chips, peak_flops, bandwidth)
