"""What a person watching the run sees: a bar per stage and one overall line."""

from __future__ import annotations

import sys
import time

import jax
from tqdm import tqdm


class StageProgress:
    """Step, loss, examples/s and ETA of one stage (process 0 only, on stderr)."""

    def __init__(
        self, label: str, total: int, first: int, examples_per_step: int, enabled: bool = True
    ):
        self.examples_per_step = examples_per_step
        self.bar = tqdm(
            total=total,
            initial=first,
            desc=label,
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not enabled or jax.process_index() != 0,
        )
        self._since, self._steps = time.perf_counter(), 0

    def advance(self, steps: int, loss: float) -> None:
        self._steps += steps
        rate = self._steps * self.examples_per_step / (time.perf_counter() - self._since)
        self.bar.set_postfix(loss=f"{loss:.4f}", ex_per_s=f"{rate:.1f}", refresh=False)
        self.bar.update(steps)

    def close(self) -> None:
        self.bar.close()


def overall_line(done: int, total: int, started: float, what: str) -> str:
    """`[done/total stages] elapsed, what is happening now`."""
    elapsed = time.time() - started
    return f"[{done}/{total} stages, {elapsed / 60:.1f} min] {what}"
