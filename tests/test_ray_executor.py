"""The Ray executor: what each layout asks Ray for, what its workers are given, and its
settings checked before anything runs (studies on a multi-node cluster, with faults
of every class: test_ray_cluster.py)."""

import errno
import os

import pytest

from tests.study_config import two_stage_config
from train.study.plan.targets import parse_target
from train.study.run import ray_executor
from train.study.run.ray_driver import StudyStopped
from train.study.run.ray_executor import (
    ExecutorSettings,
    code_root,
    executor_settings,
    init_options,
)
from train.study.run.resources import head_resource, stage_shape
from train.study.run.runner import ExecutorOptions, run_study
from xlmr_flax import faults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "tests", "study_config.py")


def test_each_layout_is_a_resource_shape():
    v4 = parse_target("v4-32")  # 16 chips on 4 hosts of 4
    chip = stage_shape("chip", v4)
    assert (chip.tasks, chip.resources, chip.chips) == (1, {"TPU": 1.0}, 1)
    assert chip.env == {"TPU_HOST_BOUNDS": "1,1,1"}  # alone on its host, not the slice's
    host = stage_shape("host", v4)
    assert (host.tasks, host.resources, host.chips, host.bundles) == (1, {"TPU": 4.0}, 4, ())
    pod = stage_shape("slice", v4)
    assert (pod.tasks, pod.chips, pod.strategy) == (4, 16, "STRICT_SPREAD")
    assert pod.bundles[0] == {"TPU": 4.0, "TPU-v4-32-head": 1.0}  # host 0 of one slice
    assert pod.bundles[1:] == ({"TPU": 4.0},) * 3 and pod.env == {}
    assert head_resource(parse_target("v5litepod-16")) == "TPU-v5litepod-16-head"
    assert stage_shape("host", parse_target("v6e-8")).resources == {"TPU": 8.0}  # 8-chip hosts
    assert stage_shape("host", parse_target("v6e-8")).env == {}  # a one-host slice
    assert stage_shape("chip", None).resources == {"TPU": 1.0}  # a local instance
    with pytest.raises(ValueError, match="--layout host: needs --topology"):
        stage_shape("host", None)
    with pytest.raises(ValueError, match="--layout 'pod': expected one of chip, host, slice"):
        stage_shape("pod", v4)


def test_a_local_instance_emulates_chips_and_its_workers_import_this_code(monkeypatch):
    monkeypatch.setenv(faults.ENV, "step:x:1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_collective_call_terminate_timeout_seconds=6")
    options = init_options(two_stage_config(), None)
    env = options["runtime_env"]["env_vars"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == code_root() == ROOT
    assert env["JAX_PLATFORMS"] == "cpu" and env[faults.ENV] == "step:x:1"
    assert env["XLA_FLAGS"].endswith("--xla_force_host_platform_device_count=8")
    assert options["resources"] == {"TPU": 8.0} and not options["include_dashboard"]
    assert options["address"] == "local"  # never joins a cluster already running here
    remote = init_options(two_stage_config(), "ray://head:10001")
    assert remote["address"] == "ray://head:10001" and "resources" not in remote


def test_executor_settings_are_checked_before_anything_runs(tmp_path):
    config = two_stage_config()
    assert executor_settings(config) == ExecutorSettings(100, 3, 1800.0, 600.0)
    config.executor.node_error_retries = -1
    with pytest.raises(
        ValueError, match=r"config\.executor\.node_error_retries: expected an integer >= 0, got -1"
    ):
        executor_settings(config)
    config.executor = dict(max_retries=3)
    with pytest.raises(ValueError, match=r"config\.executor\.max_retries: no longer read; use pre"):
        run_study(config, str(tmp_path / "w"), executor=ExecutorOptions("ray"))
    config.executor = dict(pending_report_s=0)
    with pytest.raises(ValueError, match=r"config\.executor\.pending_report_s: expected seconds"):
        executor_settings(config)
    config.executor = dict(stall_after_s="soon")
    with pytest.raises(ValueError, match=r"config\.executor\.stall_after_s: expected seconds"):
        run_study(config, str(tmp_path / "w"), executor=ExecutorOptions("ray"))
    slice_run = ExecutorOptions("ray", layout="slice", topology="v4-32")
    with pytest.raises(ValueError, match="--layout slice: 4 tasks per stage"):
        run_study(two_stage_config(), str(tmp_path / "w"), executor=slice_run)
    with pytest.raises(ValueError, match="--shard: Ray schedules the whole study"):
        run_study(two_stage_config(), str(tmp_path / "w"), (1, 2), executor=ExecutorOptions("ray"))
    assert not (tmp_path / "w").exists()


def test_a_storage_error_under_ray_still_writes_the_summary_then_stops(tmp_path, monkeypatch):
    """The driver stops at a storage error (test_study_driver.py); the study then
    writes what ended before — goodput.json, results.jsonl, no failed.json — and
    raises the error (exit 4 in the main command)."""
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "w" / "x"))

    def stopped(*_, **__):
        raise StudyStopped(full, [])

    monkeypatch.setattr(ray_executor, "run_on_ray", stopped)
    with pytest.raises(OSError) as raised:
        run_study(two_stage_config(), str(tmp_path / "w"), executor=ExecutorOptions("ray"),
                  out=lambda *_: None)  # fmt: skip
    assert raised.value is full
    assert (tmp_path / "w" / "goodput.json").exists()
    assert (tmp_path / "w" / "results.jsonl").exists()
    assert not (tmp_path / "w" / "failed.json").exists()
