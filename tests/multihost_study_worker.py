"""One of two local processes (4 CPU devices each) running a tiny study together.

python tests/multihost_study_worker.py PROCESS_ID PORT WORKDIR
"""

import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = (
    "--xla_force_host_platform_device_count=4 "
    "--xla_cpu_collective_call_terminate_timeout_seconds=60"
)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax

jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.environ.update(
    JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
    JAX_NUM_PROCESSES="2",
    JAX_PROCESS_ID=str(process_id),
)

from xlmr_flax.sharding import initialize_distributed  # noqa: E402

initialize_distributed()
assert jax.process_count() == 2 and len(jax.devices()) == 8

from tests.study_config import two_stage_config  # noqa: E402
from train.study import run_study  # noqa: E402

print(run_study(two_stage_config(), workdir))
