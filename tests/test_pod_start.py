"""Multi-process JAX starts wherever the environment names several processes: explicit
JAX_* settings, a SLURM job step, Open MPI, a multi-host TPU slice (GKE or TPU VM), each
through JAX's own cluster detection; partial settings are a one-line error."""

import jax
import pytest
from jax._src import clusters

from xlmr_flax import sharding


@pytest.fixture
def started(monkeypatch):
    """The arguments of every `jax.distributed.initialize` call (none is made for real)."""
    calls = []
    monkeypatch.setattr(jax.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    return calls


def no_metadata(key):
    raise AssertionError(f"the metadata server was asked for {key} off a TPU VM")


def alone(environ):
    return 1


SLURM_STEP = {
    "SLURM_JOB_ID": "4242",
    "SLURM_STEP_NODELIST": "gpu[007-008]",
    "SLURM_NTASKS": "2",
    "SLURM_PROCID": "1",
    "SLURM_LOCALID": "0",
}


def test_a_tpu_vm_pod_slice_counts_its_workers_from_the_metadata_server():
    endpoints = "w-0:0:10.0.0.2,w-1:1:10.0.0.3,w-2:2:10.0.0.4,w-3:3:10.0.0.5"
    asked = []

    def metadata(key):
        asked.append(key)
        return endpoints

    assert sharding.tpu_worker_count({}, metadata, tpu_vm=True) == 4
    assert asked == ["worker-network-endpoints"]


def test_a_single_host_tpu_vm_and_a_machine_without_tpu_are_one_worker():
    assert sharding.tpu_worker_count({}, lambda key: "10.0.0.2", tpu_vm=True) == 1
    assert sharding.tpu_worker_count({}, lambda key: None, tpu_vm=True) == 1
    assert sharding.tpu_worker_count({}, no_metadata, tpu_vm=False) == 1
    assert sharding.tpu_worker_count({"TPU_SKIP_MDS_QUERY": "1"}, no_metadata, tpu_vm=True) == 1


def test_gke_lists_the_workers_in_the_environment():
    gke = {"TPU_WORKER_HOSTNAMES": "job-0.svc,job-1.svc", "TPU_WORKER_ID": "1"}
    assert sharding.tpu_worker_count(gke, no_metadata, tpu_vm=True) == 2
    assert sharding.tpu_worker_count({"TPU_PROCESS_ADDRESSES": "a:1,b:1,c:1,d:1"}, no_metadata) == 4


def test_a_host_told_it_is_alone_does_not_wait_for_the_rest_of_its_pod():
    """A Ray task on one host of a v4-32 gets TPU_HOST_BOUNDS=1,1,1 (or XLMR_TPU_WORKERS=1):
    the metadata server's four workers must not make it start jax.distributed."""
    four = "10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5"
    assert sharding.tpu_worker_count({"TPU_HOST_BOUNDS": "1,1,1"}, lambda k: four, True) == 1
    assert sharding.tpu_worker_count({"TPU_HOST_BOUNDS": "2,2,1"}, no_metadata, True) == 4
    env = {"XLMR_TPU_WORKERS": "1", "TPU_WORKER_HOSTNAMES": "a,b,c,d"}
    assert sharding.tpu_worker_count(env, no_metadata, tpu_vm=True) == 1
    with pytest.raises(ValueError, match="XLMR_TPU_WORKERS='four': expected a positive"):
        sharding.tpu_worker_count({"XLMR_TPU_WORKERS": "four"}, no_metadata)
    with pytest.raises(ValueError, match="TPU_HOST_BOUNDS='1x1': expected hosts per axis"):
        sharding.tpu_worker_count({"TPU_HOST_BOUNDS": "1x1"}, no_metadata)


def test_every_worker_of_a_pod_slice_initializes_with_jax_discovery(started):
    assert sharding.initialize_distributed({}, worker_count=lambda env: 4) == "tpu"
    assert started == [{}]  # no arguments: JAX reads the slice itself


def test_a_single_worker_does_not_initialize(started):
    assert sharding.initialize_distributed({}, worker_count=alone) is None
    assert started == []


def test_explicit_coordinator_settings_start_any_cluster(started):
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234", "JAX_NUM_PROCESSES": "2",
           "JAX_PROCESS_ID": "1"}  # fmt: skip
    assert sharding.initialize_distributed(env, worker_count=no_metadata) == "explicit"
    assert started == [{"coordinator_address": "10.0.0.2:1234", "num_processes": 2,
                        "process_id": 1}]  # fmt: skip


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234"},
            "JAX_COORDINATOR_ADDRESS set but JAX_NUM_PROCESSES, JAX_PROCESS_ID not",
        ),
        (
            {"JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"},
            "JAX_NUM_PROCESSES, JAX_PROCESS_ID set but JAX_COORDINATOR_ADDRESS not",
        ),
        (
            {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "two", "JAX_PROCESS_ID": "0"},
            "JAX_NUM_PROCESSES='two': expected a positive whole number",
        ),
        (
            {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "2"},
            r"JAX_PROCESS_ID='2': expected 0 to 1 \(JAX_NUM_PROCESSES=2\)",
        ),
    ],
)
def test_partial_or_malformed_settings_are_one_line_errors(started, env, message):
    with pytest.raises(ValueError, match=message) as err:
        sharding.initialize_distributed(env, worker_count=no_metadata)
    assert "\n" not in str(err.value)
    assert started == []  # no process started believing it is process 0 of 1


def test_a_slurm_job_step_of_several_tasks_starts_through_jax_detection(started):
    assert sharding.initialize_distributed(SLURM_STEP, worker_count=no_metadata) == "slurm"
    assert started == [{}]
    one_task = dict(SLURM_STEP, SLURM_NTASKS="1", SLURM_PROCID="0")
    assert sharding.cluster_kind(one_task, worker_count=alone) is None
    # An allocation's shell outside `srun` has no job step: not a cluster of processes.
    no_step = {k: v for k, v in SLURM_STEP.items() if k != "SLURM_STEP_NODELIST"}
    assert sharding.cluster_kind(no_step, worker_count=alone) is None


def test_jax_itself_reads_the_slurm_step_we_detect(monkeypatch):
    """What `jax.distributed.initialize()` without arguments will do with that step:
    process 1 of 2, coordinator on the step's first node."""
    for name, value in SLURM_STEP.items():
        monkeypatch.setenv(name, value)
    for name in ("JAX_COORDINATOR_PORT", "OMPI_MCA_orte_hnp_uri", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    address, count, index, _ = clusters.ClusterEnv.auto_detect_unset_distributed_params(
        None, None, None, None, None, None
    )
    assert (count, index) == (2, 1)
    assert address.startswith("gpu007:")


def test_open_mpi_launches_start_through_jax_detection(started):
    env = {"OMPI_MCA_orte_hnp_uri": "1531576320.0;tcp://10.0.0.1:34911",
           "OMPI_COMM_WORLD_SIZE": "4"}  # fmt: skip
    assert sharding.initialize_distributed(env, worker_count=no_metadata) == "ompi"
    assert started == [{}]
    assert sharding.cluster_kind(dict(env, OMPI_COMM_WORLD_SIZE="1"), alone) is None


def test_the_tpu_vm_environment_end_to_end_starts_jax_distributed(started, monkeypatch):
    """Plain TPU VM: no TPU_WORKER_HOSTNAMES, chips under /dev/accel*, workers in metadata."""
    monkeypatch.setattr(sharding, "on_tpu_vm", lambda: True)
    monkeypatch.setattr(sharding, "gce_metadata", lambda key: "10.0.0.2,10.0.0.3")
    for name in (*sharding.GKE_TPU, *sharding.EXPLICIT, *sharding.SLURM, *sharding.OMPI,
                 "XLMR_TPU_WORKERS", "TPU_SKIP_MDS_QUERY", "TPU_HOST_BOUNDS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert sharding.initialize_distributed() == "tpu"
    assert started == [{}]


def test_an_already_started_process_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(jax.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(jax.distributed, "initialize", no_metadata)
    assert sharding.initialize_distributed({"JAX_COORDINATOR_ADDRESS": "h:1"}) is None
