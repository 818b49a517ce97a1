"""Device mesh, logical-axis rules and shardings for parameters, optimizer state and batches.

Parameters carry logical axis names (`xlmr_flax.layers`); one rules table maps
them to the mesh axes `data`, `fsdp` and `tensor` (the t5x / MaxText pattern),
so changing the parallelism means changing the mesh, not the model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")

# Logical axis → mesh axis (or axes, or None = replicated).
DEFAULT_RULES: dict[str, str | tuple[str, ...] | None] = {
    "batch": ("data", "fsdp"),  # examples are split over every data-parallel device
    "vocab": "tensor",
    "embed": "fsdp",  # FSDP/ZeRO-3: parameters sharded along the model width
    "mlp": "tensor",
    "heads": "tensor",
    "kv": None,
    "length": None,
}


def mesh_shape(sizes: Sequence[int], num_devices: int) -> tuple[int, ...]:
    """Resolves one `-1` entry to the remaining devices and checks the product."""
    sizes = list(sizes)
    if len(sizes) != len(MESH_AXES):
        raise ValueError(f"mesh sizes {sizes}: expected one size per axis {MESH_AXES}")
    if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ValueError(f"mesh sizes {sizes}: positive sizes and at most one -1 expected")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if num_devices % known:
            raise ValueError(f"mesh sizes {sizes} do not divide {num_devices} devices")
        sizes[sizes.index(-1)] = num_devices // known
    if math.prod(sizes) != num_devices:
        raise ValueError(f"mesh sizes {sizes} use {math.prod(sizes)} of {num_devices} devices")
    return tuple(sizes)


def make_mesh(
    sizes: Sequence[int] = (-1, 1, 1), devices: Sequence[jax.Device] | None = None
) -> Mesh:
    """A (data, fsdp, tensor) mesh over all devices of all processes, or `devices`."""
    devices = list(jax.devices() if devices is None else devices)
    shape = mesh_shape(sizes, len(devices))
    auto = (jax.sharding.AxisType.Auto,) * len(MESH_AXES)
    return jax.make_mesh(shape, MESH_AXES, axis_types=auto, devices=devices)


def logical_to_mesh(
    logical: Sequence[str | None],
    shape: Sequence[int],
    mesh: Mesh,
    rules: Mapping[str, Any] = DEFAULT_RULES,
) -> PartitionSpec:
    """The mesh PartitionSpec for one array; a dimension the mesh axes do not divide,
    or whose mesh axes an earlier dimension already uses, is replicated."""
    used: set[str] = set()
    spec = []
    for name, size in zip(logical, shape, strict=True):
        target = rules.get(name) if name is not None else None
        axes = (target,) if isinstance(target, str) else tuple(target or ())
        axes = tuple(a for a in axes if mesh.shape[a] > 1 and a not in used)
        if not axes or size % math.prod(mesh.shape[a] for a in axes):
            spec.append(None)
            continue
        used.update(axes)
        spec.append(axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*spec)


def param_shardings(
    abstract_model_state: nnx.State, mesh: Mesh, rules: Mapping[str, Any] = DEFAULT_RULES
) -> dict[str, Any]:
    """NamedShardings (as a pure dict like the parameters) from the params' logical axes."""
    logical = nnx.to_pure_dict(nnx.get_partition_spec(abstract_model_state))
    shapes = nnx.to_pure_dict(abstract_model_state)
    return jax.tree.map(
        lambda spec, arr: NamedSharding(mesh, logical_to_mesh(tuple(spec), arr.shape, mesh, rules)),
        logical,
        shapes,
        is_leaf=lambda x: isinstance(x, PartitionSpec),
    )


def batch_sharding(mesh: Mesh, ndim: int = 1, rules: Mapping[str, Any] = DEFAULT_RULES):
    """Examples split along the first dimension over the data-parallel mesh axes."""
    axes = tuple(a for a in rules["batch"] if mesh.shape[a] > 1) or None
    return NamedSharding(mesh, PartitionSpec(axes, *([None] * (ndim - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def global_batch(local_batch: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Assembles each process's slice of the batch into global arrays (multi-host safe)."""
    return {
        k: jax.make_array_from_process_local_data(batch_sharding(mesh, np.ndim(v)), np.asarray(v))
        for k, v in local_batch.items()
    }


# An explicit host count for a TPU process: 1 tells a process on one host of a pod
# slice that it runs alone (a Ray task given one host's chips); JAX itself finds the
# workers from the TPU environment variables (GKE) or the metadata server (TPU VM).
WORKERS_VARIABLE = "XLMR_TPU_WORKERS"
EXPLICIT = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
# JAX's own cluster detection (jax._src.clusters) reads these: a SLURM job step, an
# Open MPI launch, a GKE TPU pod (host list in the environment).
SLURM = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")
OMPI = ("OMPI_MCA_orte_hnp_uri", "OMPI_COMM_WORLD_SIZE")
GKE_TPU = ("TPU_PROCESS_ADDRESSES", "TPU_WORKER_HOSTNAMES")
_METADATA_URL = "http://{host}/computeMetadata/v1/instance/attributes/{key}"


def gce_metadata(key: str, timeout: float = 5.0) -> str | None:
    """An attribute of this Cloud VM's metadata server (None where there is none)."""
    import urllib.request

    host = os.environ.get("GCE_METADATA_IP", "metadata.google.internal")
    request = urllib.request.Request(
        _METADATA_URL.format(host=host, key=key), headers={"Metadata-Flavor": "Google"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()
    except OSError:
        return None


def on_tpu_vm() -> bool:
    """TPU chips are attached to this machine (as JAX checks: /dev/accel*, /dev/vfio)."""
    import glob

    from xlmr_flax.platforms import TPU_DEVICES

    return any(glob.glob(pattern) for pattern in TPU_DEVICES)


def _count(environ: Mapping[str, str], name: str) -> int:
    """A positive integer setting, or a one-line error naming it."""
    text = environ[name]
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r}: expected a positive whole number")
    return value


def tpu_worker_count(
    environ: Mapping[str, str] | None = None,
    metadata: Callable[[str], str | None] | None = None,
    tpu_vm: bool | None = None,
) -> int:
    """How many hosts (workers) the TPU slice of this process has; 1 off TPU.

    In order: XLMR_TPU_WORKERS; TPU_HOST_BOUNDS (the TPU runtime's own host grid:
    `1,1,1` is a lone host); GKE's TPU_PROCESS_ADDRESSES or TPU_WORKER_HOSTNAMES
    (comma-separated hosts); on a TPU VM, the metadata server's
    `worker-network-endpoints` (one entry per worker).
    """
    environ = os.environ if environ is None else environ
    if environ.get(WORKERS_VARIABLE):
        return _count(environ, WORKERS_VARIABLE)
    if environ.get("TPU_HOST_BOUNDS"):
        try:
            return math.prod(int(n) for n in environ["TPU_HOST_BOUNDS"].split(","))
        except ValueError:
            raise ValueError(
                f"TPU_HOST_BOUNDS={environ['TPU_HOST_BOUNDS']!r}: expected hosts per axis, "
                "e.g. 1,1,1"
            ) from None
    for name in GKE_TPU:
        if environ.get(name):
            return len([h for h in environ[name].split(",") if h.strip()])
    if environ.get("TPU_SKIP_MDS_QUERY") is not None:
        return 1
    if not (on_tpu_vm() if tpu_vm is None else tpu_vm):
        return 1
    endpoints = (metadata or gce_metadata)("worker-network-endpoints")
    return len([e for e in (endpoints or "").split(",") if e.strip()]) or 1


def cluster_kind(
    environ: Mapping[str, str] | None = None,
    worker_count: Callable[[Mapping[str, str]], int] | None = None,
) -> str | None:
    """How this process joins others: "explicit" (the JAX_* settings), "slurm",
    "ompi", "tpu" (a multi-host TPU slice: GKE or TPU VM), or None (it runs alone).

    Partial explicit settings are an error, not a silent single process: every
    process would otherwise believe it is process 0 of 1.
    """
    environ = os.environ if environ is None else environ
    given = [name for name in EXPLICIT if environ.get(name)]
    if given:
        missing = [name for name in EXPLICIT if name not in given]
        if missing:
            raise ValueError(
                f"{', '.join(given)} set but {', '.join(missing)} not: multi-process JAX "
                f"needs all of {', '.join(EXPLICIT)}, or none (the cluster is then detected)"
            )
        count = _count(environ, "JAX_NUM_PROCESSES")
        index = environ["JAX_PROCESS_ID"]
        if not index.isdigit() or int(index) >= count:
            raise ValueError(
                f"JAX_PROCESS_ID={index!r}: expected 0 to {count - 1} (JAX_NUM_PROCESSES={count})"
            )
        return "explicit"
    if all(environ.get(name) for name in SLURM):
        return "slurm" if _count(environ, "SLURM_NTASKS") > 1 else None
    if all(environ.get(name) for name in OMPI):
        return "ompi" if _count(environ, "OMPI_COMM_WORLD_SIZE") > 1 else None
    return "tpu" if (worker_count or tpu_worker_count)(environ) > 1 else None


def initialize_distributed(
    environ: Mapping[str, str] | None = None,
    worker_count: Callable[[Mapping[str, str]], int] | None = None,
) -> str | None:
    """Starts multi-process JAX when this process is one of several; how it joined
    (`cluster_kind`), or None when it runs alone or JAX is already started.

    Explicit settings start it anywhere (the CPU tests, hand-made clusters); SLURM
    job steps, Open MPI and multi-host TPU slices (GKE and TPU VMs) start through
    JAX's own cluster detection (`jax.distributed.initialize()` without arguments).
    Orbax needs it on every multi-host slice, even for one process per host.
    Raises ValueError (one line) on partial or malformed settings.
    """
    environ = os.environ if environ is None else environ
    if jax.distributed.is_initialized():
        return None
    kind = cluster_kind(environ, worker_count)
    if kind == "explicit":
        jax.distributed.initialize(
            coordinator_address=environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(environ["JAX_NUM_PROCESSES"]),
            process_id=int(environ["JAX_PROCESS_ID"]),
        )
    elif kind is not None:
        jax.distributed.initialize()
    return kind


def to_mesh(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from the same host array on every process: each process
    fills only the shards its devices hold (any mesh layout, any process count)."""
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def to_host(tree: Any) -> Any:
    """NumPy copies of (possibly multi-process) global arrays, whole on every process."""
    if jax.process_count() == 1:
        return jax.tree.map(np.asarray, tree)
    from jax.experimental.multihost_utils import process_allgather

    return process_allgather(tree, tiled=True)


def is_primary() -> bool:
    """Process 0 writes what all processes share (metadata, markers, results)."""
    return jax.process_index() == 0


def sync_processes(name: str) -> None:
    """Waits until every process reaches the point called `name` (one process: no-op)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def is_cpu() -> bool:
    """Emulated CPU devices deadlock when sharded steps queue up: callers wait per step."""
    return jax.default_backend() == "cpu"
