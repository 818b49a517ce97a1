"""A stage's settings as typed, validated records: what changes its weights
(`Hyperparameters`, part of the stage id) and how the run goes (`RunOptions`, not).

`hparams.default`, `hparams.mixture` and `hparams.<task>` may hold keys of either
record; every key is checked here, before anything runs, and an error names the
config key at fault (`config.hparams.mnli.steps: ...`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from xlmr_flax.model import REMAT_POLICIES

MIXTURE_RATES = ("proportional", "capped", "uniform")  # xlmr_flax/data/mixture.py
MIXTURE = "+"  # "mnli+squad_v2": one multi-task stage on a mixture of these tasks
AUTO = 0  # micro_batches: the planner's choice (train/study/plan/fit.py)


def stage_tasks(name: str) -> tuple[str, ...]:
    """The tasks a stage trains on: one, or every task of a mixture."""
    return tuple(name.split(MIXTURE))


class HparamsError(ValueError):
    """A stage's hyperparameters or run options are missing, unknown or invalid."""


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """Everything the optimiser and the data order of a stage depend on."""

    learning_rate: float
    steps: int
    batch_size: int
    max_length: int
    warmup: float = 0.1  # fraction of the steps with a linear warm-up
    rate: str | None = None  # mixture stages only: how tasks are drawn
    cap: int | None = None  # mixture stages only: the `capped` rate's size cap

    def identity(self) -> dict[str, Any]:
        """The values that enter the stage id (mixture keys only where they apply)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a stage runs; changing them never changes its id (docs/training.md: the
    micro-batches of a step and rematerialisation fit a step to the chips it runs on,
    and give the same update to float rounding, dropout masks aside)."""

    checkpoint_every: int = 0  # steps between resumable checkpoints; 0: only the last
    log_every: int = 10  # steps between fetches of the metrics from the devices
    progress: bool = True  # the progress bar on stderr
    # Gradient accumulation: a step's batch in this many micro-batches, one after
    # another; 0 (AUTO): the planner's least count that fits the chips of a Ray run's
    # --layout on --topology (1 in process or without --topology).
    micro_batches: int = AUTO
    remat: str = ""  # rematerialise each encoder layer under this policy ("" for none)

    @property
    def accumulation(self) -> int:
        """The micro-batches a step runs in (`auto` left unresolved: one)."""
        return 1 if self.micro_batches == AUTO else self.micro_batches


HPARAM_KEYS = tuple(f.name for f in dataclasses.fields(Hyperparameters))
RUN_KEYS = tuple(f.name for f in dataclasses.fields(RunOptions))
MIXTURE_KEYS = ("rate", "cap")
REQUIRED = tuple(
    f.name for f in dataclasses.fields(Hyperparameters) if f.default is dataclasses.MISSING
)


def _integer(where: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise HparamsError(f"{where}: expected an integer >= {least}, got {value!r}")
    return value


def _number(where: str, value: Any, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HparamsError(f"{where}: expected a number, got {value!r}")
    if not (value > low if high is None else low <= value < high):
        bound = f"> {low}" if high is None else f"in [{low}, {high})"
        raise HparamsError(f"{where}: expected a number {bound}, got {value!r}")
    return float(value)


def stage_settings(
    values: Mapping[str, Any], sources: Mapping[str, str], task: str, mixture: bool
) -> tuple[Hyperparameters, RunOptions]:
    """Typed records of a stage's merged settings; `sources` names the config entry
    each key came from (e.g. `config.hparams.default`), for the error message."""

    def where(key: str) -> str:
        return f"{sources.get(key, 'config.hparams')}.{key}"

    for key in values:
        if key not in HPARAM_KEYS and key not in RUN_KEYS:
            raise HparamsError(
                f"{where(key)}: unknown key (stage {task!r}); hyperparameters: "
                f"{', '.join(HPARAM_KEYS)}; run options: {', '.join(RUN_KEYS)}"
            )
        if key in MIXTURE_KEYS and not mixture and values[key] is not None:
            raise HparamsError(
                f"{where(key)}: only mixture stages take {key!r} (stage {task!r}); "
                "set it in config.hparams.mixture"
            )
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        raise HparamsError(
            f"config.hparams: stage {task!r} has no {', '.join(missing)}; set "
            f"config.hparams.default.{missing[0]} or config.hparams.{task}.{missing[0]}"
        )
    hp = Hyperparameters(
        learning_rate=_number(where("learning_rate"), values["learning_rate"], 0.0),
        steps=_integer(where("steps"), values["steps"], 1),
        batch_size=_integer(where("batch_size"), values["batch_size"], 1),
        max_length=_integer(where("max_length"), values["max_length"], 4),
        warmup=_number(where("warmup"), values.get("warmup", 0.1), 0.0, 1.0),
        rate=values.get("rate") if mixture else None,
        cap=values.get("cap") if mixture else None,
    )
    if mixture:
        if hp.rate not in MIXTURE_RATES:
            raise HparamsError(f"{where('rate')}: expected one of {MIXTURE_RATES}, got {hp.rate!r}")
        _integer(where("cap"), hp.cap, 1)
    micro = values.get("micro_batches", AUTO)
    if isinstance(micro, bool) or not isinstance(micro, int) or micro < 0:
        raise HparamsError(
            f"{where('micro_batches')}: expected an integer >= 1, or 0 for the planner's "
            f"choice, got {micro!r}"
        )
    run = RunOptions(
        checkpoint_every=_integer(where("checkpoint_every"), values.get("checkpoint_every", 0), 0),
        log_every=_integer(where("log_every"), values.get("log_every", 10), 1),
        progress=values.get("progress", True),
        micro_batches=micro,
        remat=values.get("remat", ""),
    )
    if not isinstance(run.progress, bool):
        raise HparamsError(f"{where('progress')}: expected True or False, got {run.progress!r}")
    if run.remat and run.remat not in REMAT_POLICIES:
        raise HparamsError(
            f'{where("remat")}: expected "" or a policy of jax.checkpoint_policies '
            f"({', '.join(REMAT_POLICIES)}), got {run.remat!r}"
        )
    if run.micro_batches != AUTO and hp.batch_size % run.micro_batches:
        raise HparamsError(
            f"{where('micro_batches')}: {run.micro_batches} does not divide the batch of "
            f"{hp.batch_size} (stage {task!r})"
        )
    return hp, run
