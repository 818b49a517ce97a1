"""Resumable train-state checkpoints (Orbax), written by every process of a
multi-host run together: each writes its own shards, the primary the metadata.

A checkpoint holds the TrainState (parameters, optimizer state, step) and a
small JSON of metadata (data position, seed, ...). Saving is asynchronous;
Orbax writes under a temporary name and commits by renaming, so a checkpoint cut
off by a crash is never listed, let alone restored. A complete checkpoint whose
bytes were damaged later is not trusted either: `restore_good` restores the
newest one that Orbax reads without error and whose every parameter and optimizer
value is finite, deleting (with a warning) the ones that fail.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec

from train.step import TrainState, state_shardings


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
        """The newest checkpoint that restores and holds finite values, or None. A bad
        one is deleted with a warning naming it, so training redoes its steps."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            where = os.path.join(self.directory, str(step))
            try:
                state, meta = self.restore(like, step)
                bad = nonfinite_leaves((state.params, state.opt_state))
                problem = f"non-finite values in {', '.join(bad[:3])}" if bad else None
                if not problem and not isinstance(meta.get("next_step"), int):
                    problem = "its metadata has no next_step"
            except Exception as err:  # Orbax and TensorStore raise many types on bad bytes
                problem = f"unreadable ({type(err).__name__}: {str(err)[:200]})"
            if not problem:
                return state, meta
            logging.warning("checkpoint %s is corrupt (%s); deleting it", where, problem)
            self.manager.delete(step)
        return None

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
