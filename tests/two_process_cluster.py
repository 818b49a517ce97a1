"""A two-process JAX cluster on this machine: 4 emulated CPU devices per process,
gloo collectives. `launch` starts the workers from a test; each worker script calls
`join` before anything else imports jax."""

import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launch(script: str, *args: str, timeout_s: int) -> None:
    """Runs `python SCRIPT PROCESS_ID PORT *ARGS` as processes 0 and 1; both must succeed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    workers = [
        subprocess.Popen([sys.executable, script, str(i), port, *args], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for i in range(2)
    ]  # fmt: skip
    try:
        logs = [w.communicate(timeout=timeout_s)[0] for w in workers]
    finally:
        for w in workers:  # jax.distributed traps SIGTERM: a hung worker needs SIGKILL
            w.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-3000:] for log in logs)


def join(process_id: int, port: str, collective_timeout_s: int) -> None:
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=4 "
        f"--xla_cpu_collective_call_terminate_timeout_seconds={collective_timeout_s}"
    )
    os.environ.update(
        JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
        JAX_NUM_PROCESSES="2",
        JAX_PROCESS_ID=str(process_id),
    )
    import jax

    from xlmr_flax.sharding import initialize_distributed

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    initialize_distributed()
    assert jax.process_count() == 2 and len(jax.devices()) == 8
