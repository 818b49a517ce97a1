"""Deliberate faults at named points of a run, so tests can cut a run off, fail it or
hang it exactly where they mean to (inside a stage, between stages, between
evaluations).

Points are `step:<stage id>:<step>` (after that step, and its checkpoint if one was
due), `stage:<stage id>` (after the stage's DONE marker) and `eval:<stage id>:<unit>`
(after an evaluation's file is written). The variables:

- `XLMR_FLAX_KILL_AT=<point>`: the process SIGKILLs itself there (a lost worker);
- `XLMR_FLAX_FAIL_AT=<point>`: raises `PlantedFailure` there (a deterministic error);
- `XLMR_FLAX_HANG_AT=<point>`: sleeps there for good (a hung step);
- `XLMR_FLAX_FAULT_ONCE=<file>`: each fault fires only while that file does not exist
  and creates it first, so a retried task (a new process) goes past the point;
- `XLMR_FLAX_NODE_FAULT=<kind>@<node id>[,...]`: a broken node of a Ray cluster, for
  every stage that starts there (kinds `NODE_FAULTS`): its health check fails
  (`health`), its JAX comes up on the CPU where TPU chips are expected (`platform`),
  its workdir mount answers ENOTCONN (`mount`).

A stage's start-up, before its mesh is built, is the point `start:<stage id>`.

Unset, a point costs one dictionary lookup per variable.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "XLMR_FLAX_KILL_AT"
FAIL_ENV = "XLMR_FLAX_FAIL_AT"
HANG_ENV = "XLMR_FLAX_HANG_AT"
ONCE_ENV = "XLMR_FLAX_FAULT_ONCE"
NODE_ENV = "XLMR_FLAX_NODE_FAULT"
ALL_ENV = (ENV, FAIL_ENV, HANG_ENV, ONCE_ENV, NODE_ENV)
NODE_FAULTS = ("health", "platform", "mount")


class PlantedFailure(RuntimeError):
    """The error `XLMR_FLAX_FAIL_AT` plants (as a bad batch or a config error would)."""


def _fires(variable: str, point: str) -> bool:
    if os.environ.get(variable) != point:
        return False
    once = os.environ.get(ONCE_ENV)
    if not once:
        return True
    try:  # O_EXCL: of several processes reaching the point, one fires
        os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


def reached(point: str) -> None:
    if _fires(ENV, point):
        os.kill(os.getpid(), signal.SIGKILL)
    if _fires(FAIL_ENV, point):
        raise PlantedFailure(f"planted failure at {point}")
    if _fires(HANG_ENV, point):
        while True:
            time.sleep(3600)


def node_fault(kind: str, node_id: str) -> bool:
    """Whether `XLMR_FLAX_NODE_FAULT` breaks `kind` on the node `node_id`."""
    planted = os.environ.get(NODE_ENV, "")
    return bool(planted) and f"{kind}@{node_id}" in planted.split(",")
