"""The Ray executor's driver settling each try by the class of its fault, against a
scripted stand-in for Ray (each try's end given in advance): budgets per class,
drained nodes excluded from later tries, subtrees blocked, pending tries reported,
a storage error stopping everything at once. The same driver on a real cluster:
test_ray_cluster.py."""

import errno
import types

import pytest
import ray.exceptions

from tests.study_config import two_subtrees_config
from train.study.plan.plan import build_dag
from train.study.run.failures import (
    BLOCKED,
    DONE,
    FAILED,
    NodeFault,
    StageFailed,
    StageOutcome,
)
from train.study.run.ray_driver import StudyDriver, StudyStopped
from train.study.run.ray_executor import ExecutorSettings
from train.study.run.resources import stage_shape
from train.study.run.try_records import TryRecord

RUN = "run-1"


class ScriptedRay:
    """Runs every submitted try at once from `script[(stage task, try)]`: an outcome
    status, an exception (raised by the try), or "pending" (never starts)."""

    exceptions = ray.exceptions

    def __init__(self, workdir, script):
        self.workdir, self.script = workdir, script
        self.submitted, self.cancelled, self.pending = [], [], []

    def remote(self, **_):  # a remote function: its options() give what only submits
        return lambda fn: types.SimpleNamespace(
            options=lambda **options: types.SimpleNamespace(remote=self._submit_with(options))
        )

    def _submit_with(self, options):
        def submit(config, dag, stage_id, workdir, run_id, ready_at, attempt):
            task = dag.stages[stage_id].task if stage_id in dag.stages else "pretrained"
            ref = (stage_id, task, attempt)
            self.submitted.append((task, attempt, options.get("label_selector")))
            return ref

        return submit

    def put(self, value):
        return value

    def wait(self, refs, num_returns, timeout):
        assert timeout is not None  # never a wait without one
        ready = [r for r in refs if self.script.get(r[1:]) != "pending"]
        return ready[:num_returns], []

    def get(self, ref):
        stage_id, task, attempt = ref
        end = self.script.get((task, attempt), DONE)
        if end == DONE:
            return StageOutcome(stage_id, DONE, None, None, 0, 1.0)
        if end == FAILED:
            raise ray.exceptions.RayTaskError(
                "stage_task", "", StageFailed(StageOutcome(stage_id, FAILED, "ValueError: bad"))
            )
        if isinstance(end, tuple):  # ("stalled", node): the watchdog's record, then lost
            record = TryRecord(self.workdir, stage_id, RUN, attempt, end[1])
            record.end("stalled", "no progress for 20 s", "start")
            raise ray.exceptions.WorkerCrashedError()
        if isinstance(end, ray.exceptions.RayError):
            raise end
        raise ray.exceptions.RayTaskError("stage_task", "", end)

    def cancel(self, ref, force):
        self.cancelled.append(ref[1])

    def nodes(self):
        return [{"NodeID": n, "Alive": True, "Resources": {"CPU": 1.0, "TPU": 2.0}} for n in "ab"]

    def get_runtime_context(self):
        raise RuntimeError("no cluster")


def drive(tmp_path, script, **settings):
    config = two_subtrees_config()
    dag = build_dag(config)
    fake = ScriptedRay(str(tmp_path), script)
    budgets = ExecutorSettings(**{**dict(preemption_retries=100, node_error_retries=3,
                                         stall_after_s=20.0, pending_report_s=600.0), **settings})  # fmt: skip
    said = []
    driver = StudyDriver(
        fake, config, dag, dag.in_order(), str(tmp_path), RUN, stage_shape("chip", None), budgets,
        said.append,
    )  # fmt: skip
    return fake, driver, said, dag


def statuses(outcomes, dag):
    def task(o):
        return dag.stages[o.stage].task if o.stage in dag.stages else "pretrained"

    return sorted((task(o), dag.stages[o.stage].depth if o.stage in dag.stages else 0, o.status)
                  for o in outcomes)  # fmt: skip


def test_a_lost_worker_and_a_node_at_fault_are_retried_each_on_its_own_budget(tmp_path):
    lost = ray.exceptions.NodeDiedError("node died")
    script = {("mnli", n): lost for n in range(1, 6)}  # lost five times: within 100
    script[("squad_v1", 1)] = NodeFault("n1", "JAX came up on cpu")
    script[("squad_v1", 2)] = NodeFault("n2", "the workdir's mount does not answer")
    fake, driver, said, _ = drive(tmp_path, script)
    outcomes = driver.run()
    assert all(o.status == DONE for o in outcomes) and len(outcomes) == 5
    assert [t for t in fake.submitted if t[0] == "mnli"][-1][1] == 6
    squad_tries = [t for t in fake.submitted if t[0] == "squad_v1"]
    assert [t[2] for t in squad_tries] == [  # each drained node left out of later tries
        None,
        {"ray.io/node-id": "!in(n1)"},
        {"ray.io/node-id": "!in(n1,n2)"},
    ]
    assert any("node n1 drained (stage" in line for line in said)
    assert any("(5 of 100 for preemption_retries)" in line for line in said)
    assert not (tmp_path / "drained.json").exists()  # the study's own, removed at its end


def test_a_try_placed_on_a_node_drained_after_its_submission_is_submitted_again(tmp_path):
    script = {
        ("mnli", 1): NodeFault("n1", "chips busy"),
        ("squad_v1", 1): NodeFault("n1", "drained earlier in this study: chips busy"),
    }
    fake, driver, said, dag = drive(tmp_path, script, node_error_retries=1)
    found = statuses(driver.run(), dag)
    assert all(status == DONE for *_, status in found)  # no budget spent by the second
    assert [t[1:] for t in fake.submitted if t[0] == "squad_v1"] == [
        (1, None),
        (2, {"ray.io/node-id": "!in(n1)"}),
    ]
    assert any("placed on drained node n1; submitted again" in line for line in said)


def test_a_budget_spent_fails_the_stage_and_blocks_its_subtree_only(tmp_path):
    script = {("squad_v1", n): NodeFault(f"n{n}", "chips busy") for n in range(1, 4)}
    script[("mnli", 1)] = ("stalled", "n9")  # stalled before its mesh: drained, retried
    _, driver, said, dag = drive(tmp_path, script, node_error_retries=2)
    found = statuses(driver.run(), dag)
    assert ("squad_v1", 1, FAILED) in found and ("mnli", 1, DONE) in found
    assert [s for s in found if s[2] != FAILED] == [  # only below squad_v1 blocked
        ("mnli", 1, DONE),
        ("pretrained", 0, DONE),
        ("xnli", 2, BLOCKED),
        ("xnli", 2, DONE),
    ]
    failed = next(o for o in driver.outcomes.values() if o.status == FAILED)
    assert failed.error.startswith(
        "its node at fault 3 times, more than config.executor.node_error_retries = 2"
    )
    assert any("node n9 drained" in line for line in said)


def test_a_stage_s_own_error_is_tried_once(tmp_path):
    fake, driver, _, dag = drive(tmp_path, {("squad_v1", 1): FAILED})
    found = statuses(driver.run(), dag)
    assert ("squad_v1", 1, FAILED) in found
    assert [t[:2] for t in fake.submitted if t[0] == "squad_v1"] == [("squad_v1", 1)]


def test_a_storage_error_cancels_every_running_try_and_stops_the_study(tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device", "/w/stages/x")
    fake, driver, said, _ = drive(tmp_path, {("mnli", 1): full, ("squad_v1", 1): "pending"})
    with pytest.raises(StudyStopped) as stopped:
        driver.run()
    assert stopped.value.error.errno == errno.ENOSPC
    assert [o.status for o in stopped.value.outcomes] == [DONE]  # the root ended before
    assert fake.cancelled == ["squad_v1"]
    assert "stopping the study, 1 other tries cancelled" in said[-1]


def test_a_try_waiting_for_a_node_is_reported_with_the_reason(tmp_path):
    _, driver, said, dag = drive(tmp_path, {("pretrained", 1): "pending"}, pending_report_s=1e-3)
    driver.start(dag.root, 0.0)
    next(iter(driver.running.values())).submitted = 0.0  # submitted long ago
    driver.drained.update(a="chips busy", b="chips busy")
    driver.report_pending()
    assert said[-1].startswith("stage ") and "(pretrained) waiting for a node for" in said[-1]
    assert said[-1].endswith("infeasible: the 2 node(s) offering {CPU: 1, TPU: 1} are drained")
    driver.drained.clear()
    next(iter(driver.running.values())).reported = 0.0
    driver.report_pending()
    assert "pending resources: 2 node(s) offer {CPU: 1, TPU: 1}; none has started it" in said[-1]
