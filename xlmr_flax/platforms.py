"""Which JAX platform a run uses, chosen from the chips this machine has before JAX
probes its plugins.

Left to itself JAX starts every installed plugin: with the `[compile]` extra (libtpu
and the CUDA plugin, for compiling on a CPU machine) a CPU run prints a Python
traceback from the CUDA plugin ("Unable to load CUDA") and libtpu's INVALID_ARGUMENT
lines about TPU worker hostnames, none of which matter to it. Choosing the platform
first leaves only what does: where chips are attached and JAX's runtime for them is
installed, the accelerator is required (a broken runtime fails the run instead of
training on the CPU); elsewhere the CPU (a GPU workstation with CPU-only JAX too).
"""

from __future__ import annotations

import glob
import importlib.util
import os
from collections.abc import Callable, Mapping

# Device files as the runtimes look for them: TPU chips (v4+ /dev/accel*, v5e+ VFIO
# groups) and NVIDIA GPUs.
TPU_DEVICES = ("/dev/accel*", "/dev/vfio/[0-9]*")
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia[0-9]*")
# JAX's runtime for each: libtpu (jax[tpu]); the CUDA plugin (jax[cuda12] or jax[cuda13]).
RUNTIMES = {"tpu": ("libtpu",), "cuda": ("jax_cuda12_plugin", "jax_cuda13_plugin")}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def attached_accelerators(
    exists: Callable[[str], list[str]] = glob.glob, installed: Callable[[str], bool] = _installed
) -> tuple[str, ...]:
    """The accelerator kinds ("tpu", "cuda") whose device files this machine has and
    whose JAX runtime is installed."""
    kinds = []
    for kind, patterns in (("tpu", TPU_DEVICES), ("cuda", GPU_DEVICES)):
        if any(exists(p) for p in patterns) and any(installed(m) for m in RUNTIMES[kind]):
            kinds.append(kind)
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
