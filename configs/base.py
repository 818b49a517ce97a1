"""The base config: every value of the full ordering study, and how a study config's
argument changes it.

`get_config()` is the full study on XLM-R Large (configs/xtreme_r_sequencing.py with no
argument). Each study config starts from it and overrides a few keys; `tiny(config)` is
the local CPU branch they share (`model=tiny`).

Hyperparameters: those of the original study (Phang et al., 2020, with jiant on XLM-R
Large): AdamW (eps 1e-8, train/optimizer.py) at a learning rate of 1e-5, gradient
clipping at 1.0, 10 % linear warm-up, a maximum length of 256 tokens (384 for question
answering, document stride 128). Training length: EPOCHS = 3 epochs for every stage
(jiant's default, under which the original commands ran, and its XTREME target
setting), at a global batch of 32 (jiant used 4 on one GPU; 32 divides over the chips of
a v4-32 slice), converted to steps with each task's English training examples
(`train_examples` in the task registry, xlmr_flax/tasks/):

    steps = max(1, round(EPOCHS * examples / batch_size * steps_scale)), at most max_steps

A stage task without `train_examples` has no steps: a config error before anything runs
(never a silent default).

ARG of a study config: comma-separated `key=value` items (`parse_arg`). A value runs
until the next item that contains `=`, so list values need no other separator:

    tasks=mnli,squad_v2,hellaswag,order=3,seeds=1

is tasks (mnli, squad_v2, hellaswag), order 3, one seed. `;` separates items too. Every
study config accepts the keys of OPTIONS besides its own.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable
from typing import Any

import ml_collections

from xlmr_flax.config import NAMED_SIZES
from xlmr_flax.data import sample_data_dir
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import TARGETS, TASKS, get_task

# The intermediate tasks of the original study, in its order.
INTERMEDIATE_TASKS = (
    "anli_plus", "mnli", "qqp", "sst2", "squad_v2", "hellaswag", "ccg", "cosmosqa",
    "commonsenseqa",
)  # fmt: skip
EPOCHS = 3
MLM_STEPS = 10_000  # continued masked-LM stages (configs/continued_mlm.py)
BATCH_SIZE = 32


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """The full study, every value a run uses (no argument: the study configs narrow it)."""
    parse_arg(arg)  # a mistyped argument is an error, never ignored
    large = NAMED_SIZES["large"]
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.model = "large"  # named size (xlmr_flax.config.NAMED_SIZES, the model table)
    config.init_checkpoint = large.checkpoint  # hub name or folder; empty: random `model`
    config.tokenizer = large.checkpoint  # the checkpoint's tokenizer; empty: the bundled one
    config.raw_data = "download"  # XTREME's download layout (docs/data.md)
    config.study = ml_collections.ConfigDict(
        dict(
            intermediate_tasks=INTERMEDIATE_TASKS,
            orders=(1, 2),  # every task alone and every ordered pair
            include_baseline=True,  # the path without intermediate task
            sequences=(),  # explicit paths instead of orders, e.g. (("mnli", "squad_v2"),)
            targets=TARGETS,
            seeds=(0, 1, 2),
        )
    )
    default = dict(
        learning_rate=1e-5,
        warmup=0.1,
        batch_size=BATCH_SIZE,
        max_length=256,
        checkpoint_every=1000,  # a preempted stage loses at most 1000 steps
        # A step's batch in this many micro-batches (gradient accumulation); 0: the
        # least that fits the chips of --layout on --topology (docs/training.md).
        micro_batches=0,
        remat="",  # rematerialise each layer: a jax.checkpoint_policies name, "" for none
    )
    config.hparams = ml_collections.ConfigDict(dict(default=default, **task_hparams(Length())))
    # Prediction (eval.predict.program.PredictOptions); max length 384 for QA, else 256.
    config.eval = ml_collections.ConfigDict(
        dict(batch_size=128, doc_stride=128, layer=large.eval_layer)
    )
    config.mesh = (-1, 1, 1)  # (data, fsdp, tensor); -1: the remaining devices
    config.cpu_devices = 0  # devices to emulate on a CPU-only machine
    # Faults under the Ray executor (docs/pipeline.md, "Faults"), a budget per class: a
    # lost worker or node (preemption; resumes from its checkpoint), its node at fault
    # (health check, JAX backend, mount, a stall; retried on another node). A stage's
    # own error is never retried. Seconds without progress before a try is stopped
    # (start-up included), and before a stage waiting for a node is reported.
    config.executor = ml_collections.ConfigDict(
        dict(preemption_retries=100, node_error_retries=3, stall_after_s=1800.0,
             pending_report_s=600.0)
    )  # fmt: skip
    # The report written at the end of a run (docs/report.md). primary_class: the
    # resource class this study asks about, named before any result: its all-targets
    # effect is tested alone at alpha, outside the class family ("" for none).
    # failed_runs: the rule for a run that did not train (its English score at or below
    # its target's chance + failure_margin points, eval/analysis/trained.py), fixed
    # before anything trains: "keep" analyses it as it came out; "replace" drops that
    # seed of every order of its pair on the target and trains the next seed for each.
    config.report = ml_collections.ConfigDict(
        dict(
            n_boot=1000, seed=0, test_one_seed=False, primary_class="low", plots="auto",
            failed_runs="keep", failure_margin=5.0,
        )
    )  # fmt: skip
    # The design (docs/adaptive.md): `fixed` trains every seed; `adaptive` trains seeds
    # in rounds up to looks[-1], stopping each comparison once decided. Both print the
    # seeds for 80 % power at `effect_sizes` (points) in --dry-run, from `pilot` (a
    # finished study folder) or the assumed `seed_sd` and `examples_sd`.
    config.design = ml_collections.ConfigDict(
        dict(
            mode="fixed", alpha=0.05, delta=1.0, looks=(3, 5, 7, 10), rho=1.0, futility=1.0,
            families=("low",), targets=(), estimand="class-mean", effect_sizes=(1.0, 2.0),
            seed_sd=1.0, examples_sd=0.3, pilot="",
        )
    )  # fmt: skip
    return config


def tiny(config: ml_collections.ConfigDict, model: str = "tiny") -> None:
    """The local CPU branch (a size the model table marks `local`): a random model, the
    bundled tokenizer and sample data, 8 emulated devices; evaluation in 64-token
    windows (stride 32), alignment read from the size's eval layer (tiny's: the last)."""
    config.model = model
    config.init_checkpoint = config.tokenizer = ""
    config.raw_data = sample_data_dir()
    config.hparams.default.update(learning_rate=1e-4, checkpoint_every=0, max_length=64)
    layer = NAMED_SIZES[model].eval_layer
    config.eval = ml_collections.ConfigDict(
        dict(batch_size=16, max_length=64, doc_stride=32, bucket_lengths=(32, 64), layer=layer)
    )
    config.cpu_devices = 8


@dataclasses.dataclass(frozen=True)
class Length:
    """How long stages train: a global batch, a scale on every stage's steps, a cap."""

    batch_size: int = BATCH_SIZE
    steps_scale: float = 1.0
    max_steps: int | None = None
    tiny: bool = False

    def steps(self, raw: float) -> int:
        steps = max(1, round(raw * self.steps_scale))
        return min(steps, self.max_steps) if self.max_steps else steps

    def epochs(self, task: str, epochs: float = EPOCHS) -> int:
        return self.steps(epochs * get_task(task).train_examples / self.batch_size)

    def max_length(self, task: str) -> int:
        """384 for question answering (span extraction), else 256; 64 on the tiny branch."""
        return 64 if self.tiny else get_format(get_task(task).format).max_length


def task_hparams(length: Length) -> dict[str, dict[str, Any]]:
    """`hparams.<task>` of every task a stage can train on: steps and max length."""
    hparams = {
        name: dict(steps=length.epochs(name), max_length=length.max_length(name))
        for name, task in TASKS.items()
        if task.train_examples
    }
    hparams["mlm"] = dict(steps=length.steps(MLM_STEPS), max_length=length.max_length("mlm"))
    return hparams


# ----------------------------------------------------------------------------------
# The argument
# ----------------------------------------------------------------------------------

# The keys every study config accepts, with their type (see parse_arg).
OPTIONS: dict[str, type] = dict(
    seeds=tuple,  # a count N (seeds 0..N-1), a list (`1,4`) or a range (`3-5`)
    targets=tuple,  # XTREME-R targets, or `all`
    model=str,  # a size of the model table (MODELS); tiny: the local CPU branch
    steps_scale=float,  # multiply every stage's steps (e.g. 0.01 for a quick run)
    max_steps=int,  # at most this many steps per stage
    batch_size=int,  # global batch of every stage (steps follow, keeping the epochs)
    raw_data=str,  # folder of raw task data in the XTREME download layout
    checkpoint=str,  # pretrained weights and tokenizer (a `python -m xlmr_flax.convert` folder)
    mesh=tuple,  # data,fsdp,tensor mesh sizes; -1 = the remaining devices
)
MODELS = tuple(NAMED_SIZES)  # large, base, small, tiny
TRUE, FALSE = ("yes", "true", "1"), ("no", "false", "0")


class ArgError(ValueError):
    """A config argument that cannot be read; its message is one line."""


def nearest(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest known word, else the known words."""
    known = list(known)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(known)}"


def parse_arg(arg: str | None, **types: type) -> dict[str, Any]:
    """`key=value,...` -> {key: value} for the keys given, each read as its type: int,
    float, str, bool (yes/no), or tuple (every value up to the next `key=`). A bare
    bool key is yes (`configs/smoke.py:quick`)."""
    raw: dict[str, list[str]] = {}
    current = None
    for token in (t.strip() for t in re.split(r"[,;]", arg or "")):
        key, equals, value = (part.strip() for part in token.partition("="))
        if not token:
            continue
        if not equals and types.get(token) is bool:
            value = "yes"
        elif not equals and current is not None and types[current] is tuple:
            raw[current].append(token)
            continue
        elif not equals and token in types:
            raise ArgError(f"config argument {arg!r}: {token!r} has no value; write {token}=...")
        if key not in types:
            raise ArgError(f"config argument {arg!r}: unknown key {key!r}{nearest(key, types)}")
        if key in raw:
            raise ArgError(f"config argument {arg!r}: key {key!r} is given twice")
        raw[key], current = [value] if value else [], key
    return {key: convert(key, values, types[key]) for key, values in raw.items()}


def convert(key: str, values: list[str], kind: type) -> Any:
    text = ",".join(values)
    if not values:
        raise ArgError(f"config argument {key}: no value after {key}=")
    if len(values) > 1 and kind is not tuple:
        raise ArgError(f"config argument {key}={text}: expected one {kind.__name__} value")
    if kind is tuple:
        return tuple(values)
    if kind is bool:
        if text.lower() not in TRUE + FALSE:
            raise ArgError(f"config argument {key}={text}: expected yes or no")
        return text.lower() in TRUE
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ArgError(f"config argument {key}={text}: expected {what}") from None
    if kind in (int, float) and value < 0:
        raise ArgError(f"config argument {key}={text}: expected a number >= 0")
    return value


def one_of(key: str, value: str, known: Iterable[str]) -> str:
    if value not in tuple(known):
        raise ArgError(f"config argument {key}={value}: unknown{nearest(value, known)}")
    return value


def tasks_arg(names: tuple[str, ...]) -> tuple[str, ...]:
    """`tasks=...`: registry names (checked when the plan is built), or `all`."""
    return INTERMEDIATE_TASKS if names == ("all",) else names


def seeds_arg(values: tuple[str, ...]) -> tuple[int, ...]:
    """`3` -> (0, 1, 2); `1,4` -> (1, 4); `3-5` -> (3, 4, 5)."""
    text = ",".join(values)
    try:
        if len(values) == 1 and "-" in text:
            first, last = (int(x) for x in text.split("-"))
            return tuple(range(first, last + 1))
        return tuple(range(int(text))) if len(values) == 1 else tuple(int(v) for v in values)
    except ValueError:
        raise ArgError(
            f"config argument seeds={text}: expected a count, a list of seeds or a range A-B"
        ) from None


def mesh_arg(values: tuple[str, ...]) -> tuple[int, int, int]:
    sizes = tuple(int(v) if re.fullmatch(r"-?\d+", v) else 0 for v in values)
    if len(sizes) != 3 or sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ArgError(
            f"config argument mesh={','.join(values)}: expected data,fsdp,tensor sizes "
            "(positive, at most one -1), e.g. mesh=-1,1,1"
        )
    return sizes  # type: ignore[return-value]


def study_config(arg: str | None, **own: type) -> tuple[ml_collections.ConfigDict, dict, Length]:
    """The base config with the OPTIONS of `arg` applied; also the study config's own
    keys (`own`) as given, and the training length the config's stages follow."""
    items = parse_arg(arg, **own, **OPTIONS)
    model = one_of("model", items.get("model", "large"), MODELS)
    for key in ("steps_scale", "max_steps", "batch_size"):
        if items.get(key) == 0:
            raise ArgError(f"config argument {key}=0: expected a positive number")
    config = get_config()
    size = NAMED_SIZES[model]
    if size.local:
        tiny(config, model)
    else:  # released weights and their tokenizer, or a random model and the bundled one
        config.model, config.eval.layer = model, size.eval_layer
        config.init_checkpoint = config.tokenizer = size.checkpoint
    if items.get("checkpoint"):  # e.g. converted once and staged in the bucket
        config.init_checkpoint = config.tokenizer = items["checkpoint"]
    config.raw_data = items.get("raw_data", config.raw_data)
    if "mesh" in items:
        config.mesh = mesh_arg(items["mesh"])
    if "seeds" in items:
        config.study.seeds = seeds_arg(items["seeds"])
    if items.get("targets", ("all",)) != ("all",):
        config.study.targets = items["targets"]
    length = Length(
        batch_size=items.get("batch_size", 8 if size.local else BATCH_SIZE),
        steps_scale=items.get("steps_scale", 1.0),
        max_steps=items.get("max_steps", 8 if size.local else None),
        tiny=size.local,
    )
    config.hparams.default.batch_size = length.batch_size
    config.hparams.update(task_hparams(length))
    return config, items, length
