"""One run per workdir (or per shard of it): a lock file that needs no lock server.

`WORKDIR/locks/shard-I-of-N.lock` is created with O_CREAT|O_EXCL (atomic on a
local disk; on a Cloud Storage FUSE mount, which has no `flock`, the loser of a race
may get ESTALE when its write is flushed: that is losing too) and holds
who took it: host, process id, shard, start time and a heartbeat that a thread
renews every HEARTBEAT_S seconds. Runs of the same `--shard I/N` with different I
may share a workdir; any other live lock refuses the run with one line.

A lock survives SIGKILL (nothing removes the file). It is broken, with a warning,
when it is stale: its process is gone (same host), or its heartbeat is older than
STALE_AFTER_S (another host). `--break_lock` breaks a lock regardless: use it
only when the run that holds it is known to be gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
from typing import Any

from absl import logging

from train.study.layout import lock_path

HEARTBEAT_S = 30.0
STALE_AFTER_S = 600.0  # 20 missed heartbeats: that run is gone


class WorkdirLocked(RuntimeError):
    """Another live run holds the workdir (or a shard of it that overlaps ours)."""


def _read(path: str) -> dict[str, Any] | None:
    """The lock's record; None if it vanished; {} if unreadable (a write cut short)."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def stale_reason(record: dict[str, Any], path: str) -> str | None:
    """Why a lock no longer protects anything (None: it is live)."""
    heartbeat = record.get("heartbeat")
    if not isinstance(heartbeat, int | float):
        # Unreadable: a lock file cut short; live only while it is fresh.
        with contextlib.suppress(OSError):
            heartbeat = os.path.getmtime(path)
        if not isinstance(heartbeat, int | float):
            return "it is unreadable"
    if record.get("host") == socket.gethostname() and isinstance(record.get("pid"), int):
        if not _process_alive(record["pid"]):
            return f"process {record['pid']} on this host is gone"
        return None
    age = time.time() - heartbeat
    if age > STALE_AFTER_S:
        return f"its heartbeat is {age / 60:.0f} minutes old"
    return None


def _describe(record: dict[str, Any]) -> str:
    started = record.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if started else "?"
    shard = record.get("shard") or ["?", "?"]
    return (
        f"a run on host {record.get('host', '?')} (pid {record.get('pid', '?')}, "
        f"shard {shard[0]}/{shard[1]}, since {when})"
    )


def _compatible(mine: tuple[int, int], record: dict[str, Any]) -> bool:
    """Two shards of the same split are disjoint; anything else overlaps."""
    other = record.get("shard")
    return isinstance(other, list) and other[1] == mine[1] and other[0] != mine[0]


class WorkdirLock:
    """Held for a run's lifetime: `with WorkdirLock(workdir, shard): ...`."""

    def __init__(self, workdir: str, shard: tuple[int, int] = (0, 1), break_lock: bool = False):
        self.path = lock_path(workdir, shard)
        self.shard = shard
        self.break_lock = break_lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "shard": list(self.shard),
            "started": self._started,
            "heartbeat": time.time(),
        }

    def _create(self) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._record(), f)
        except OSError as err:
            # On a Cloud Storage FUSE mount both of two racing runs create the file;
            # the loser learns it only when its write is flushed: ESTALE at close.
            if err.errno != errno.ESTALE:
                raise
            return False
        return True

    def _clear(self, path: str, record: dict[str, Any]) -> None:
        """Removes a lock that is stale (or that --break_lock breaks), else refuses."""
        reason = stale_reason(record, path)
        if reason is None and not self.break_lock:
            raise WorkdirLocked(
                f"{os.path.dirname(os.path.dirname(path))} is in use by {_describe(record)}; "
                f"wait for it to finish, or if that run is gone, break its lock: rerun with "
                f"--break_lock (or delete {path})"
            )
        why = reason or "--break_lock"
        logging.warning("breaking the lock %s of %s: %s", path, _describe(record), why)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def acquire(self) -> WorkdirLock:
        self._started = time.time()
        for _ in range(3):  # a stale lock of our own shard is broken, then taken
            if self._create():
                break
            record = _read(self.path)
            if record is not None:
                self._clear(self.path, record)
        else:
            raise WorkdirLocked(f"{self.path}: could not take the lock (taken meanwhile)")
        try:
            folder = os.path.dirname(self.path)
            for name in sorted(os.listdir(folder)):
                other = os.path.join(folder, name)
                if other == self.path or not name.endswith(".lock"):
                    continue
                record = _read(other)
                if record is None or _compatible(self.shard, record):
                    continue
                self._clear(other, record)
        except BaseException:
            self.release()
            raise
        self._thread = threading.Thread(target=self._beat, name="workdir-lock", daemon=True)
        self._thread.start()
        return self

    def _ours(self, record: dict[str, Any] | None) -> bool:
        return bool(record) and (record.get("host"), record.get("pid")) == (
            socket.gethostname(),
            os.getpid(),
        )

    def _beat(self) -> None:
        # Rewritten in place, not renamed over: the file never vanishes, so no other run
        # can take the lock in between.
        while not self._stop.wait(HEARTBEAT_S):
            record = _read(self.path)
            if record and not self._ours(record):
                logging.error(
                    "the lock %s was broken and taken by %s", self.path, _describe(record)
                )
                return
            with contextlib.suppress(OSError), open(self.path, "w", encoding="utf-8") as f:
                json.dump(self._record(), f)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._ours(_read(self.path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def workdir_lock(workdir: str, shard: tuple[int, int], break_lock: bool = False):
    """The run's lock, held by process 0 alone (the processes of one multi-host run
    are one run)."""
    import jax

    if jax.process_index() != 0:
        yield None
        return
    with WorkdirLock(workdir, shard, break_lock) as lock:
        yield lock
