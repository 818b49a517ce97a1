"""Resumable train-state checkpoints (Orbax), written by every process of a
multi-host run together: each writes its own shards, the primary the metadata.

A checkpoint holds the TrainState (parameters, optimizer state, step) and a
small JSON of metadata (data position, seed, ...). Saving is asynchronous;
Orbax writes under a temporary name and commits by renaming, so a checkpoint cut
off by a crash is never listed, let alone restored. A complete checkpoint whose
bytes were damaged later is not trusted either: `restore_good` restores the
newest one that Orbax reads without error and whose every parameter and optimizer
value is finite. One that is definitely corrupt (bytes that do not decode, a
non-finite value, no data position) is set aside, moved whole beside the checkpoint
folder (`checkpoints-set-aside/<step>`), never deleted; one that failed to read for a
transient reason (the mount stopped answering, a stale handle, a timeout) is read
again once and otherwise left as it is: the error is raised (a Ray stage is then
retried on another node, from this same checkpoint).
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec

from train.step import TrainState, state_shardings
from xlmr_flax.sharding import is_primary, sync_processes

# A read that failed for the storage's sake, not the bytes': worth another read.
TRANSIENT_ERRNOS = (
    errno.ENOTCONN, errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.EAGAIN, errno.ECONNRESET,
    errno.EINTR,
)  # fmt: skip
TRANSIENT_TEXTS = (
    "Transport endpoint is not connected", "Input/output error", "Stale file handle",
    "DEADLINE_EXCEEDED", "UNAVAILABLE", "Connection reset",
)  # fmt: skip
REREAD_AFTER_S = 1.0


def transient_read_error(err: BaseException) -> bool:
    """Whether a failed read is the storage's passing fault (in `err`'s chain: an
    OSError of a transient errno, or its text inside a library's own exception)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in TRANSIENT_ERRNOS:
            return True
        if any(text in str(err) for text in TRANSIENT_TEXTS):
            return True
        err = err.__cause__ or err.__context__
    return False


def nonfinite_leaves(tree: Any) -> list[str]:
    """The paths of the floating-point leaves holding a NaN or an infinity."""
    leaves = [
        (jax.tree_util.keystr(path), x)
        for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]
        if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    if not leaves:
        return []
    arrays = [x for _, x in leaves]

    def finite(xs):
        return jnp.stack([jnp.all(jnp.isfinite(x)) for x in xs])

    spread = [x for x in arrays if isinstance(x, jax.Array) and not x.is_fully_addressable]
    if spread:  # global arrays of a multi-host run: one replicated answer on every process
        replicated = NamedSharding(spread[0].sharding.mesh, PartitionSpec())
        flags = np.asarray(jax.jit(finite, out_shardings=replicated)(arrays).addressable_data(0))
    else:
        flags = np.asarray(jax.jit(finite)(arrays))
    return [name for (name, _), ok in zip(leaves, flags, strict=True) if not ok]


class TrainCheckpoints:
    def __init__(self, directory: str, *, max_to_keep: int = 2):
        self.directory = os.path.abspath(directory)
        # Complete when a commit file is written last, not when a folder is renamed:
        # a rename on a bucket mount copies file by file and can stop half-way.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            create=True,
            temporary_path_class=ocp.path.atomicity.CommitFileTemporaryPath,
        )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "meta")
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, state: TrainState, meta: dict[str, Any]) -> None:
        """Starts an asynchronous save at `state.step`; `wait()` blocks until written."""
        step = int(jax.device_get(state.step))
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
        )

    def restore(self, like: TrainState, step: int | None = None) -> tuple[TrainState, dict]:
        """Restores onto the shardings of `like` (any mesh: the arrays are resharded)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{self.directory}: no complete checkpoint")
        abstract = jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
            like,
            state_shardings(like),
        )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        return restored["state"], restored["meta"]

    def restore_good(self, like: TrainState) -> tuple[TrainState, dict] | None:
        """The newest checkpoint that restores and holds finite values, or None. A
        corrupt one is set aside with a warning naming where, so training redoes its
        steps; a transient read error is raised after one more read (nothing moved)."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            where = os.path.join(self.directory, str(step))
            try:
                state, meta = self._read(like, step)
                bad = nonfinite_leaves((state.params, state.opt_state))
                problem = f"non-finite values in {', '.join(bad[:3])}" if bad else None
                if not problem and not isinstance(meta.get("next_step"), int):
                    problem = "its metadata has no next_step"
            except Exception as err:  # Orbax and TensorStore raise many types on bad bytes
                if transient_read_error(err):
                    raise
                problem = f"unreadable ({type(err).__name__}: {str(err)[:200]})"
            if not problem:
                return state, meta
            aside = self.set_aside(step)
            logging.warning("checkpoint %s is corrupt (%s); set aside as %s", where, problem, aside)
        return None

    def _read(self, like: TrainState, step: int) -> tuple[TrainState, dict]:
        try:
            return self.restore(like, step)
        except Exception as err:
            if not transient_read_error(err):
                raise
            logging.warning("checkpoint %s/%d: %s; reading it again", self.directory, step, err)
            time.sleep(REREAD_AFTER_S)
            return self.restore(like, step)

    def set_aside(self, step: int) -> str:
        """Moves checkpoint `step` out of the manager's sight, beside its folder."""
        aside_dir = f"{self.directory}-set-aside"
        target = os.path.join(aside_dir, str(step))
        if os.path.exists(target):
            target = f"{target}-{time.time():.0f}"
        if is_primary():
            os.makedirs(aside_dir, exist_ok=True)
            shutil.move(os.path.join(self.directory, str(step)), target)
        sync_processes(f"checkpoint {step} set aside")
        self.manager.reload()
        return target

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
