"""Accelerator targets by the names Cloud TPU gives them (v4-32, v5litepod-16, v5p-32,
v6e-16) or a GPU host (h100x8), and the local CPU (cpu-8): chips, hosts, JAX devices,
memory and peak FLOP/s per device, list price per chip-hour, and how to get
compile-only devices of the target on a machine without it.

Facts are the vendors' data sheets; prices are the dated table in docs/tpu.md
(`PRICES_AS_OF`), which a test keeps equal to `LIST_PRICE`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

GIB = 2**30

# Per chip: generation name in libtpu topologies, HBM, dense bf16 peak FLOP/s, HBM
# bandwidth in bytes/s, devices per chip (v4 and v5p: two TensorCores as one
# "megacore" device), chips per host of a multi-host slice, the largest single-host
# slice, TensorCores in the type's number. Peak and bandwidth: the "key specifications"
# table of each generation's page, https://cloud.google.com/tpu/docs/{v4,v5e,v5p,v6e}
# (v4: 275 TFLOP/s, 1,200 GB/s; v5e: 197, 819; v5p: 459, 2,765; v6e: 918, 1,640).
TPU_CHIPS: dict[str, dict[str, Any]] = {
    "v4": dict(topology="v4", config="megacore", hbm=32 * GIB, peak=275e12, bandwidth=1200e9,
               dims=3, host_chips=4, single_host=4, cores_per_chip=2),
    "v5p": dict(topology="v5", config="megacore", hbm=95 * GIB, peak=459e12, bandwidth=2765e9,
                dims=3, host_chips=4, single_host=4, cores_per_chip=2),
    "v5litepod": dict(topology="v5e", config="default", hbm=16 * GIB, peak=197e12,
                      bandwidth=819e9, dims=2, host_chips=4, single_host=8, cores_per_chip=1),
    "v6e": dict(topology="v6e", config="default", hbm=32 * GIB, peak=918e12, bandwidth=1640e9,
                dims=2, host_chips=4, single_host=8, cores_per_chip=1),
}  # fmt: skip
# GPU hosts: XLA GPU target config name (the CUDA plugin compiles for it), memory, dense
# bf16 peak (without sparsity) and HBM bandwidth: NVIDIA's data sheets, H100 SXM5
# (989 TFLOP/s, 3.35 TB/s) and A100 80GB SXM (312 TFLOP/s, 2,039 GB/s).
GPU_CHIPS: dict[str, dict[str, Any]] = {
    "h100": dict(target_config="h100_sxm", hbm=80 * 10**9, peak=989e12, bandwidth=3.35e12),
    "a100": dict(target_config="a100_80", hbm=80 * 10**9, peak=312e12, bandwidth=2.039e12),
}

# On-demand list price in USD per chip-hour (docs/tpu.md, "Prices").
PRICES_AS_OF = "2026-11-28"
LIST_PRICE: dict[str, float] = {"v4": 3.22, "v5litepod": 1.20, "v5p": 4.20, "v6e": 2.70}


@dataclasses.dataclass(frozen=True)
class Target:
    name: str  # as given: v4-32, v5litepod-16, h100x8, cpu-8
    platform: str  # "tpu", "cuda" or "cpu"
    generation: str  # v4, v5p, v5litepod, v6e, h100, cpu
    chips: int
    hosts: int
    devices: int  # JAX devices (one per chip here)
    device_memory: int | None  # bytes per device (None: unknown, CPU)
    peak_flops: float | None  # dense bf16 FLOP/s per chip
    price_per_chip_hour: float | None
    shape: tuple[int, ...] = ()  # TPU chip grid
    bandwidth: float | None = None  # HBM bytes/s per chip

    @property
    def chips_per_host(self) -> int:
        return self.chips // self.hosts

    def describe(self) -> str:
        memory = f"{self.device_memory / GIB:.2f} GiB" if self.device_memory else "unknown"
        return (
            f"{self.name}: {self.chips} chips on {self.hosts} host(s), {self.devices} devices "
            f"of {memory}"
        )


def _grid(chips: int, dims: int) -> tuple[int, ...]:
    """Cloud TPU slice shapes: 2x2x1, 2x2x2, 2x2x4, 2x4x4, 4x4x4, ... (3-D) and 1x1, 2x2,
    2x4, 4x4, 4x8, ... (2-D): the smallest side doubles, the last first on a tie."""
    shape = [2, 2, 1] if dims == 3 else [1, 1]
    while True:
        size = 1
        for s in shape:
            size *= s
        if size >= chips:
            break
        smallest = min(shape)
        index = max(i for i, s in enumerate(shape) if s == smallest)
        shape[index] *= 2
    if size != chips:
        raise ValueError(f"{chips} chips is not a Cloud TPU slice size")
    return tuple(shape)


def parse_target(name: str) -> Target:
    """`v4-32`, `v5litepod-16` (or `v5e-16`), `v5p-32`, `v6e-16`, `h100x8`, `cpu-8`."""
    text = name.strip().lower()
    match = re.fullmatch(r"(v4|v5p|v5litepod|v5e|v6e)-(\d+)", text)
    if match:
        generation = "v5litepod" if match[1] == "v5e" else match[1]
        chip = TPU_CHIPS[generation]
        number = int(match[2])
        if number % chip["cores_per_chip"]:
            raise ValueError(f"topology {name!r}: {generation} counts TensorCores, 2 per chip")
        chips = number // chip["cores_per_chip"]
        hosts = 1 if chips <= chip["single_host"] else chips // chip["host_chips"]
        return Target(
            name=f"{generation}-{number}", platform="tpu", generation=generation, chips=chips,
            hosts=hosts, devices=chips, device_memory=chip["hbm"], peak_flops=chip["peak"],
            price_per_chip_hour=LIST_PRICE.get(generation), shape=_grid(chips, chip["dims"]),
            bandwidth=chip["bandwidth"],
        )  # fmt: skip
    match = re.fullmatch(r"([a-z]\d+)x(\d+)", text)
    if match and match[1] in GPU_CHIPS:
        gpu, count = GPU_CHIPS[match[1]], int(match[2])
        return Target(
            name=text, platform="cuda", generation=match[1], chips=count, hosts=1,
            devices=count, device_memory=gpu["hbm"], peak_flops=gpu["peak"],
            price_per_chip_hour=None, bandwidth=gpu["bandwidth"],
        )  # fmt: skip
    match = re.fullmatch(r"cpu-(\d+)", text)
    if match:
        count = int(match[1])
        return Target(text, "cpu", "cpu", count, 1, count, None, None, None)
    known = "v4-N, v5litepod-N (v5e-N), v5p-N, v6e-N, " + ", ".join(f"{g}xN" for g in GPU_CHIPS)
    raise ValueError(f"topology {name!r}: expected one of {known}, cpu-N (e.g. v4-32, h100x8)")


def compile_devices(target: Target) -> list:
    """Devices to compile for: compile-only TPU/GPU devices of the target (needs libtpu
    or the CUDA plugin: `pip install -e ".[compile]"`), or this machine's CPU devices."""
    import jax

    if target.platform == "cpu":
        devices = jax.devices("cpu")
        if len(devices) < target.devices:
            raise ValueError(
                f"topology {target.name}: this machine has {len(devices)} CPU devices "
                f"(set config.cpu_devices or --xla_force_host_platform_device_count)"
            )
        return devices[: target.devices]
    from jax.experimental import topologies

    try:
        if target.platform == "tpu":
            chip = TPU_CHIPS[target.generation]
            shape = target.shape if chip["dims"] == 3 else (*target.shape, 1)
            host = (2, 2, 1) if target.hosts > 1 else shape
            topology = topologies.get_topology_desc(
                platform="tpu",
                topology_name=f"{chip['topology']}:{'x'.join(map(str, target.shape))}",
                chip_config_name=chip["config"],
                chips_per_host_bounds=host,
                num_slices=1,
                wrap=(False, False, False),
            )
        else:
            topology = topologies.get_topology_desc(
                platform="cuda",
                topology_name="",
                target_config=GPU_CHIPS[target.generation]["target_config"],
                topology=f"1x1x{target.devices}",
            )
    except Exception as err:  # the plugin is missing or does not know the topology
        raise CompilerMissing(
            f"topology {target.name}: no {target.platform} compiler ({err}); install the "
            f'compile extra: pip install -e ".[compile]"'
        ) from err
    return list(topology.devices)


class CompilerMissing(RuntimeError):
    """The compiler plugin for the target platform is not installed."""
