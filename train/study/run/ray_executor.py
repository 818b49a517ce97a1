"""The Ray executor (`--executor ray`): every stage a Ray task that trains it and runs
its evaluation units (work.py `stage_work`, as in process), started by Ray as soon
as its parent's task is done and its chips are free anywhere in the cluster.

- The root's task writes the pretrained model (and evaluates it) once; every first
  stage depends on it. Each task gets its parent's ObjectRef, so Ray runs it after
  the parent, and not at all when the parent failed (dependents fail with it).
- A task asks for its chips (resources.py) and owns its process (`max_calls=1`: a
  fresh worker per stage, with its own chips and environment).
- A lost worker or node: Ray runs the task again (`config.executor.max_retries`,
  default 3), which resumes from the stage's last checkpoint. A stage whose counters
  stop moving (watchdog.py) kills its own worker to be retried the same way.
- A stage's own error is not retried: it raises `StageFailed`, its line is kept,
  its dependents never run, every other subtree goes on.

Ray workers import this code: PYTHONPATH in the runtime environment names the
folder holding the `train` package (a worktree or an installed package); on a
cluster, the same path on every node (the cluster's setup puts the code there).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

from absl import logging

from train.study.plan.dag import Stage, StageDag
from train.study.plan.plan import ConfigError
from train.study.run.failures import (
    BLOCKED,
    DONE,
    FAILED,
    StageFailed,
    StageOutcome,
    one_line,
    storage_error,
)
from train.study.run.goodput import stage_line
from train.study.run.held_chips import ClusterChips, task_chips
from train.study.run.resources import StageShape
from train.study.run.work import enable_compilation_cache, has_work, stage_work
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
    options.update(num_cpus=os.cpu_count() or 2, include_dashboard=False)
    if emulated:
        options["resources"] = {"TPU": float(config.get("cpu_devices") or 8)}
    return options


def max_retries(config) -> int:
    value = (config.get("executor") or {}).get("max_retries", 3)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"config.executor.max_retries: expected an integer >= 0, got {value!r}")
    return value


def check_shape(shape: StageShape) -> None:
    """Only shapes of one task per stage run in this version (ValueError otherwise)."""
    if shape.tasks != 1:
        raise ValueError(
            f"--layout {shape.layout}: {shape.tasks} tasks per stage (jax.distributed across "
            "a slice's hosts) is not run by this version; use --layout chip or host"
        )


def _kill_own_worker(_: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # Ray sees a lost worker and retries the task


def stage_task(
    parent: StageOutcome | None,
    config,
    dag: StageDag,
    stage_id: str,
    workdir: str,
    run_id: str,
    ready_at: float,
) -> StageOutcome:
    """One stage in its own worker (the body of its Ray task)."""
    held_from = time.time()  # its chips are its own from here (goodput)
    import jax

    from xlmr_flax.sharding import make_mesh

    logging.set_verbosity(logging.WARNING)
    if config.get("cpu_devices"):
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    enable_compilation_cache(workdir)
    mesh = make_mesh(tuple(config.get("mesh", (-1, 1, 1))))
    outcome = stage_work(
        config, dag, stage_id, workdir, mesh, run_id=run_id,
        ready_at=parent.ended if parent is not None else ready_at, on_stall=_kill_own_worker,
        label=dag.stages[stage_id].task if stage_id in dag.stages else "",
        chips=task_chips(), held_from=held_from,
    )  # fmt: skip
    if outcome.status != DONE:
        raise StageFailed(outcome)
    return outcome


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
    """Submits the root and every stage as Ray tasks and waits for all; returns one
    outcome per stage, the root's first. A storage error is raised at the end.
    `held_chips` samples the cluster's chips while it runs (goodput)."""
    import ray

    check_shape(shape)
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
        task = ray.remote(max_calls=1)(stage_task).options(
            max_retries=max_retries(config), retry_exceptions=False, resources=shape.resources,
            **({"runtime_env": {"env_vars": shape.env}} if shape.env else {}),
        )  # fmt: skip
        shared = (ray.put(config), ray.put(dag))
        refs, skipped = {}, []
        for stage_id in [dag.root, *(s.id for s in stages)]:
            if not has_work(config, dag, stage_id, workdir):  # no worker for a finished stage
                skipped.append(StageOutcome(stage_id, DONE, None, None, 0, time.time()))
                continue
            parent = refs.get(dag.stages[stage_id].parent) if stage_id in dag.stages else None
            refs[stage_id] = task.remote(parent, *shared, stage_id, workdir, run_id, time.time())
        return skipped + _collect(ray, dag, refs, len(stages), began, say)
    finally:
        if held_chips is not None:
            held_chips.stop()
        ray.shutdown()


def _collect(ray, dag: StageDag, refs: dict, total: int, began: float, say) -> list[StageOutcome]:
    depth = {dag.root: 0, **{s.id: s.depth for s in dag.stages.values()}}
    pending = {ref: stage_id for stage_id, ref in refs.items()}
    outcomes: dict[str, StageOutcome] = {}
    storage: OSError | None = None
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in sorted(ready, key=lambda r: depth[pending[r]]):  # parents first
            stage_id = pending.pop(ref)
            outcome, lost = _outcome(ray, dag, ref, stage_id, outcomes)
            storage = storage or lost
            outcomes[stage_id] = outcome
            finished = sum(o.status == DONE for s, o in outcomes.items() if s != dag.root)
            what = dag.stages[stage_id].task if stage_id in dag.stages else "pretrained"
            minutes = (time.time() - began) / 60
            if outcome.status == DONE:
                line = stage_line(outcome.times) if outcome.times else f"{stage_id} done"
                say(f"[{finished}/{total} stages, {minutes:.1f} min] {line}")
            elif outcome.status == FAILED:
                say(f"[{finished}/{total} stages, {minutes:.1f} min] stage {stage_id} ({what}) "
                    f"failed: {outcome.error}")  # fmt: skip
    if storage is not None:
        raise storage
    return [outcomes[s] for s in refs]


def _outcome(ray, dag: StageDag, ref, stage_id: str, outcomes: dict) -> tuple[StageOutcome, Any]:
    """(the stage's outcome, the storage error behind it if any)."""
    parent = dag.stages[stage_id].parent if stage_id in dag.stages else None
    parent_outcome = outcomes.get(parent)
    try:
        return ray.get(ref), None
    except ray.exceptions.RayTaskError as err:
        cause = err.cause
        if isinstance(cause, StageFailed):
            if cause.outcome.stage == stage_id:
                return cause.outcome, None
            return StageOutcome(stage_id, BLOCKED, f"stage {cause.outcome.stage} failed"), None
        if parent_outcome is not None and parent_outcome.status != DONE:
            return StageOutcome(stage_id, BLOCKED, f"stage {parent} failed"), None
        lost = storage_error(cause) if cause is not None else None
        return StageOutcome(stage_id, FAILED, one_line(cause or err)), lost
    except ray.exceptions.RayError as err:  # the worker or node lost more than max_retries
        if parent_outcome is not None and parent_outcome.status != DONE:
            return StageOutcome(stage_id, BLOCKED, f"stage {parent} failed"), None
        return StageOutcome(stage_id, FAILED, f"{type(err).__name__}: Ray gave up on it"), None
