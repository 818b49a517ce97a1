"""Which JAX platform a run uses, chosen from the chips this machine has before JAX
probes its plugins.

Left to itself JAX starts every installed plugin: with the `[compile]` extra (libtpu
and the CUDA plugin, for compiling on a CPU machine) a CPU run prints a Python
traceback from the CUDA plugin ("Unable to load CUDA") and libtpu's INVALID_ARGUMENT
lines about TPU worker hostnames, none of which matter to it. Choosing the platform
first leaves only what does: on a TPU VM or a GPU machine the accelerator is required
(a broken runtime fails the run instead of training on the CPU), elsewhere the CPU.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping

# Device files as the runtimes look for them: TPU chips (v4+ /dev/accel*, v5e+ VFIO
# groups) and NVIDIA GPUs.
TPU_DEVICES = ("/dev/accel*", "/dev/vfio/[0-9]*")
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia[0-9]*")


def attached_accelerators(exists: Callable[[str], list[str]] = glob.glob) -> tuple[str, ...]:
    """The accelerator kinds whose device files this machine has: "tpu", "cuda"."""
    kinds = []
    if any(exists(pattern) for pattern in TPU_DEVICES):
        kinds.append("tpu")
    if any(exists(pattern) for pattern in GPU_DEVICES):
        kinds.append("cuda")
    return tuple(kinds)


def platforms_for(environ: Mapping[str, str], attached: tuple[str, ...]) -> str | None:
    """The value for `jax_platforms`, or None where the user chose (JAX_PLATFORMS)."""
    if environ.get("JAX_PLATFORMS"):
        return None
    if "tpu" in attached:
        return "tpu,cpu"
    if "cuda" in attached:
        return "cuda,cpu"
    return "cpu"


def select_platforms(
    environ: Mapping[str, str] | None = None, attached: tuple[str, ...] | None = None
) -> str | None:
    """Sets `jax_platforms` for this process (before its first JAX computation); the
    value set, or None where JAX_PLATFORMS already says."""
    import jax

    environ = os.environ if environ is None else environ
    chosen = platforms_for(environ, attached_accelerators() if attached is None else attached)
    if chosen is not None:
        jax.config.update("jax_platforms", chosen)
    return chosen
