"""What a run does when a stage fails, hangs or loses its process, and where its time
went: FAILED records and failed.json, the watchdog on the step counters, the
loop's clock (goodput), and the report's sections on both."""

import errno
import os
import time

import pytest

from eval.analysis.records import load_failures, load_goodput
from eval.report.runs import section_failed
from tests.study_config import two_subtrees_config
from train.loop import LoopClock, train_loop
from train.study import layout
from train.study.plan.plan import build_dag
from train.study.run.failures import (
    blocked_by,
    failed_error,
    one_line,
    record_failures,
    storage_error,
    study_failures,
    write_failed,
)
from train.study.run.lock import WorkdirLock, WorkdirLocked
from train.study.run.runner import run_study
from train.study.run.watchdog import StepCounters, watch
from xlmr_flax import faults


def test_the_loop_clock_names_compile_steps_and_saves():
    clock, seen = LoopClock(on_step=lambda n: seen.append(n)), []

    def step(state, batch):
        time.sleep(0.05 if state == 0 else 0.01)  # the first call stands for a compile
        return state + 1, {"loss": 1.0}

    saves = []
    train_loop(step, 0, range(4), final_step=4, save_every=2, clock=clock,
               save=lambda s, n: (time.sleep(0.02), saves.append(n)))  # fmt: skip
    assert seen == [1, 2, 3, 4] and saves == [2, 4] and clock.steps == 4
    assert 0.05 <= clock.compile_s < 0.09
    assert 0.03 <= clock.steps_s < 0.08  # three steps of 0.01 s
    assert 0.04 <= clock.saves_s < 0.08
    assert clock.ended - clock.started >= clock.compile_s + clock.steps_s + clock.saves_s


def test_the_step_counters_count_tries_of_one_run(tmp_path):
    workdir = str(tmp_path)
    first = StepCounters(workdir, "s1", "run-1")
    first.step(3)
    time.sleep(0.01)
    again = StepCounters(workdir, "s1", "run-1")  # the same run: a retry
    assert (first.attempt, again.attempt) == (1, 2)
    assert again.first_started == first.first_started < again.started
    again.phase("done")
    assert StepCounters(workdir, "s1", "run-2").attempt == 1  # a new run starts afresh
    assert os.path.exists(layout.stage_progress(workdir, "s1"))


def test_the_watchdog_stops_a_stage_whose_counters_stand_still(tmp_path):
    counters, stalls = StepCounters(str(tmp_path), "s1", "run"), []
    stop = watch(counters, 0.4, stalls.append)
    for step in range(8):  # moving: no stall
        counters.step(step)
        time.sleep(0.1)
    assert stalls == []
    time.sleep(0.8)  # standing still (a hung collective: alive, no step)
    stop.set()
    assert len(stalls) == 1 and "stage s1: no progress for" in stalls[0]
    assert "phase start, step 7, try 1" in stalls[0]


def test_a_failure_blocks_its_subtree_and_names_the_cells_it_empties(tmp_path):
    dag = build_dag(two_subtrees_config())
    squad = next(s for s in dag.in_order() if s.task == "squad_v1")
    below = next(s for s in dag.in_order() if s.parent == squad.id)
    mnli = next(s for s in dag.in_order() if s.task == "mnli" and s.parent == dag.root)
    assert blocked_by(dag, below.id, {squad.id}) == squad.id
    assert blocked_by(dag, mnli.id, {squad.id}) is None
    failures = study_failures(dag, {squad.id: "PlantedFailure: planted failure at x"})
    assert [f.cells for f in failures] == [((("squad_v1",), "xnli", 0),)]
    workdir = str(tmp_path)
    record_failures(workdir, failures)
    assert load_failures(workdir) == failures
    lines = section_failed(failures)
    assert any(squad.id in x and "squad_v1: xnli (seed 0)" in x for x in lines)
    record_failures(workdir, [])  # nothing failed: no file
    assert load_failures(workdir) == []
    write_failed(workdir, squad.id, "ValueError: bad", "run")
    assert failed_error(workdir, squad.id) == "ValueError: bad"


def test_errors_are_one_line_and_storage_errors_are_told_apart():
    assert one_line(ValueError("bad line 3\nTraceback...")) == "ValueError: bad line 3"
    assert len(one_line(RuntimeError("x" * 2000))) == 500
    stale = OSError(errno.ESTALE, "Stale file handle", "/mnt/gcs/b/w/stages/x")
    assert storage_error(RuntimeError("wrapped")) is None
    try:
        raise RuntimeError("save failed") from stale
    except RuntimeError as err:
        assert storage_error(err) is stale


def test_the_lock_loser_on_a_bucket_mount_is_told_locked_in_one_line(tmp_path, monkeypatch):
    """Cloud Storage FUSE lets both racers create the lock; the loser's close says ESTALE."""
    real_fdopen = os.fdopen

    class StaleOnClose:
        def __init__(self, fd, *args, **kwargs):
            self.file = real_fdopen(fd, *args, **kwargs)

        def __enter__(self):
            return self.file

        def __exit__(self, *exc):
            self.file.close()
            raise OSError(errno.ESTALE, "Stale file handle")

    with WorkdirLock(str(tmp_path)):
        os.unlink(layout.lock_path(str(tmp_path), (0, 1)))  # the winner's object, not yet seen
        monkeypatch.setattr(os, "fdopen", StaleOnClose)
        with pytest.raises(WorkdirLocked, match=r"lock \(taken meanwhile\)|is in use by"):
            WorkdirLock(str(tmp_path)).acquire()


@pytest.mark.slow  # a four-stage study, twice
def test_a_failed_stage_leaves_the_rest_finished_and_a_rerun_tries_it_again(tmp_path, monkeypatch):
    config = two_subtrees_config()
    dag = build_dag(config)
    squad = next(s for s in dag.in_order() if s.task == "squad_v1")
    workdir = str(tmp_path / "run")
    monkeypatch.setenv(faults.FAIL_ENV, f"step:{squad.id}:1")
    first = run_study(config, workdir, out=lambda *_: None)
    assert list(first["failed"]) == [squad.id]
    assert first["failed"][squad.id] == f"PlantedFailure: planted failure at step:{squad.id}:1"
    assert len(first["blocked"]) == 1  # its child never ran
    done = [s.id for s in dag.in_order() if layout.is_done(workdir, s.id)]
    assert len(done) == 2 and squad.id not in done  # the mnli subtree finished
    failed_try = next(s for s in load_goodput(workdir)["stages"] if s["stage"] == squad.id)
    assert (failed_try["preserved_steps"], failed_try["lost_steps"]) == (0, 1)  # no checkpoint
    assert failed_error(workdir, squad.id).startswith("PlantedFailure")
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert f"| {squad.id} | squad_v1 | 0 | PlantedFailure" in report
    assert os.path.exists(os.path.join(workdir, "report", "failed.csv"))

    monkeypatch.delenv(faults.FAIL_ENV)
    again = run_study(config, workdir, out=lambda *_: None)
    assert again["failed"] == {} and again["blocked"] == []
    assert failed_error(workdir, squad.id) is None
    assert load_failures(workdir) == []
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "PlantedFailure" not in report and "failed.csv" not in report
