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

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from absl import logging

from train.study.plan.dag import Stage, StageDag
from train.study.plan.plan import ConfigError
from train.study.run.attempts import DONE as TRY_DONE
from train.study.run.attempts import FAILED as TRY_FAILED
from train.study.run.attempts import NODE_FAULT, STALLED, AttemptRecord, read_attempt
from train.study.run.failures import (
    BLOCKED,
    DONE,
    FAILED,
    NodeFault,
    StageFailed,
    StageOutcome,
    node_error,
    one_line,
    storage_error,
)
from train.study.run.goodput import stage_line
from train.study.run.health import check_node
from train.study.run.resources import StageShape
from train.study.run.watchdog import StepCounters, watch
from train.study.run.work import enable_compilation_cache, has_work, stage_work, stall_after_s
from xlmr_flax import faults
from xlmr_flax.platforms import attached_accelerators
from xlmr_flax.sharding import make_mesh

# Settings a worker must see as the driver does (JAX platform and devices, caches,
# offline hub, bucket mount, the test fault switches).
FORWARDED_ENV = (
    "JAX_PLATFORMS", "XLA_FLAGS", "JAX_COMPILATION_CACHE_DIR", "HF_HUB_OFFLINE",
    "HF_HOME", "TRANSFORMERS_VERBOSITY", "XLMR_FLAX_GCS_MOUNT", *faults.ALL_ENV,
)  # fmt: skip
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
NODE_LABEL = "ray.io/node-id"  # every node's own label: a drained node is excluded by it
WAIT_S = 5.0  # ray.wait's timeout: how often the driver looks at tries still waiting


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


def stage_task(
    config, dag: StageDag, stage_id: str, workdir: str, run_id: str, ready_at: float, attempt: int
) -> StageOutcome:
    """One try of one stage in its own worker (the body of its Ray task): its record,
    its step counters and their watchdog first, then the node's health check, the
    backend and the mesh, then the stage's work. Raises `NodeFault` when the node is
    at fault, `StageFailed` when the stage is, a storage error when the study is."""
    import jax
    import ray

    logging.set_verbosity(logging.WARNING)
    if not has_work(config, dag, stage_id, workdir):  # done by an earlier try
        return StageOutcome(stage_id, DONE, None, None, 0, time.time())
    context = ray.get_runtime_context()
    node = context.get_node_id()
    record = AttemptRecord(workdir, stage_id, run_id, attempt, node)
    counters = StepCounters(workdir, stage_id, run_id)

    def stalled(message: str) -> None:
        record.end(STALLED, message, counters.record["phase"])
        os.kill(os.getpid(), signal.SIGKILL)  # a lost worker: the driver retries the stage

    stop = watch(counters, stall_after_s(config), stalled)  # start-up included
    try:
        try:
            if config.get("cpu_devices"):
                jax.config.update("jax_num_cpu_devices", config.cpu_devices)
            check_node(workdir, node, context.get_accelerator_ids())
            enable_compilation_cache(workdir)
            faults.reached(f"start:{stage_id}")
            mesh = make_mesh(tuple(config.get("mesh", (-1, 1, 1))))
        except NodeFault:
            raise
        except Exception as err:  # the backend or the mesh did not come up here
            if storage_error(err) is not None and node_error(err) is None:
                raise
            raise NodeFault(node, f"start-up failed: {one_line(err)}") from None
        try:
            outcome = stage_work(
                config, dag, stage_id, workdir, mesh, run_id=run_id, ready_at=ready_at,
                label=dag.stages[stage_id].task if stage_id in dag.stages else "",
                counters=counters,
            )  # fmt: skip
        except Exception as err:
            if node_error(err) is not None:
                raise NodeFault(node, one_line(node_error(err))) from None
            raise
    except NodeFault as fault:
        record.end(NODE_FAULT, fault.line, counters.record["phase"])
        raise
    except Exception as err:
        record.end(TRY_FAILED, one_line(err), counters.record["phase"])
        raise
    finally:
        stop.set()
    record.end(TRY_DONE if outcome.status == DONE else TRY_FAILED, outcome.error)
    if outcome.status != DONE:
        raise StageFailed(outcome)
    return outcome


class StudyStopped(Exception):
    """A storage error stopped the study: `outcomes` of the stages that ended before."""

    def __init__(self, error: OSError, outcomes: list[StageOutcome]):
        super().__init__(str(error))
        self.error = error
        self.outcomes = outcomes


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
) -> list[StageOutcome]:
    """Runs the root and every stage as Ray tasks, each started when its parent is
    done; returns one outcome per stage, the root's first. A storage error cancels
    what runs and raises `StudyStopped`."""
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
    try:
        return StudyDriver(ray, config, dag, stages, workdir, run_id, shape, settings, say).run()
    finally:
        ray.shutdown()


@dataclasses.dataclass
class Try:
    """One submitted try of a stage."""

    stage: str
    number: int
    ready_at: float  # when the stage could have started (its parent's end)
    submitted: float
    reported: float = 0.0  # when it was last reported as waiting for a node


class StudyDriver:
    """Submits each stage once its parent is done and settles every try by its fault:
    the stage's own error fails it and blocks its subtree; a lost worker or node
    retries it (`preemption_retries`); its node at fault drains the node and retries
    it elsewhere (`node_error_retries`); a storage error stops the study."""

    def __init__(self, ray, config, dag, stages, workdir, run_id, shape, settings, say):
        self.ray, self.config, self.dag, self.workdir = ray, config, dag, workdir
        self.run_id, self.shape, self.settings, self.say = run_id, shape, settings, say
        self.order = [dag.root, *(s.id for s in stages)]
        planned = set(self.order)
        self.children: dict[str, list[str]] = {}
        for stage in stages:
            self.children.setdefault(stage.parent, []).append(stage.id)
        self.first = [s for s in self.order if s == dag.root or dag.stages[s].parent not in planned]
        self.demand = {"CPU": 1.0, **shape.resources}
        self.task = ray.remote(max_calls=1)(stage_task)
        self.options = dict(
            max_retries=0, retry_exceptions=False, resources=shape.resources,
            **({"runtime_env": {"env_vars": shape.env}} if shape.env else {}),
        )  # fmt: skip  # retries are the driver's, per fault class
        self.shared = (ray.put(config), ray.put(dag))
        self.running: dict[Any, Try] = {}
        self.outcomes: dict[str, StageOutcome] = {}
        self.lost: dict[str, int] = {}
        self.node_faults: dict[str, int] = {}
        self.tries: dict[str, int] = {}
        self.drained: dict[str, str] = {}
        self.began = time.time()

    def run(self) -> list[StageOutcome]:
        for stage_id in self.first:
            self.start(stage_id, time.time())
        while self.running:
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                self.settle(ref, self.running.pop(ref))
            self.report_pending()
        return [self.outcomes[s] for s in self.order if s in self.outcomes]

    def what(self, stage_id: str) -> str:
        return self.dag.stages[stage_id].task if stage_id in self.dag.stages else "pretrained"

    def start(self, stage_id: str, ready_at: float) -> None:
        if not has_work(self.config, self.dag, stage_id, self.workdir):  # no worker for it
            self.finish(StageOutcome(stage_id, DONE, None, None, 0, time.time()))
            return
        number = self.tries[stage_id] = self.tries.get(stage_id, 0) + 1
        options = dict(self.options)
        if self.drained:
            options["label_selector"] = {NODE_LABEL: f"!in({','.join(sorted(self.drained))})"}
        ref = self.task.options(**options).remote(
            *self.shared, stage_id, self.workdir, self.run_id, ready_at, number
        )
        self.running[ref] = Try(stage_id, number, ready_at, time.time())

    def settle(self, ref, attempt: Try) -> None:
        ray = self.ray
        try:
            self.finish(ray.get(ref, timeout=WAIT_S))
        except ray.exceptions.RayTaskError as err:
            cause = err.cause
            if isinstance(cause, StageFailed):
                self.finish(cause.outcome)
            elif isinstance(cause, NodeFault):
                self.drain(cause.node, cause.line, attempt.stage)
                self.retry(attempt, "node", f"node {cause.node}: {cause.line}")
            elif cause is not None and storage_error(cause) is not None:
                self.stop(storage_error(cause), attempt)
            else:
                self.finish(StageOutcome(attempt.stage, FAILED, one_line(cause or err)))
        except ray.exceptions.RayError as err:  # its worker or its node was lost
            record = read_attempt(self.workdir, attempt.stage, self.run_id, attempt.number)
            node = (record or {}).get("node", "unknown")
            if record and record.get("end") == STALLED:
                if record.get("phase") == "start":  # hung before its mesh: the node's fault
                    self.drain(node, str(record.get("error")), attempt.stage)
                self.retry(attempt, "node", f"node {node}: {record.get('error')}")
            else:
                self.retry(attempt, "lost", f"node {node}: {type(err).__name__}")

    def retry(self, attempt: Try, kind: str, line: str) -> None:
        stage_id = attempt.stage
        counts = self.lost if kind == "lost" else self.node_faults
        counts[stage_id] = counts.get(stage_id, 0) + 1
        key = "preemption_retries" if kind == "lost" else "node_error_retries"
        budget = getattr(self.settings, key)
        what = "lost its worker" if kind == "lost" else "its node at fault"
        if counts[stage_id] > budget:
            error = (
                f"{what} {counts[stage_id]} times, more than config.executor.{key} = {budget} "
                f"(last: {line})"
            )
            self.finish(StageOutcome(stage_id, FAILED, error))
            return
        self.say(
            f"stage {stage_id} ({self.what(stage_id)}) try {attempt.number}: {what} ({line}); "
            f"retried ({counts[stage_id]} of {budget} for {key})"
        )
        self.start(stage_id, attempt.ready_at)

    def drain(self, node: str, line: str, stage_id: str) -> None:
        if node in self.drained or node == "unknown":
            return
        self.drained[node] = line
        self.say(
            f"node {node} drained (stage {stage_id}: {line}); no further stage runs there "
            f"in this study ({len(self.drained)} drained)"
        )

    def finish(self, outcome: StageOutcome) -> None:
        stage_id = outcome.stage
        self.outcomes[stage_id] = outcome
        finished = sum(o.status == DONE for s, o in self.outcomes.items() if s != self.dag.root)
        minutes = (time.time() - self.began) / 60
        head = f"[{finished}/{len(self.order) - 1} stages, {minutes:.1f} min]"
        if outcome.status == DONE:
            if outcome.times is not None or stage_id in self.tries:
                line = stage_line(outcome.times) if outcome.times else f"{stage_id} done"
                self.say(f"{head} {line}")
            for child in self.children.get(stage_id, []):
                self.start(child, outcome.ended or time.time())
            return
        if outcome.status == FAILED:
            self.say(f"{head} stage {stage_id} ({self.what(stage_id)}) failed: {outcome.error}")
        below = list(self.children.get(stage_id, []))
        while below:  # never started: its dependents are blocked
            child = below.pop()
            self.outcomes[child] = StageOutcome(child, BLOCKED, f"stage {stage_id} failed")
            below.extend(self.children.get(child, []))

    def stop(self, error: OSError, attempt: Try) -> None:
        """A storage error: cancels every running try and raises `StudyStopped`."""
        self.say(
            f"stage {attempt.stage} ({self.what(attempt.stage)}): storage error "
            f"({one_line(error)}); stopping the study, {len(self.running)} other tries cancelled"
        )
        for ref in self.running:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref, force=True)
        self.running.clear()
        raise StudyStopped(error, [self.outcomes[s] for s in self.order if s in self.outcomes])

    def report_pending(self) -> None:
        """Names, with Ray's reason, every try still waiting for a node after
        `pending_report_s` (again after each further `pending_report_s`)."""
        now, every = time.time(), self.settings.pending_report_s
        due = [
            t for t in self.running.values()
            if now - t.submitted >= every and now - t.reported >= every
        ]  # fmt: skip
        waiting = [
            t for t in due
            if read_attempt(self.workdir, t.stage, self.run_id, t.number) is None
        ]  # fmt: skip
        if not waiting:
            return
        reason = pending_reason(self.ray, self.demand, set(self.drained))
        for attempt in waiting:
            attempt.reported = now
            self.say(
                f"stage {attempt.stage} ({self.what(attempt.stage)}) waiting for a node for "
                f"{now - attempt.submitted:.0f} s: {reason}"
            )


def pending_reason(ray, demand: dict[str, float], drained: set[str]) -> str:
    """Why a task asking `demand` waits: no live node offers it (infeasible: the
    autoscaler must add one; its failed launches say why it has not), every node
    offering it is drained, or they all are busy (pending resources)."""
    asked = ", ".join(f"{k}: {v:g}" for k, v in sorted(demand.items()))
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    able = [
        n["NodeID"] for n in nodes
        if all(n.get("Resources", {}).get(k, 0) >= v for k, v in demand.items())
    ]  # fmt: skip
    usable = [n for n in able if n not in drained]
    if not able:
        reason = f"infeasible: no live node offers {{{asked}}} ({len(nodes)} live nodes)"
    elif not usable:
        reason = f"infeasible: the {len(able)} node(s) offering {{{asked}}} are drained"
    else:
        reason = f"pending resources: {len(usable)} node(s) offer {{{asked}}}, none free now"
    return reason + autoscaler_note(ray)


def autoscaler_note(ray) -> str:
    """The autoscaler's launches that failed or wait (quota, stock-out), if it says."""
    try:
        from ray.autoscaler.v2.sdk import get_cluster_status

        status = get_cluster_status(ray.get_runtime_context().gcs_address, timeout=10)
    except Exception:  # a client connection or an older GCS: no note
        return ""
    notes = [
        f"launch of {r.count} {r.ray_node_type_name} failed: {r.details or 'no reason given'}"
        for r in status.failed_launches
    ] + [f"{r.count} {r.ray_node_type_name} launching" for r in status.pending_launches]
    return f"; autoscaler: {'; '.join(notes)}" if notes else ""
