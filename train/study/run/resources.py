"""What one stage asks Ray for, per execution layout (a pure function of the layout
and the topology; docs/pipeline.md, "Executors").

- `chip`: one task on one chip (`{"TPU": 1}`): Ray makes that chip alone visible to
  it, so a host runs as many stages side by side as it has chips.
- `host`: one task on every chip of one host (`{"TPU": chips_per_host}`).
- `slice`: one task per host of a whole pod slice, gang-scheduled: a placement group
  of one bundle per host, STRICT_SPREAD (each bundle on its own host), the first
  bundle also holding the slice's head resource (`TPU-<type>-head`, which only host
  0 of a slice carries), so all bundles land on the hosts of one slice; the tasks
  then start `jax.distributed` across them (one JAX process per host).
"""

from __future__ import annotations

import dataclasses

from train.study.plan.targets import Target

LAYOUTS = ("chip", "host", "slice")


@dataclasses.dataclass(frozen=True)
class StageShape:
    """The Ray resources of one stage: `tasks` tasks, each asking `resources`; with
    `bundles`, a placement group gang-schedules them (`strategy`)."""

    layout: str
    tasks: int
    resources: dict[str, float]
    bundles: tuple[dict[str, float], ...] = ()
    strategy: str | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def chips(self) -> int:
        return int(self.tasks * self.resources.get("TPU", 0))


def head_resource(target: Target) -> str:
    """The resource Ray puts on host 0 of a TPU slice: `TPU-v4-32-head` (the slice's
    accelerator type, as the topology names it: v4 and v5p count TensorCores)."""
    return f"TPU-{target.name}-head"


def stage_shape(layout: str, target: Target | None) -> StageShape:
    """The resources a stage asks for under `layout` on `target` (None: a local
    instance of emulated chips, where only `chip` applies)."""
    if layout not in LAYOUTS:
        raise ValueError(f"--layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    if layout == "chip":
        # A process alone on one chip of a host: no waiting for the slice's others.
        env = {"TPU_HOST_BOUNDS": "1,1,1"} if target is not None and target.hosts > 1 else {}
        return StageShape("chip", 1, {"TPU": 1.0}, env=env)
    if target is None:
        raise ValueError(f"--layout {layout}: needs --topology (e.g. v4-32) to know a host's chips")
    per_host = float(target.chips_per_host)
    if layout == "host":
        env = {"TPU_HOST_BOUNDS": "1,1,1"} if target.hosts > 1 else {}
        return StageShape("host", 1, {"TPU": per_host}, env=env)
    bundles = tuple(
        {"TPU": per_host, **({head_resource(target): 1.0} if host == 0 else {})}
        for host in range(target.hosts)
    )
    return StageShape("slice", target.hosts, {"TPU": per_host}, bundles, "STRICT_SPREAD")
