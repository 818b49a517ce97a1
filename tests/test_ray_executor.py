"""The Ray executor: what each layout asks Ray for, what its workers are given, and
studies on a local Ray instance that end as in process — with a worker SIGKILLed
mid-stage (retried, resumed from its checkpoint) and with a stage that fails."""

import json
import os
import subprocess
import sys

import pytest

from tests.study_config import two_stage_config, two_subtrees_config
from train.study.plan.plan import build_dag
from train.study.plan.targets import parse_target
from train.study.run.ray_executor import code_root, init_options, max_retries
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
    remote = init_options(two_stage_config(), "ray://head:10001")
    assert remote["address"] == "ray://head:10001" and "resources" not in remote


def test_executor_settings_are_checked_before_anything_runs(tmp_path):
    config = two_stage_config()
    config.executor = dict(max_retries=-1)
    with pytest.raises(
        ValueError, match=r"config\.executor\.max_retries: expected an integer >= 0"
    ):
        max_retries(config)
    config.executor = dict(stall_after_s="soon")
    with pytest.raises(ValueError, match=r"config\.executor\.stall_after_s: expected seconds"):
        run_study(config, str(tmp_path / "w"), executor=ExecutorOptions("ray"))
    slice_run = ExecutorOptions("ray", layout="slice", topology="v4-32")
    with pytest.raises(ValueError, match="--layout slice: 4 tasks per stage"):
        run_study(two_stage_config(), str(tmp_path / "w"), executor=slice_run)
    with pytest.raises(ValueError, match="--shard: Ray schedules the whole study"):
        run_study(two_stage_config(), str(tmp_path / "w"), (1, 2), executor=ExecutorOptions("ray"))
    assert not (tmp_path / "w").exists()


def ray_command(workdir, arg, env_extra, *overrides):
    env = dict(os.environ, **env_extra)
    command = [sys.executable, "-m", "train", "--config", f"{CONFIG}:{arg}"]
    command += ["--workdir", str(workdir), "--executor", "ray", *overrides]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # a study in process, then on a local Ray instance
def test_a_killed_worker_is_retried_and_the_study_ends_as_in_process(tmp_path):
    config = two_stage_config()
    config.hparams.default.steps = 4  # checkpoints at steps 2 and 4
    run_study(config, str(tmp_path / "in_process"), out=lambda *_: None)
    mnli = build_dag(config).in_order()[0]
    assert mnli.task == "mnli"
    run = ray_command(
        tmp_path / "ray", "two_stage",
        {faults.ENV: f"step:{mnli.id}:3", faults.ONCE_ENV: str(tmp_path / "killed-once")},
        "--config.hparams.default.steps=4",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert (tmp_path / "killed-once").exists()  # the worker was killed after step 3
    results = (tmp_path / "ray" / "results.jsonl").read_text()
    assert results == (tmp_path / "in_process" / "results.jsonl").read_text()
    # The retry resumes from the newest committed checkpoint: step 2, or step 0 when
    # the asynchronous save of step 2 had not committed yet (a loaded machine).
    manifest = json.loads((tmp_path / "ray" / "stages" / mnli.id / "manifest.json").read_text())
    assert manifest["resumed_from_step"] in (0, 2)
    goodput = json.loads((tmp_path / "ray" / "goodput.json").read_text())
    retried = next(s for s in goodput["stages"] if s["stage"] == mnli.id)
    # Its four steps are kept whichever checkpoint the retry resumed from; the lost
    # try's work past it is counted lost, on the one chip the stage held.
    assert (retried["attempts"], retried["preserved_steps"], retried["chips"]) == (2, 4, 1)
    assert retried["lost"] > 0 and retried["between_tries"] >= 0
    study = goodput["study"]
    assert study["chips"] == 8 and study["parts"]["idle"] > 0  # one stage at a time on 8
    assert goodput["executor"] == "ray" and "goodput of the study (ray" in run.stdout


@pytest.mark.slow  # a study on a local Ray instance
def test_a_failing_stage_on_ray_fails_its_subtree_only_and_exits_5(tmp_path):
    squad = next(s for s in build_dag(two_subtrees_config()).in_order() if s.task == "squad_v1")
    run = ray_command(tmp_path / "ray", "two_subtrees", {faults.FAIL_ENV: f"step:{squad.id}:1"})
    assert run.returncode == 5, run.stderr[-4000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: 1 stage(s) failed ({squad.id}), 1 not run below them")
    assert f"failed: stage {squad.id}: PlantedFailure: planted failure at" in run.stdout
    failed = json.loads((tmp_path / "ray" / "failed.json").read_text())["failed"]
    assert [(f["stage"], f["cells"]) for f in failed] == [
        (squad.id, [{"path": ["squad_v1"], "target": "xnli", "seed": 0}])
    ]
    records = [json.loads(x) for x in (tmp_path / "ray" / "results.jsonl").read_text().split("\n")
               if x]  # fmt: skip
    assert {tuple(r["path"]) for r in records if r["kind"] == "zero_shot"} == {("mnli",)}
    report = (tmp_path / "ray" / "report" / "report.md").read_text()
    assert f"| {squad.id} | squad_v1 | 0 | PlantedFailure" in report
