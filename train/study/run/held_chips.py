"""The chips a study holds, for its goodput (goodput.py): in process, the devices of
the run's mesh for its wall time; under Ray, the cluster's `TPU` resource, sampled
from the driver while the study is connected (`ray.cluster_resources()` for the
chips of every node that has joined, `ray.available_resources()` for those that
run no task: idle). A node still being created is not in Ray's totals, so its
provisioning time is not counted; a joined node is, from its first sample.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from absl import logging

from train.study.run.goodput import HeldTime

SAMPLE_EVERY_S = 2.0
CHIP_RESOURCE = "TPU"


class ChipSamples:
    """Chip-seconds held and idle, integrated from samples of (chips, chips free):
    each sample holds until the next one."""

    def __init__(self) -> None:
        self.chips = 0
        self.chip_s = 0.0
        self.idle_chip_s = 0.0
        self.first: float | None = None
        self._last: tuple[float, float, float] | None = None

    def add(self, now: float, chips: float, free: float) -> None:
        free = min(max(free, 0.0), chips)
        if self._last is not None:
            then, held, idle = self._last
            span = max(0.0, now - then)
            self.chip_s += held * span
            self.idle_chip_s += idle * span
        else:
            self.first = now
        self._last = (now, chips, free)
        self.chips = max(self.chips, int(chips))

    def held(self) -> HeldTime:
        window = self._last[0] - self.first if self._last and self.first is not None else 0.0
        return HeldTime(self.chips, self.chip_s, self.idle_chip_s, window)


class ClusterChips:
    """Samples a Ray cluster's chips every `every_s` seconds in a thread of the
    driver, from `start` to `stop`."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S, clock: Callable[[], float] = time.time):
        self.every_s, self.clock = every_s, clock
        self.samples = ChipSamples()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ray = None

    def sample(self) -> None:
        try:
            chips = self._ray.cluster_resources().get(CHIP_RESOURCE, 0.0)
            free = self._ray.available_resources().get(CHIP_RESOURCE, 0.0)
        except Exception as err:  # a cluster going away: the next sample, or none
            logging.warning("chips held: no sample (%s: %s)", type(err).__name__, err)
            return
        self.samples.add(self.clock(), float(chips), float(free))

    def start(self, ray) -> None:
        self._ray = ray
        self.sample()

        def run() -> None:
            while not self._stop.wait(self.every_s):
                self.sample()

        self._thread = threading.Thread(target=run, name="held-chips", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The last sample (the cluster must still be connected)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.sample()

    def held(self) -> HeldTime:
        return self.samples.held()


def task_chips() -> int:
    """The chips Ray gave the running task."""
    import ray

    return int(ray.get_runtime_context().get_assigned_resources().get(CHIP_RESOURCE, 0))
