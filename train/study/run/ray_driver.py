"""The Ray executor's driver: submits each stage's task once its parent is done and
settles every try by the class of its fault (docs/pipeline.md, "Faults"), with a
budget per class; drains nodes at fault; reports stages waiting for a node with
Ray's reason; stops the study on a storage error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Any

from train.study.layout import drained_file
from train.study.run.failures import (
    BLOCKED,
    DONE,
    FAILED,
    NodeFault,
    StageFailed,
    StageOutcome,
    one_line,
    storage_error,
)
from train.study.run.goodput import stage_line
from train.study.run.health import write_drained
from train.study.run.ray_task import stage_task
from train.study.run.try_records import STALLED, read_try
from train.study.run.work import has_work

NODE_LABEL = "ray.io/node-id"  # every node's own label: a drained node is excluded by it
WAIT_S = 5.0  # ray.wait's timeout: how often the driver looks at tries still waiting


class StudyStopped(Exception):
    """A storage error stopped the study: `outcomes` of the stages that ended before."""

    def __init__(self, error: OSError, outcomes: list[StageOutcome]):
        super().__init__(str(error))
        self.error = error
        self.outcomes = outcomes


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
        try:
            for stage_id in self.first:
                self.start(stage_id, time.time())
            while self.running:
                ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    self.settle(ref, self.running.pop(ref))
                self.report_pending()
        finally:
            if self.drained:  # the next run drains afresh
                with contextlib.suppress(OSError):
                    os.unlink(drained_file(self.workdir))
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
            self.finish(ray.get(ref))  # ready: its value is there (a timeout would read as lost)
        except ray.exceptions.RayTaskError as err:
            cause = err.cause
            if isinstance(cause, StageFailed):
                self.finish(cause.outcome)
            elif isinstance(cause, NodeFault) and cause.node in self.drained:
                self.say(  # placed there before the drain: not a new fault, no budget spent
                    f"stage {attempt.stage} ({self.what(attempt.stage)}) try {attempt.number}: "
                    f"placed on drained node {cause.node}; submitted again"
                )
                self.start(attempt.stage, attempt.ready_at)
            elif isinstance(cause, NodeFault):
                self.drain(cause.node, cause.line, attempt.stage)
                self.retry(attempt, "node", f"node {cause.node}: {cause.line}")
            elif cause is not None and storage_error(cause) is not None:
                self.stop(storage_error(cause), attempt)
            else:
                self.finish(StageOutcome(attempt.stage, FAILED, one_line(cause or err)))
        except ray.exceptions.RayError as err:  # its worker or its node was lost
            record = read_try(self.workdir, attempt.stage, self.run_id, attempt.number)
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
        write_drained(self.workdir, self.run_id, self.drained)
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
            if read_try(self.workdir, t.stage, self.run_id, t.number) is None
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
        reason = (
            f"pending resources: {len(usable)} node(s) offer {{{asked}}}; none has started it "
            "(all busy, or its worker still starting)"
        )
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
