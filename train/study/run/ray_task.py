"""One try of one stage on its Ray worker (the body of its Ray task): its step
counters, its record and their watchdog first, then the node's health check
(health.py), the JAX backend and the mesh, then the stage's work (work.py). How it
ends tells the driver (ray_driver.py) whose fault it was: `NodeFault` (the node's),
`StageFailed` (the stage's own), a storage error (the study's).
"""

from __future__ import annotations

import os
import signal
import time

from absl import logging

from train.study.plan.dag import StageDag
from train.study.run.failures import (
    DONE,
    NodeFault,
    StageFailed,
    StageOutcome,
    node_error,
    one_line,
    storage_error,
)
from train.study.run.health import DRAINED, check_node, drained_reason
from train.study.run.held_chips import task_chips
from train.study.run.try_records import DONE as TRY_DONE
from train.study.run.try_records import FAILED as TRY_FAILED
from train.study.run.try_records import NODE_FAULT, STALLED, TryRecord
from train.study.run.watchdog import StepCounters, watch
from train.study.run.work import enable_compilation_cache, has_work, stage_work, stall_after_s
from xlmr_flax import faults
from xlmr_flax.sharding import make_mesh


def stage_task(
    config, dag: StageDag, stage_id: str, workdir: str, run_id: str, ready_at: float, attempt: int
) -> StageOutcome:
    """One try of one stage in its own worker (the body of its Ray task): its record,
    its step counters and their watchdog first, then the node's health check, the
    backend and the mesh, then the stage's work. Raises `NodeFault` when the node is
    at fault, `StageFailed` when the stage is, a storage error when the study is."""
    held_from = time.time()  # its chips are its own from here (goodput)
    import jax
    import ray

    logging.set_verbosity(logging.WARNING)
    if config.get("cpu_devices"):  # before anything starts JAX's backend
        jax.config.update("jax_num_cpu_devices", config.cpu_devices)
    if not has_work(config, dag, stage_id, workdir):  # done by an earlier try
        return StageOutcome(stage_id, DONE, None, None, 0, time.time())
    context = ray.get_runtime_context()
    node = context.get_node_id()
    drained = drained_reason(workdir, run_id, node)
    if drained is not None:  # placed here before the drain: no try is recorded
        raise NodeFault(node, f"{DRAINED}: {drained}")
    try:  # one process per try (ray_executor.check_shape): it writes its own records
        counters = StepCounters(workdir, stage_id, run_id, primary=True)  # first: a try counts
        record = TryRecord(workdir, stage_id, run_id, attempt, node)
    except OSError as err:
        if node_error(err) is None:
            raise
        raise NodeFault(node, f"the workdir's mount does not answer ({one_line(err)})") from None

    def stalled(message: str) -> None:
        record.end(STALLED, message, counters.record["phase"])
        os.kill(os.getpid(), signal.SIGKILL)  # a lost worker: the driver retries the stage

    stop = watch(counters, stall_after_s(config), stalled)  # start-up included
    try:
        try:
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
                counters=counters, chips=task_chips(), held_from=held_from,
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
