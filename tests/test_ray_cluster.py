"""Studies on a real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`:
a head without CPUs for tasks and nodes of one CPU and 2 emulated chips each, offered
as the resource `TPU`), started once for the module: broken nodes are drained and the
study ends as in process; a stage whose node is removed more often than any failure
budget still finishes; a hang before the mesh is retried; a stage's own error is
tried once and blocks its subtree. Each try records the node it ran on
(stages/<id>/tries/), which is how the tests tell the nodes apart."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.study_config import two_subtrees_config
from train.study.plan.plan import build_dag
from train.study.run.try_records import stage_tries
from xlmr_flax import faults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "tests", "study_config.py")
NODE = dict(num_cpus=1, resources={"TPU": 2})
DEADLINE_S = 600  # a study that has not ended by then is stuck, not slow
DRIVERS: list[subprocess.Popen] = []


class Reference:
    """The two-subtree study run in process, in the background from the module's
    start (beside the cluster's start and the first study): what every study here
    must end with."""

    def __init__(self, workdir, env):
        self.workdir = workdir
        command = [sys.executable, "-m", "train", "--config", f"{CONFIG}:two_subtrees"]
        self.log = open(workdir.parent / "in_process.log", "w")  # noqa: SIM115 - closed in results()
        self.process = subprocess.Popen(
            [*command, "--workdir", str(workdir)], cwd=ROOT, env=dict(os.environ, **env),
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        DRIVERS.append(self.process)

    def results(self) -> str:
        returncode = self.process.wait(timeout=DEADLINE_S)
        self.log.close()
        log = (self.workdir.parent / "in_process.log").read_text()
        assert returncode == 0, log[-4000:]
        return (self.workdir / "results.jsonl").read_text()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """One compilation cache for every study of the module: each program compiles once."""
    return {"JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("compiled"))}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, compiled):
    return Reference(tmp_path_factory.mktemp("in_process") / "w", compiled)


@pytest.fixture(scope="module")
def cluster(in_process):  # the reference study starts first, and runs beside it
    from ray.cluster_utils import Cluster

    started = Cluster(
        initialize_head=True, connect=False,
        head_node_args=dict(num_cpus=0, include_dashboard=False),
    )  # fmt: skip
    try:
        for _ in range(3):
            started.add_node(**NODE)
        yield started
    finally:
        for driver in DRIVERS:  # one a failed test left running
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        started.shutdown()


def stage_of(task: str):
    return next(s for s in build_dag(two_subtrees_config()).in_order() if s.task == task)


class Driver:
    """`python -m train ... --executor ray --ray-address` started in the background."""

    def __init__(self, cluster, compiled, workdir, env_extra, *overrides):
        self.workdir = workdir
        self.log = workdir.parent / f"{workdir.name}.log"
        command = [sys.executable, "-m", "train", "--config", f"{CONFIG}:two_subtrees"]
        command += ["--workdir", str(workdir), "--executor", "ray"]
        command += ["--ray-address", cluster.address, *overrides]
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=dict(os.environ, **compiled, **env_extra), stdout=out,
                stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        DRIVERS.append(self.process)

    def output(self) -> str:
        return self.log.read_text()

    def wait_until(self, found):
        """Polls `found()` until it returns something; fails when the driver ends first."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            assert self.process.poll() is None, self.output()[-4000:]
            time.sleep(0.2)
        self.process.kill()
        pytest.fail(f"nothing after {DEADLINE_S} s:\n{self.output()[-4000:]}")

    def end(self) -> int:
        try:
            return self.process.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"the study did not end:\n{self.output()[-4000:]}")


def all_attempts(workdir) -> list[dict]:
    stages = workdir / "stages"
    return [
        a for folder in sorted(stages.iterdir()) for a in stage_tries(str(workdir), folder.name)
    ]


def no_failure_recorded(workdir) -> bool:
    return (
        not list((workdir / "stages").glob("*/FAILED")) and not (workdir / "failed.json").exists()
    )


@pytest.mark.slow  # a study on the cluster
def test_broken_nodes_are_drained_and_the_study_ends_as_in_process(
    cluster, compiled, in_process, tmp_path
):
    """The health check of every node is broken, three different ways: the root's
    tries fail on each node in turn, each is drained, the root waits (reported with
    Ray's reason) until a healthy node joins, and everything runs there."""
    nodes = sorted(node.node_id for node in cluster.worker_nodes)
    broken = {node: faults.NODE_FAULTS[i % 3] for i, node in enumerate(nodes)}
    planted = ",".join(f"{kind}@{node}" for node, kind in broken.items())
    driver = Driver(
        cluster, compiled, tmp_path / "ray", {faults.NODE_ENV: planted},
        "--config.executor.pending_report_s=2", f"--config.executor.node_error_retries={len(nodes)}",
    )  # fmt: skip
    drained = f"infeasible: the {len(nodes)} node(s) offering {{CPU: 1, TPU: 1}} are drained"
    driver.wait_until(lambda: drained in driver.output())
    healthy = cluster.add_node(**NODE)
    assert driver.end() == 0, driver.output()[-4000:]
    workdir = tmp_path / "ray"
    assert (workdir / "results.jsonl").read_text() == in_process.results()
    assert no_failure_recorded(workdir)
    out = driver.output()
    attempts = all_attempts(workdir)
    faulted = {a["node"]: a["error"] for a in attempts if a["end"] == "node fault"}
    assert set(faulted) == set(broken)
    for node, kind in broken.items():
        assert f"node {node} drained" in out
        expected = {
            "health": "planted health-check failure",
            "platform": "JAX came up on cpu (8 devices) where this node offers tpu",
            "mount": "the workdir's mount does not answer (OSError: [Errno 107]",
        }[kind]
        assert faulted[node].startswith(expected)
    assert {a["node"] for a in attempts if a["end"] == "done"} == {healthy.node_id}
    assert all(a["end"] in ("done", "node fault") for a in attempts)


@pytest.mark.slow  # a study on the cluster, its nodes removed under it
def test_a_stage_whose_node_is_removed_four_times_finishes_and_a_hung_start_is_retried(
    cluster, compiled, in_process, tmp_path
):
    """MNLI's node is removed (as a preempted VM) under each of its first four tries,
    and a new node joins each time: more losses than any failure budget, within the
    preemption budget. SQuAD's first try hangs before its mesh is built: the
    watchdog (started before the backend) stops it, and it is retried."""
    mnli, squad = stage_of("mnli"), stage_of("squad_v1")
    workdir = tmp_path / "ray"
    driver = Driver(
        cluster, compiled, workdir,
        {faults.HANG_ENV: f"start:{squad.id}", faults.ONCE_ENV: str(tmp_path / "hung-once")},
        # A loaded machine can leave a try's counters still (restore, compile) for as
        # long: such a try is stopped and retried too, within a larger budget.
        "--config.executor.stall_after_s=30", "--config.executor.node_error_retries=10",
    )  # fmt: skip
    removed = []
    while len(removed) < 4:
        running = driver.wait_until(
            lambda: [a["node"] for a in stage_tries(str(workdir), mnli.id)
                     if a["end"] == "running" and a["node"] not in removed]
        )  # fmt: skip
        node = next(n for n in cluster.worker_nodes if n.node_id == running[0])
        cluster.remove_node(node, allow_graceful=False)
        removed.append(node.node_id)
        cluster.add_node(**NODE)
    assert driver.end() == 0, driver.output()[-4000:]
    assert (workdir / "results.jsonl").read_text() == in_process.results()
    assert no_failure_recorded(workdir)
    tries = stage_tries(str(workdir), mnli.id)
    lost = [t["node"] for t in tries if t["end"] == "running"]  # its node gone under it
    assert lost == removed and tries[-1]["end"] == "done"
    assert all(t["end"] == "stalled" for t in tries[:-1] if t["end"] != "running")
    assert "(4 of 100 for preemption_retries)" in driver.output()
    hung = stage_tries(str(workdir), squad.id)
    assert (hung[0]["end"], hung[0]["phase"]) == ("stalled", "start")
    assert "no progress for" in hung[0]["error"] and hung[-1]["end"] == "done"
    assert (tmp_path / "hung-once").exists()
    goodput = json.loads((workdir / "goodput.json").read_text())
    entry = next(s for s in goodput["stages"] if s["stage"] == mnli.id)
    # goodput.json counts the tries that reached the stage's work (a try lost while its
    # worker started holds no record there); the finished try's two steps are preserved.
    assert 1 <= entry["attempts"] <= len(tries)
    assert entry["preserved_steps"] == 2 and entry["lost_steps"] >= 0


@pytest.mark.slow  # a study on the cluster
def test_a_failing_stage_is_tried_once_blocks_its_subtree_and_exits_5(cluster, compiled, tmp_path):
    squad = stage_of("squad_v1")
    workdir = tmp_path / "ray"
    driver = Driver(cluster, compiled, workdir, {faults.FAIL_ENV: f"step:{squad.id}:1"})
    assert driver.end() == 5, driver.output()[-4000:]
    out = driver.output()
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"error: 1 stage(s) failed ({squad.id}), 1 not run below them")
    assert f"failed: stage {squad.id}: PlantedFailure: planted failure at" in out
    tries = stage_tries(str(workdir), squad.id)
    assert [t["end"] for t in tries] == ["failed"]  # one try: never retried
    failed = json.loads((workdir / "failed.json").read_text())["failed"]
    assert [(f["stage"], f["cells"]) for f in failed] == [
        (squad.id, [{"path": ["squad_v1"], "target": "xnli", "seed": 0}])
    ]
    below = [s for s in build_dag(two_subtrees_config()).in_order() if s.parent == squad.id]
    assert below and not any((workdir / "stages" / s.id / "attempts").exists() for s in below)
    records = [json.loads(x) for x in (workdir / "results.jsonl").read_text().split("\n") if x]
    assert {tuple(r["path"]) for r in records if r["kind"] == "zero_shot"} == {("mnli",)}
    report = (workdir / "report" / "report.md").read_text()
    assert f"| {squad.id} | squad_v1 | 0 | PlantedFailure" in report
