"""One of two local processes (4 CPU devices each, gloo collectives) training together.

python tests/multihost_worker.py PROCESS_ID PORT OUT_JSON
"""

import json
import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = (
    "--xla_force_host_platform_device_count=4 "
    "--xla_cpu_collective_call_terminate_timeout_seconds=20"
)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax

jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, out, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ.update(
    JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
    JAX_NUM_PROCESSES="2",
    JAX_PROCESS_ID=str(process_id),
)

from xlmr_flax.sharding import initialize_distributed  # noqa: E402

initialize_distributed()
assert jax.process_count() == 2 and len(jax.devices()) == 8

from tests.train_fixtures import GLOBAL_BATCH, train_tiny  # noqa: E402

half = GLOBAL_BATCH // 2
rows = slice(process_id * half, (process_id + 1) * half)
losses, params = train_tiny((8, 1, 1), rows=rows, workdir=workdir)
kernel = params["encoder"]["layers"][1]["output"]["kernel"]
with open(out, "w") as f:
    json.dump({"losses": losses, "kernel_sum": float(kernel.sum())}, f)
