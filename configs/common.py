"""What the study configs share: their argument, the models, the training lengths and
the base config (model, data, hyperparameters, evaluation, mesh).

ARG of a study config: comma-separated `key=value` items. A value runs until the
next item that contains `=`, so list values need no other separator:

    tasks=mnli,squad_v2,hellaswag,order=3,seeds=1

is tasks (mnli, squad_v2, hellaswag), order 3, one seed. `;` separates items too.
Every study config accepts the keys of OPTION_KEYS (seeds, targets, model,
steps_scale, max_steps, batch_size, raw_data, checkpoint, mesh) besides its own. `model=tiny`
is the local branch: a tiny random model, the bundled tokenizer and sample data,
8 steps per stage, 8 emulated CPU devices.

Hyperparameters: those of the original study (Phang et al., 2020, with jiant on
XLM-R Large): AdamW (eps 1e-8) at a learning rate of 1e-5, gradient clipping at
1.0, 10 % linear warm-up, a maximum length of 256 tokens (384 for question
answering, document stride 128). Training length: EPOCHS = 3 epochs for every
stage (jiant's default, under which the original commands ran, and its XTREME
target setting), at a global batch of 32 (jiant used 4 on one GPU; 32 divides over
the chips of a v4-32 slice), converted to steps with the English training-set
sizes in TRAIN_SIZES:

    steps = max(1, round(EPOCHS * examples / batch_size * steps_scale)), at most max_steps

A stage task without a size here has no steps: a config error before anything runs
(never a silent default). Question-answering sizes count questions; their windows
(stride 128) are a few percent more, so an "epoch" is slightly short of a full pass
there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ml_collections

from xlmr_flax.data import sample_data_dir
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import TARGETS, TASKS, get_task

# The intermediate tasks of the original study, in its order.
INTERMEDIATE_TASKS = (
    "anli_plus", "mnli", "qqp", "sst2", "squad_v2", "hellaswag", "ccg", "cosmosqa",
    "commonsenseqa",
)  # fmt: skip

# English training examples of every task a stage can train on (the official train
# files; ANLI+ = ANLI rounds 1-3 + MNLI + SNLI). Target stages are named by the task
# they train: `xnli` trains on MNLI, `squad_v1` serves XQuAD and MLQA, `lareqa` is a
# dual encoder on SQuAD v1.1 sentences, XCOPA trains `siqa` then `copa`.
TRAIN_SIZES = {
    "anli_plus": 1_105_719,
    "anli": 162_865,
    "mnli": 392_702,
    "snli": 550_152,
    "qqp": 363_846,
    "sst2": 67_349,
    "squad_v1": 87_599,
    "squad_v2": 130_319,
    "hellaswag": 39_905,
    "ccg": 39_604,  # CCGbank sections 02-21, sentences
    "cosmosqa": 25_262,
    "commonsenseqa": 9_741,
    "siqa": 33_410,
    "copa": 400,
    "xnli": 392_702,
    "udpos": 21_253,
    "panx": 20_000,
    "tydiqa": 3_696,
    "lareqa": 87_599,
    "mewslix": 116_903,
}
EPOCHS = 3
MLM_STEPS = 10_000  # continued masked-LM stages (configs/continued_mlm.py)

MODELS = {
    # named size, transformers checkpoint (hub name), retrieval layer of the encoder
    # for Tatoeba-style alignment (XTREME's reference: layer 14 of XLM-R Large).
    "large": ("large", "FacebookAI/xlm-roberta-large", 14),
    "base": ("base", "FacebookAI/xlm-roberta-base", 7),
    "tiny": ("tiny", "", -1),  # random, bundled tokenizer: the CPU branch
}

# Help of the keys every study config accepts; common_options reads them.
OPTION_KEYS = {
    "seeds": "a count N (seeds 0..N-1), a list (`1,4`) or a range (`3-5`)",
    "targets": "XTREME-R targets, or `all`",
    "model": "large, base or tiny (tiny: local CPU branch on the sample data)",
    "steps_scale": "multiply every stage's steps (e.g. 0.01 for a quick run)",
    "max_steps": "at most this many steps per stage",
    "batch_size": "global batch of every stage (steps follow, keeping the epochs)",
    "raw_data": "folder of raw task data in the XTREME download layout",
    "checkpoint": "pretrained weights and tokenizer instead of the model's hub checkpoint: "
    "a folder written by `python -m xlmr_flax.convert` (or a transformers folder)",
    "mesh": "data,fsdp,tensor mesh sizes; -1 = the remaining devices",
}
TASKS_HELP = "intermediate tasks (registry names), or `all`"
BASELINE_HELP = "include the path without intermediate task: yes or no"

TRUE, FALSE = ("yes", "true", "1"), ("no", "false", "0")


# ----------------------------------------------------------------------------------
# The argument
# ----------------------------------------------------------------------------------


def parse_arg(arg: str | None, keys: Mapping[str, str]) -> dict[str, list[str]]:
    """`key=value,...` items (a value continues until the next `key=`) -> {key: values}.

    Raises ValueError naming an unknown key and every accepted one, a value without
    key, a key given twice or a key without value.
    """
    items: dict[str, list[str]] = {}
    current = None
    for token in re.split(r"[,;]", arg or ""):
        token = token.strip()
        if not token:
            continue
        if "=" in token:
            key, _, value = (part.strip() for part in token.partition("="))
            if key not in keys:
                accepted = "\n".join(f"  {k}: {help}" for k, help in keys.items())
                raise ValueError(
                    f"config argument {arg!r}: unknown key {key!r}; accepted keys:\n{accepted}"
                )
            if key in items:
                raise ValueError(f"config argument {arg!r}: key {key!r} is given twice")
            items[key], current = [value] if value else [], key
        elif current is None:
            raise ValueError(
                f"config argument {arg!r}: {token!r} has no key; write key=value items, "
                f"e.g. tasks=mnli,squad_v2,order=2"
            )
        else:
            items[current].append(token)
    for key, values in items.items():
        if not values:
            raise ValueError(f"config argument {arg!r}: key {key!r} has no value")
    return items


def one(key: str, values: Sequence[str]) -> str:
    if len(values) != 1:
        raise ValueError(f"config argument {key}: expected one value, got {list(values)}")
    return values[0]


def integer(key: str, values: Sequence[str], minimum: int | None = None) -> int:
    text = one(key, values)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"config argument {key}={text}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"config argument {key}={text}: expected at least {minimum}")
    return value


def number(key: str, values: Sequence[str]) -> float:
    text = one(key, values)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"config argument {key}={text}: expected a number") from None
    if not value > 0:
        raise ValueError(f"config argument {key}={text}: expected a positive number")
    return value


def flag(key: str, values: Sequence[str]) -> bool:
    text = one(key, values).lower()
    if text not in TRUE + FALSE:
        raise ValueError(f"config argument {key}={text}: expected yes or no")
    return text in TRUE


def choice(key: str, values: Sequence[str], known: Iterable[str]) -> str:
    text, known = one(key, values), tuple(known)
    if text not in known:
        raise ValueError(f"config argument {key}={text}: expected one of {', '.join(known)}")
    return text


def task_names(key: str, values: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
    """Registry task names (a mixture `a+b` names each of its tasks); `all`: default."""
    if list(values) == ["all"]:
        return tuple(default)
    for name in values:
        for part in name.split("+"):
            if part not in TASKS:
                raise ValueError(
                    f"config argument {key}: unknown task {part!r}; the study's tasks are "
                    f"{', '.join(default)} (registry: {', '.join(sorted(TASKS))})"
                )
    if len(set(values)) != len(values):
        raise ValueError(f"config argument {key}: a task is named twice in {list(values)}")
    return tuple(values)


def target_names(values: Sequence[str]) -> tuple[str, ...]:
    if list(values) == ["all"]:
        return TARGETS
    unknown = [name for name in values if name not in TARGETS]
    if unknown:
        raise ValueError(
            f"config argument targets: {', '.join(unknown)} not XTREME-R targets; "
            f"known: {', '.join(TARGETS)}"
        )
    return tuple(values)


def seed_list(values: Sequence[str]) -> tuple[int, ...]:
    """`3` -> (0, 1, 2); `1,4` -> (1, 4); `3-5` -> (3, 4, 5)."""
    try:
        if len(values) == 1 and re.fullmatch(r"\d+-\d+", values[0]):
            first, last = (int(x) for x in values[0].split("-"))
            seeds = tuple(range(first, last + 1))
        elif len(values) == 1:
            seeds = tuple(range(int(values[0])))
        else:
            seeds = tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(
            f"config argument seeds={','.join(values)}: expected a count, a list of "
            f"seeds or a range A-B"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"config argument seeds={','.join(values)}: expected distinct seeds >= 0")
    return seeds


def mesh_sizes(values: Sequence[str]) -> tuple[int, int, int]:
    try:
        sizes = tuple(int(v) for v in values)
    except ValueError:
        sizes = ()
    if len(sizes) != 3 or sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ValueError(
            f"config argument mesh={','.join(values)}: expected data,fsdp,tensor sizes "
            f"(positive, at most one -1), e.g. mesh=-1,1,1"
        )
    return sizes  # type: ignore[return-value]


def path_list(values: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    paths = []
    for text in values:
        path = tuple(part.strip() for part in text.split(">"))
        if not all(path):
            raise ValueError(f"config argument paths: {text!r} has an empty element")
        task_names("paths", [e for e in path if e], INTERMEDIATE_TASKS)
        paths.append(path)
    return tuple(paths)


# ----------------------------------------------------------------------------------
# Settings shared by the study configs
# ----------------------------------------------------------------------------------


def common_options(items: Mapping[str, list[str]]) -> dict[str, Any]:
    """The values of OPTION_KEYS, with their defaults."""

    def given(key, parse, default):
        return parse(key, items[key]) if key in items else default

    model = given("model", lambda k, v: choice(k, v, MODELS), "large")
    tiny = model == "tiny"
    return dict(
        model=model,
        seeds=given("seeds", lambda _, v: seed_list(v), (0, 1, 2)),
        targets=given("targets", lambda _, v: target_names(v), TARGETS),
        steps_scale=given("steps_scale", number, 1.0),
        max_steps=given("max_steps", lambda k, v: integer(k, v, 1), 8 if tiny else None),
        batch_size=given("batch_size", lambda k, v: integer(k, v, 1), 8 if tiny else 32),
        raw_data=given("raw_data", one, sample_data_dir() if tiny else "download"),
        mesh=given("mesh", lambda _, v: mesh_sizes(v), (-1, 1, 1)),
        checkpoint=given("checkpoint", one, ""),
    )


def max_length(task: str, tiny: bool = False) -> int:
    """384 for question answering (span extraction), else 256; 64 on the tiny branch."""
    if tiny:
        return 64
    return get_format(get_task(task).format).max_length


def scaled_steps(raw: float, options: Mapping[str, Any]) -> int:
    steps = max(1, round(raw * options["steps_scale"]))
    return min(steps, options["max_steps"]) if options["max_steps"] else steps


def epoch_steps(task: str, options: Mapping[str, Any], epochs: float = EPOCHS) -> int:
    return scaled_steps(epochs * TRAIN_SIZES[task] / options["batch_size"], options)


def task_hparams(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`hparams.<task>` for every task a stage can train on: steps and max length."""
    tiny = options["model"] == "tiny"
    hparams = {
        task: dict(steps=epoch_steps(task, options), max_length=max_length(task, tiny))
        for task in TRAIN_SIZES
    }
    hparams["mlm"] = dict(
        steps=scaled_steps(MLM_STEPS, options), max_length=max_length("mlm", tiny)
    )
    return hparams


def tiny_eval() -> ml_collections.ConfigDict:
    """Evaluation of the tiny model (eval.predict.predictor.PredictOptions): Tatoeba-style
    alignment reads the encoder's mean-pooled last layer; QA windows of 64 tokens
    with a stride of 32."""
    return ml_collections.ConfigDict(
        dict(batch_size=16, max_length=64, doc_stride=32, bucket_lengths=(32, 64), layer=-1)
    )


def base_config(options: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """Everything but the study: model, data, hyperparameters, evaluation, mesh."""
    name, checkpoint, layer = MODELS[options["model"]]
    checkpoint = options.get("checkpoint") or checkpoint  # e.g. staged once in the bucket
    tiny = options["model"] == "tiny"
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.model = name  # named size (xlmr_flax.config); the checkpoint's when one is given
    config.init_checkpoint = checkpoint  # hub name or folder; empty: random `model`
    config.tokenizer = checkpoint  # the checkpoint's tokenizer; empty: the bundled one
    config.raw_data = options["raw_data"]
    config.study = ml_collections.ConfigDict(
        dict(
            intermediate_tasks=INTERMEDIATE_TASKS,
            orders=(1, 2),
            include_baseline=True,
            sequences=(),
            targets=tuple(options["targets"]),
            seeds=tuple(options["seeds"]),
        )
    )
    default = dict(
        learning_rate=1e-4 if tiny else 1e-5,  # AdamW eps 1e-8, clipping 1.0: train/optimizer
        warmup=0.1,
        batch_size=options["batch_size"],
        max_length=max_length("mnli", tiny),
        checkpoint_every=0 if tiny else 1000,  # a preempted stage loses at most 1000 steps
    )
    config.hparams = ml_collections.ConfigDict(dict(default=default, **task_hparams(options)))
    if tiny:
        config.eval = tiny_eval()
    else:  # max length: 384 for QA, 256 otherwise (eval.predict.predictor.PredictOptions)
        config.eval = ml_collections.ConfigDict(dict(batch_size=128, doc_stride=128, layer=layer))
    config.mesh = tuple(options["mesh"])  # (data, fsdp, tensor); -1: the remaining devices
    config.cpu_devices = 8 if tiny else 0  # emulated on a CPU-only machine (tiny branch)
    config.design = design_block()
    return config


def design_block(mode: str = "fixed", **values: Any) -> ml_collections.ConfigDict:
    """The study's design (docs/adaptive.md): `fixed` trains every seed of the study;
    `adaptive` trains seeds in rounds up to `looks[-1]`, stopping each comparison once
    decided. Both print seeds for 80 % power at `effect_sizes` (points) in `--dry-run`,
    from `pilot` (a finished study folder) or the assumed `seed_sd` and `examples_sd`."""
    design = dict(
        mode=mode, alpha=0.05, delta=1.0, looks=(3, 5, 7, 10), rho=1.0, futility=1.0,
        families=("low",),
        targets=(), estimand="class-mean", effect_sizes=(1.0, 2.0), seed_sd=1.0,
        examples_sd=0.3, pilot="",
    )  # fmt: skip
    design.update(values)
    return ml_collections.ConfigDict(design)
