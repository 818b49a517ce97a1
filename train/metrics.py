"""Per-step metrics as JSON lines and TensorBoard events, written by process 0 only
(the values are global)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import jax


class MetricsWriter:
    """`metrics.jsonl` plus TensorBoard event files in `tensorboard/` beside it.

    `start(step)` is called once before writing: a resumed run drops what the
    interrupted one logged after its last checkpoint, so no step appears twice.
    """

    def __init__(self, path: str, tensorboard: bool = True):
        self.path = path
        self.enabled = jax.process_index() == 0
        self.tensorboard = tensorboard
        self._events = None
        if self.enabled:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def start(self, step: int) -> None:
        if not self.enabled:
            return
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                kept = [line for line in f if json.loads(line)["step"] <= step]
            with open(self.path, "w", encoding="utf-8") as f:
                f.writelines(kept)
        if self.tensorboard:
            from tensorboardX import SummaryWriter

            logdir = os.path.join(os.path.dirname(os.path.abspath(self.path)), "tensorboard")
            # purge_step hides events of steps ≥ it left by an interrupted run.
            self._events = SummaryWriter(logdir, purge_step=step + 1 if step else None)

    def write(self, step: int, metrics: Mapping[str, float], task: str | None = None) -> None:
        """`task` names the task of a mixture stage's step."""
        if not self.enabled:
            return
        values = {k: float(v) for k, v in metrics.items()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **values, **({"task": task} if task else {})}))
            f.write("\n")
        if self._events is not None:
            for name, value in values.items():
                self._events.add_scalar(f"train/{name}", value, step)
                if task:
                    self._events.add_scalar(f"train/{name}/{task}", value, step)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
