"""The Ray executor (`--executor ray`): every try of a stage a Ray task that checks its
node, trains the stage and runs its evaluation units (ray_task.py, then work.py
`stage_work`, as in process), submitted by the driver (ray_driver.py) once its
parent is done, started by Ray when its chips are free anywhere in the cluster.

- The root's task writes the pretrained model (and evaluates it) once; every first
  stage starts after it.
- A task asks for its chips (resources.py) and owns its process (`max_calls=1`: a
  fresh worker per try, with its own chips and environment).
- Faults are told apart, each class with its budget (`config.executor`, checked
  here): a lost worker or node (`preemption_retries`), the node at fault
  (`node_error_retries`; the node is drained), the stage's own error (one try, its
  subtree blocked), a storage error (the study stops, exit 4).

Ray workers import this code: PYTHONPATH in the runtime environment names the
folder holding the `train` package (a worktree or an installed package); on a
cluster, the same path on every node (the cluster's setup puts the code there).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from train.study.plan.dag import Stage, StageDag
from train.study.plan.plan import ConfigError
from train.study.run.failures import StageOutcome, one_line
from train.study.run.held_chips import ClusterChips
from train.study.run.ray_driver import StudyDriver
from train.study.run.resources import StageShape
from train.study.run.work import stall_after_s
from xlmr_flax import faults
from xlmr_flax.platforms import attached_accelerators

# Settings a worker must see as the driver does (JAX platform and devices, caches,
# offline hub, bucket mount, the test fault switches).
FORWARDED_ENV = (
    "JAX_PLATFORMS", "XLA_FLAGS", "JAX_COMPILATION_CACHE_DIR", "HF_HUB_OFFLINE",
    "HF_HOME", "TRANSFORMERS_VERBOSITY", "XLMR_FLAX_GCS_MOUNT", *faults.ALL_ENV,
)  # fmt: skip
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def code_root() -> str:
    """The folder holding the `train` package this driver runs."""
    import train

    return os.path.dirname(os.path.dirname(os.path.abspath(train.__file__)))


def has_accelerator() -> bool:
    """A TPU (or GPU) with its JAX runtime on this host; else a local instance emulates
    chips on the CPU."""
    if os.environ.get("JAX_PLATFORMS", "").strip() == "cpu":
        return False
    return bool(attached_accelerators())


def worker_env(config, emulated: bool) -> dict[str, str]:
    """The environment variables every stage's worker gets."""
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    path = [code_root(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    if emulated:
        devices = int(config.get("cpu_devices") or 8)
        env["JAX_PLATFORMS"] = "cpu"
        if DEVICE_COUNT_FLAG not in env.get("XLA_FLAGS", ""):
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {DEVICE_COUNT_FLAG}={devices}".strip()
    return env


def init_options(config, address: str | None) -> dict[str, Any]:
    """`ray.init` arguments: connect to `address`, or start a local instance (this
    host's CPUs; on a host without an accelerator, `config.cpu_devices` emulated
    chips as the resource `TPU`)."""
    emulated = address is None and not has_accelerator()
    options: dict[str, Any] = dict(
        runtime_env={"env_vars": worker_env(config, emulated)}, log_to_driver=True
    )
    if address:
        return dict(options, address=address)
    # "local": always a new instance of its own, never one already running on this host
    options.update(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False)
    if emulated:
        options["resources"] = {"TPU": float(config.get("cpu_devices") or 8)}
    return options


SETTINGS = dict(preemption_retries=100, node_error_retries=3, stall_after_s=1800.0,
                pending_report_s=600.0)  # fmt: skip
RETIRED = {"max_retries": "preemption_retries and node_error_retries"}


@dataclasses.dataclass(frozen=True)
class ExecutorSettings:
    """`config.executor` (configs/base.py): the budgets of retries per fault class and
    the times after which a stage is stopped (stalled) or reported (pending)."""

    preemption_retries: int  # lost worker or node: the stage resumes from its checkpoint
    node_error_retries: int  # its node at fault (health check, backend, mount, a stall)
    stall_after_s: float
    pending_report_s: float


def executor_settings(config) -> ExecutorSettings:
    """`config.executor` checked; a bad value's error names its key (ValueError)."""
    given = config.get("executor") or {}
    for key in given:
        if key in RETIRED:
            raise ValueError(f"config.executor.{key}: no longer read; use {RETIRED[key]}")
        if key not in SETTINGS:
            raise ValueError(f"config.executor.{key}: unknown; expected {', '.join(SETTINGS)}")
    values = {key: given.get(key, default) for key, default in SETTINGS.items()}
    for key in ("preemption_retries", "node_error_retries"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"config.executor.{key}: expected an integer >= 0, got {value!r}")
    value = values["pending_report_s"]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"config.executor.pending_report_s: expected seconds > 0, got {value!r}")
    return ExecutorSettings(
        values["preemption_retries"], values["node_error_retries"], stall_after_s(config),
        float(value),
    )  # fmt: skip


def check_shape(shape: StageShape) -> None:
    """Only shapes of one task per stage run in this version (ValueError otherwise)."""
    if shape.tasks != 1:
        raise ValueError(
            f"--layout {shape.layout}: {shape.tasks} tasks per stage (jax.distributed across "
            "a slice's hosts) is not run by this version; use --layout chip or host"
        )


def run_on_ray(
    config,
    dag: StageDag,
    stages: list[Stage],
    workdir: str,
    *,
    run_id: str,
    shape: StageShape,
    address: str | None,
    say: Callable[[str], None],
    held_chips: ClusterChips | None = None,
) -> list[StageOutcome]:
    """Runs the root and every stage as Ray tasks, each started when its parent is
    done; returns one outcome per stage, the root's first. A storage error cancels
    what runs and raises `StudyStopped`.
    `held_chips` samples the cluster's chips while it runs (goodput)."""
    import ray

    check_shape(shape)
    settings = executor_settings(config)
    began = time.time()
    where = f"connected to {address}" if address else "local instance"
    try:
        ray.init(**init_options(config, address))
    except (ConnectionError, RuntimeError, ValueError) as err:  # nothing ran yet
        flag = f"--ray-address {address}" if address else "--executor ray (a local instance)"
        raise ConfigError(f"{flag}: Ray did not start ({one_line(err)})") from None
    chips = ray.cluster_resources().get("TPU", 0)
    say(f"ray: {where} in {time.time() - began:.1f} s; {chips:g} chips")
    if held_chips is not None:
        held_chips.start(ray)
    try:
        return StudyDriver(ray, config, dag, stages, workdir, run_id, shape, settings, say).run()
    finally:
        if held_chips is not None:
            held_chips.stop()
        ray.shutdown()
