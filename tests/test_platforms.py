"""A run chooses its JAX platform from the chips the machine has, before JAX probes
plugins it will not use (the [compile] extra's CUDA plugin and libtpu on a CPU)."""

import os
import subprocess
import sys

import jax
import pytest

from xlmr_flax import platforms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def files(*present):
    return lambda pattern: [pattern] if pattern in present else []


def everything(module):
    return True


def test_the_attached_chips_are_read_from_their_device_files():
    assert platforms.attached_accelerators(files(), everything) == ()
    assert platforms.attached_accelerators(files("/dev/accel*"), everything) == ("tpu",)
    v5e = files("/dev/vfio/[0-9]*")
    assert platforms.attached_accelerators(v5e, everything) == ("tpu",)
    assert platforms.attached_accelerators(files("/dev/nvidiactl"), everything) == ("cuda",)


def test_chips_without_their_jax_runtime_leave_the_run_on_the_cpu():
    """A GPU workstation with CPU-only JAX (README command 1) must not fail."""
    gpu = files("/dev/nvidiactl")
    assert platforms.attached_accelerators(gpu, lambda module: False) == ()
    only_libtpu = {"libtpu"}.__contains__
    assert platforms.attached_accelerators(gpu, only_libtpu) == ()
    assert platforms.attached_accelerators(files("/dev/accel*"), only_libtpu) == ("tpu",)
    assert platforms.attached_accelerators(gpu, {"jax_cuda13_plugin"}.__contains__) == ("cuda",)


def test_a_cpu_machine_uses_the_cpu_and_an_accelerator_is_required_where_attached():
    assert platforms.platforms_for({}, ()) == "cpu"
    assert platforms.platforms_for({}, ("tpu",)) == "tpu,cpu"
    assert platforms.platforms_for({}, ("cuda",)) == "cuda,cpu"
    # The user's own choice stands.
    assert platforms.platforms_for({"JAX_PLATFORMS": "cuda"}, ()) is None
    assert platforms.platforms_for({"JAX_PLATFORMS": ""}, ()) == "cpu"


def test_the_choice_is_set_in_jax_before_any_computation(monkeypatch):
    updates = []
    monkeypatch.setattr(jax.config, "update", lambda name, value: updates.append((name, value)))
    assert platforms.select_platforms({}, attached=()) == "cpu"
    assert platforms.select_platforms({"JAX_PLATFORMS": "cpu"}, attached=("tpu",)) is None
    assert updates == [("jax_platforms", "cpu")]


@pytest.mark.slow
def test_partial_multi_process_settings_stop_the_main_command_with_one_line(tmp_path):
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS="10.0.0.2:1234")
    for name in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "train", "--config", "configs/smoke.py:quick",
         "--workdir", str(tmp_path / "w")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "error: JAX_COORDINATOR_ADDRESS set but JAX_NUM_PROCESSES, JAX_PROCESS_ID not: "
        "multi-process JAX needs all of JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID, or none (the cluster is then detected)"
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "w" / "stages").exists()  # nothing was trained
