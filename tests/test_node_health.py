"""The health check a stage runs on its node before anything trains, and which errors
are the node's fault rather than the stage's or the study's."""

import errno
import os
import subprocess
import time

import pytest

from train.study.run.failures import NodeFault, node_error, storage_error
from train.study.run.health import (
    check_node,
    check_platform,
    clear_libtpu_lock,
    drained_reason,
    expected_platform,
    probe_mount,
    write_drained,
)
from xlmr_flax import faults


def test_the_expected_platform_is_the_pinned_one_else_that_of_the_chips_given(monkeypatch):
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")  # a study of emulated chips
    assert expected_platform({"TPU": ["0"]}) == "cpu"
    monkeypatch.delenv("JAX_PLATFORMS")
    assert expected_platform({"TPU": ["0", "1"]}) == "tpu"
    assert expected_platform({"GPU": ["0"]}) == "gpu"
    assert expected_platform({"TPU": []}) is None


def test_a_node_whose_jax_came_up_on_the_cpu_where_tpu_is_expected_fails_loudly(monkeypatch):
    check_platform("n1", "cpu")  # the tests' emulated chips: as expected
    with pytest.raises(
        NodeFault, match=r"JAX came up on cpu \(8 devices\) where this node offers tpu"
    ):
        check_platform("n1", "tpu")
    monkeypatch.setenv(faults.NODE_ENV, "platform@n2")
    check_platform("n1", "cpu")  # the switch names another node
    with pytest.raises(NodeFault) as raised:
        check_platform("n2", "cpu")
    assert raised.value.node == "n2"


def test_a_stale_libtpu_lock_is_cleared_and_a_held_one_means_busy_chips(tmp_path):
    lock = tmp_path / "libtpu_lockfile"
    assert clear_libtpu_lock("n1", str(lock)) is False  # none there
    lock.write_text("")
    assert clear_libtpu_lock("n1", str(lock)) is True and not lock.exists()
    lock.write_text("")
    holder = subprocess.Popen(["sh", "-c", f"exec 3<'{lock}'; sleep 60"])
    try:
        # Wait until the shell holds the file (clearing it before then would delete it).
        fds = f"/proc/{holder.pid}/fd"
        deadline = time.monotonic() + 30
        while not any(os.path.realpath(os.path.join(fds, fd)) == str(lock)
                      for fd in os.listdir(fds)):  # fmt: skip
            assert time.monotonic() < deadline, "the shell never opened the lock"
            time.sleep(0.05)
        with pytest.raises(NodeFault) as raised:
            clear_libtpu_lock("n1", str(lock))
        assert raised.value.line == f"chips busy: process {holder.pid} holds {lock}"
        assert lock.exists()  # a live holder's lock is left alone
    finally:
        holder.kill()
        holder.wait()


def test_the_workdir_mount_must_answer_a_write_and_a_read(tmp_path, monkeypatch):
    probe_mount(str(tmp_path), "n1")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    with pytest.raises(NodeFault, match="the workdir's mount does not answer"):
        probe_mount(str(tmp_path / "gone"), "n1")
    monkeypatch.setenv(faults.NODE_ENV, "mount@n1")
    with pytest.raises(NodeFault, match=r"\[Errno 107\] Transport endpoint is not connected"):
        probe_mount(str(tmp_path), "n1")
    monkeypatch.setenv(faults.NODE_ENV, "health@n1")
    with pytest.raises(NodeFault, match="planted health-check failure"):
        check_node(str(tmp_path), "n1", {})
    check_node(str(tmp_path), "n2", {})


def test_a_node_drained_by_the_running_study_is_named_with_why(tmp_path):
    assert drained_reason(str(tmp_path), "run-1", "n2") is None
    write_drained(str(tmp_path), "run-1", {"n2": "chips busy"})
    assert drained_reason(str(tmp_path), "run-1", "n2") == "chips busy"
    assert drained_reason(str(tmp_path), "run-1", "n1") is None
    assert drained_reason(str(tmp_path), "run-2", "n2") is None  # another run's drain


def test_a_full_or_read_only_workdir_is_the_study_s_error_not_the_node_s(tmp_path, monkeypatch):
    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(OSError, match="No space left"):
        probe_mount(str(tmp_path), "n1")


def test_a_mount_gone_on_one_host_is_a_node_error_and_a_full_disk_is_not():
    for code in (errno.ENOTCONN, errno.EIO, errno.ESTALE):
        try:
            raise RuntimeError("checkpoint save failed") from OSError(code, "x")
        except RuntimeError as err:
            assert node_error(err).errno == code and storage_error(err).errno == code
    text = ValueError('Error writing "/mnt/w/x": Transport endpoint is not connected')
    assert node_error(text).errno == errno.ENOTCONN
    full = OSError(errno.ENOSPC, "No space left on device")
    assert storage_error(full) is full and node_error(full) is None
