"""Multi-task stages: each step trains on a batch of one task, drawn from a mixture.

Rates (the probability of each task per step):
- `proportional`: the task's number of training examples;
- `capped`: the same, with each size capped at `cap` (T5's examples-proportional
  mixing with a limit, so one huge task cannot drown the others);
- `uniform`: every task equally.

The task of step s and how many times that task came before are pure functions
of (seed, s), so a resumed run continues each task's own batch sequence exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from xlmr_flax.data.batching import TrainBatches

RATES = ("proportional", "capped", "uniform")
BLOCK = 4096  # steps drawn per random block


def mixture_rates(sizes: Mapping[str, int], rate: str = "proportional", cap: int = 2**17):
    if rate not in RATES:
        raise ValueError(f"mixture rate {rate!r}: expected one of {RATES}")
    names = sorted(sizes)
    weights = np.array(
        [
            1.0 if rate == "uniform" else min(sizes[n], cap) if rate == "capped" else sizes[n]
            for n in names
        ],
        dtype=np.float64,
    )
    if (weights <= 0).any():
        raise ValueError(f"every task of a mixture needs training examples; sizes {dict(sizes)}")
    return dict(zip(names, weights / weights.sum(), strict=True))


class MixtureBatches:
    """`batch(step) -> (task name, batch)` over several tasks' `TrainBatches`."""

    def __init__(self, loaders: Mapping[str, TrainBatches], rates: Mapping[str, float], seed: int):
        if set(loaders) != set(rates):
            raise ValueError(f"loaders {sorted(loaders)} and rates {sorted(rates)} differ")
        self.names = sorted(loaders)
        self.loaders, self.seed = loaders, seed
        self.probabilities = np.array([rates[n] for n in self.names])

    def _block(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index])
        return rng.choice(len(self.names), size=BLOCK, p=self.probabilities)

    def task_at(self, step: int) -> tuple[str, int]:
        """The step's task, and how many earlier steps drew that task."""
        block, offset = divmod(step, BLOCK)
        draws = self._block(block)
        task = int(draws[offset])
        earlier = sum(int((self._block(b) == task).sum()) for b in range(block))
        return self.names[task], earlier + int((draws[:offset] == task).sum())

    def batch(self, step: int):
        name, position = self.task_at(step)
        return name, self.loaders[name].batch(position)
