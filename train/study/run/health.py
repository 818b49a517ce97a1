"""The health check every stage runs on its node before anything trains (the Ray
executor; docs/pipeline.md, "Faults").

1. libtpu's lock file (a worker that will open TPU chips): left behind by a killed
   worker it stops the next process from opening the chips; it is removed when no
   live process holds it open, and a live holder means the chips are busy (the
   node's fault).
2. The workdir's mount answers a write and a read of a small file (a gcsfuse mount
   whose daemon died answers ENOTCONN).
3. The platform JAX came up on is the one the node offers: JAX falls back to the
   CPU quietly when libtpu does not start, and a stage would then train on the
   host's CPUs while holding its chips.

A try that Ray placed on a node the study drained after the try was submitted
(`drained.json`, `drained_reason`) stops the same way before it starts anything.

A failed check raises `NodeFault`: the driver drains the node and runs the stage
elsewhere. A storage error of the study itself (disk full, read-only) is raised as
it is: the study stops.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid

from train.study import layout
from train.study.run.failures import NodeFault, node_error, one_line
from xlmr_flax import faults
from xlmr_flax.atomic import write_file

LIBTPU_LOCK = "/tmp/libtpu_lockfile"
DRAINED = "drained earlier in this study"


def expected_platform(accelerators: dict[str, list[str]]) -> str | None:
    """The JAX platform this worker must come up on: the one JAX_PLATFORMS pins (a
    study of emulated chips pins `cpu`), else that of the chips Ray gave it (`tpu`,
    `gpu`), else any."""
    pinned = os.environ.get("JAX_PLATFORMS", "").split(",")[0].strip().lower()
    if pinned:
        return pinned
    for resource, platform in (("TPU", "tpu"), ("GPU", "gpu")):
        if accelerators.get(resource):
            return platform
    return None


def lock_holders(path: str) -> list[int]:
    """The live processes other than this one with `path` open (read from /proc)."""
    target = os.path.realpath(path)
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        with contextlib.suppress(OSError):  # gone, or not ours to read
            fds = os.path.join("/proc", pid, "fd")
            if any(os.readlink(os.path.join(fds, fd)) == target for fd in os.listdir(fds)):
                holders.append(int(pid))
    return holders


def clear_libtpu_lock(node: str, path: str = LIBTPU_LOCK) -> bool:
    """Removes a stale lock file (True when one was removed); NodeFault when a live
    process holds it."""
    if not os.path.exists(path):
        return False
    holders = lock_holders(path)
    if holders:
        raise NodeFault(node, f"chips busy: process {holders[0]} holds {path}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True


def probe_mount(workdir: str, node: str) -> None:
    """Writes, reads back and removes a small file in the workdir."""
    path = layout.health_probe(workdir, uuid.uuid4().hex)
    token = f"{node} {os.getpid()}"
    try:
        if faults.node_fault("mount", node):
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN), workdir)
        with open(path, "w", encoding="utf-8") as f:
            f.write(token)
        with open(path, encoding="utf-8") as f:
            answer = f.read()
        os.unlink(path)
    except OSError as err:
        if node_error(err) is None and err.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise  # the study's storage (full, read-only): the study stops
        raise NodeFault(node, f"the workdir's mount does not answer ({one_line(err)})") from None
    if answer != token:
        raise NodeFault(node, f"the workdir's mount read back {answer!r} for {token!r}")


def check_platform(node: str, expected: str | None) -> None:
    """Starts JAX's backend and compares its platform with `expected`."""
    import jax

    devices = jax.devices()
    platform = devices[0].platform
    if faults.node_fault("platform", node):
        expected = "tpu"  # planted: a TPU node whose JAX came up on the CPU
    if expected and platform != expected:
        raise NodeFault(
            node,
            f"JAX came up on {platform} ({len(devices)} devices) where this node offers "
            f"{expected}: its runtime did not start (chips held, libtpu missing or failed)",
        )


def write_drained(workdir: str, run_id: str, drained: dict[str, str]) -> None:
    """Names the drained nodes (id -> why) for the study's tries to read."""
    write_file(layout.drained_file(workdir), json.dumps(dict(run=run_id, nodes=drained)))


def drained_reason(workdir: str, run_id: str, node: str) -> str | None:
    """Why the running study drained `node`, if it did (a try submitted before the
    drain may still be placed there)."""
    try:
        with open(layout.drained_file(workdir), encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError):  # none, or a mount gone: the health check tells
        return None
    if not isinstance(found, dict) or found.get("run") != run_id:
        return None
    return (found.get("nodes") or {}).get(node)


def check_node(workdir: str, node: str, accelerators: dict[str, list[str]]) -> None:
    """The whole check, in order: lock file, mount, platform (NodeFault on failure)."""
    if faults.node_fault("health", node):
        raise NodeFault(node, "planted health-check failure")
    expected = expected_platform(accelerators)
    if expected == "tpu":  # emulated chips never open libtpu: its lock is not theirs
        clear_libtpu_lock(node)
    probe_mount(workdir, node)
    check_platform(node, expected)
