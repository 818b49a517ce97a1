"""Multi-host TPU slices start `jax.distributed` on every worker, found the way JAX finds
them: the launcher's worker count, GKE's host list, or the TPU VM metadata server."""

import jax
import pytest

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


def test_the_launchers_worker_count_comes_first():
    env = {"XLMR_TPU_WORKERS": "8", "TPU_WORKER_HOSTNAMES": "only-one"}
    assert sharding.tpu_worker_count(env, no_metadata, tpu_vm=True) == 8
    with pytest.raises(ValueError, match="XLMR_TPU_WORKERS='four'"):
        sharding.tpu_worker_count({"XLMR_TPU_WORKERS": "four"}, no_metadata)


def test_every_worker_of_a_pod_slice_initializes_with_jax_discovery(started):
    assert sharding.initialize_distributed({}, worker_count=lambda env: 4)
    assert started == [{}]  # no arguments: JAX reads the slice itself


def test_a_single_worker_does_not_initialize(started):
    assert not sharding.initialize_distributed({}, worker_count=lambda env: 1)
    assert started == []


def test_explicit_coordinator_settings_start_any_cluster(started):
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234", "JAX_NUM_PROCESSES": "2",
           "JAX_PROCESS_ID": "1"}  # fmt: skip
    assert sharding.initialize_distributed(env, worker_count=no_metadata)
    assert started == [{"coordinator_address": "10.0.0.2:1234", "num_processes": 2,
                        "process_id": 1}]  # fmt: skip


def test_the_tpu_vm_environment_end_to_end_starts_jax_distributed(started, monkeypatch):
    """Plain TPU VM: no TPU_WORKER_HOSTNAMES, chips under /dev/accel*, workers in metadata."""
    monkeypatch.setattr(sharding, "on_tpu_vm", lambda: True)
    monkeypatch.setattr(sharding, "gce_metadata", lambda key: "10.0.0.2,10.0.0.3")
    for name in ("TPU_WORKER_HOSTNAMES", "TPU_PROCESS_ADDRESSES", "XLMR_TPU_WORKERS",
                 "TPU_SKIP_MDS_QUERY", "JAX_COORDINATOR_ADDRESS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert sharding.initialize_distributed()
    assert started == [{}]
