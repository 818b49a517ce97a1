"""Resumable train-state checkpoints (Orbax), written by every process of a
multi-host run together: each writes its own shards, the primary the metadata.

A checkpoint holds the TrainState (parameters, optimizer state, step) and a
small JSON of metadata (data position, seed, ...). Saving is asynchronous;
Orbax writes under a temporary name and commits by renaming, so a checkpoint cut
off by a crash is never listed, let alone restored.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from train.step import TrainState, state_shardings


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

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
