"""Goodput as the held chips see it: the steps of a stage's final checkpoint lineage
count productive wherever they ran, a stage's wait for chips is not its waste, stages
weigh by their chips, and chips held idle lower the study's goodput."""

import json
import time

import pytest

from eval.report.runs import section_goodput
from train.loop import LoopClock, train_loop
from train.study import layout
from train.study.run import attempts
from train.study.run.attempts import (
    ENDED_DONE,
    ENDED_FAILED,
    Attempt,
    AttemptLog,
    StageAttempts,
    read_attempts,
)
from train.study.run.goodput import (
    HeldTime,
    final_lineage,
    stage_line,
    stage_times,
    study_goodput,
    study_line,
)
from train.study.run.held_chips import ChipSamples, ClusterChips


def finished_try(number, held_from, held_s, *, restored=0, steps=10, chips=1, **parts):
    """A try that trained from `restored` to `steps` and ended itself; its parts fill
    its held time (train: what is left)."""
    parts.setdefault("train", held_s - sum(parts.values()))
    attempt = Attempt(number, chips, held_from, held_from + held_s, ENDED_DONE)
    attempt.restored_step, attempt.step, attempt.trained = restored, steps, True
    attempt.parts.update(parts)
    return attempt


def killed_try(number, held_from, last_heard, *, restored, step, saves, chips=1):
    attempt = Attempt(number, chips, held_from, last_heard, restored_step=restored, step=step)
    attempt.saves = [list(s) for s in saves]
    return attempt


def test_a_resumed_try_makes_the_steps_its_checkpoint_kept_productive():
    # Try 1 trained 7 steps in 40 s (25 s of train steps up to its checkpoint at step
    # 5) and was lost; try 2 started 10 s later, resumed at step 5 and finished.
    first = killed_try(1, 0.0, 40.0, restored=0, step=7, saves=[(5, 25.0)])
    second = finished_try(2, 50.0, 30.0, restored=5, startup=2, restore=3, compile=4,
                          checkpoint=1, evaluation=5)  # fmt: skip
    times = stage_times(StageAttempts("s", "run", -5.0, [first, second]), "xnli")
    assert (times.preserved_steps, times.lost_steps, times.attempts) == (10, 2, 2)
    assert times.train == pytest.approx(25 + 15) and times.evaluation == 5
    assert times.lost == pytest.approx(40 - 25)  # the rest of try 1: never kept
    assert times.held_s == pytest.approx(70) and times.goodput == pytest.approx(45 / 70)
    assert (times.queue, times.between_tries) == (5.0, 10.0)  # waiting, not held
    assert "2 tries: 10 steps kept, 2 lost" in stage_line(times)

    # The same, but try 1's checkpoint never committed: try 2 restarted at step 0.
    restarted = finished_try(2, 50.0, 30.0, restored=0, compile=4)
    times = stage_times(StageAttempts("s", "run", 0.0, [first, restarted]), "xnli")
    assert (times.preserved_steps, times.lost_steps) == (10, 7)
    assert times.train == pytest.approx(26) and times.lost == pytest.approx(40)


def test_the_lineage_follows_checkpoints_back_through_several_tries():
    tries = [
        killed_try(1, 0, 10, restored=0, step=3, saves=[(2, 4.0)]),
        killed_try(2, 12, 30, restored=2, step=7, saves=[(4, 3.0), (6, 7.0)]),
        killed_try(3, 31, 35, restored=6, step=6, saves=[]),  # lost before a step
        finished_try(4, 40, 10, restored=6, steps=8),
    ]
    kept, restored = final_lineage(tries)
    assert kept == {3: (6, 8, 10.0), 1: (2, 6, 7.0), 0: (0, 2, 4.0)} and restored == 0
    # A lineage that starts from an earlier run's checkpoint keeps only this run's steps.
    resumed = [finished_try(1, 0, 10, restored=6, steps=8)]
    times = stage_times(StageAttempts("s", "run", 0.0, resumed), "xnli")
    assert (times.preserved_steps, times.restored_steps) == (2, 6)


def test_a_failed_last_try_keeps_its_steps_up_to_its_last_checkpoint():
    failed = finished_try(1, 0, 20, restored=0, steps=5, compile=2, train=15)
    failed.status, failed.trained, failed.saves = ENDED_FAILED, False, [[4, 12.0]]
    times = stage_times(StageAttempts("s", "run", 0.0, [failed]), "xnli")
    assert (times.preserved_steps, times.lost_steps) == (4, 1)
    assert (times.train, times.lost, times.compile) == (12.0, 3.0, 2.0)
    assert times.other == pytest.approx(3.0)  # held, timed by none of its parts


def test_waiting_in_the_queue_does_not_lower_a_stage_or_the_study():
    # Ten stages of 100 s of train steps, one chip each, on two chips kept busy: they
    # all could start at 0, and wait 0 to 400 s for a chip.
    tries = [finished_try(1, 100.0 * (k // 2), 100) for k in range(10)]
    stages = [
        stage_times(StageAttempts(f"s{k}", "run", 0.0, [t]), "xnli") for k, t in enumerate(tries)
    ]
    assert all(t.goodput == 1.0 for t in stages)
    assert sum(t.queue for t in stages) == 2 * (100 + 200 + 300 + 400)
    study = study_goodput(stages, HeldTime(2, 2 * 500.0, 0.0, 500.0), 510.0, "ray")["study"]
    assert study["goodput"] == 1.0 and study["chip_s"] == 1000.0
    assert study["waiting_s"]["queue"] == 2000.0 and study["parts"]["idle"] == 0.0


def test_stages_weigh_by_the_chips_they_hold():
    wide = finished_try(1, 0, 10, chips=4, evaluation=0, compile=5)  # 50 % on 4 chips
    narrow = finished_try(1, 0, 10, chips=1)  # 100 % on one chip
    stages = [stage_times(StageAttempts(n, "r", 0.0, [a]), "xnli")
              for n, a in (("wide", wide), ("narrow", narrow))]  # fmt: skip
    assert [(t.chips, t.chip_s) for t in stages] == [(4, 40.0), (1, 10.0)]
    study = study_goodput(stages, HeldTime(), 10.0, "ray")["study"]
    assert study["goodput"] == pytest.approx((20 + 10) / 50)  # not the mean, 75 %
    entry = study_goodput(stages, HeldTime(), 10.0, "ray")["stages"][0]
    assert {"preserved_steps": 10, "chips": 4, "chip_s": 40.0}.items() <= entry.items()


def test_chips_held_idle_lower_the_study_goodput():
    busy = stage_times(StageAttempts("s", "r", 0.0, [finished_try(1, 0, 10)]), "xnli")
    samples = ChipSamples()
    for now, free in ((0.0, 8), (10.0, 7), (20.0, 8)):  # 8 chips, one busy for 10 s
        samples.add(now, 8, free)
    held = samples.held()
    assert (held.chips, held.chip_s, held.idle_chip_s, held.window_s) == (8, 160.0, 150.0, 20.0)
    study = study_goodput([busy], held, 25.0, "ray")
    assert study["study"]["goodput"] == pytest.approx(10 / 160)
    assert study["study"]["parts"]["idle"] == 150.0
    # Busy chips that no try's clock covers (a worker starting) are held, untracked.
    busier = ChipSamples()
    for now, free in ((0.0, 6), (20.0, 8)):
        busier.add(now, 8, free)
    assert study_goodput([busy], busier.held(), 20, "ray")["study"]["parts"]["untracked"] == 30.0
    # In process: the mesh's devices for the run's wall time, idle between stages.
    whole = study_goodput([busy], HeldTime(1, 40.0, None, 40.0), 40.0, "in-process")
    assert whole["study"]["goodput"] == 0.25 and whole["study"]["parts"]["idle"] == 30.0
    line = study_line(whole)
    assert "25% of 40.0 chip-seconds held (1 chips)" in line and "idle 30.0" in line
    lines = section_goodput(whole)
    assert "**25%**" in "\n".join(lines) and any(x.startswith("| idle") for x in lines)


def test_the_cluster_sampler_integrates_what_ray_reports():
    class Cluster:
        free = 8.0

        def cluster_resources(self):
            return {"TPU": 8.0, "CPU": 2.0}

        def available_resources(self):  # Ray leaves out a resource with none free
            return {"TPU": self.free} if self.free else {}

    now = [100.0]
    sampler, cluster = ClusterChips(every_s=3600, clock=lambda: now[0]), Cluster()
    sampler.start(cluster)
    cluster.free, now[0] = 0.0, 105.0
    sampler.sample()
    now[0] = 110.0
    sampler.stop()
    held = sampler.held()
    assert (held.chips, held.chip_s, held.idle_chip_s, held.window_s) == (8, 80.0, 40.0, 10.0)


def test_each_try_of_a_run_is_recorded_and_read_back(tmp_path):
    workdir = str(tmp_path)

    def train(log, first_step, last_step):
        clock = LoopClock(on_step=log.step, on_save=log.save)
        log.training(clock)
        train_loop(lambda s, b: (s, {"loss": 1.0}), 0, range(first_step, last_step),
                   first_step=first_step, final_step=6, save_every=2, clock=clock,
                   save=lambda s, n: None)  # fmt: skip
        log.training_ended(clock, clock.started, clock.ended, last_step == 6)

    first = AttemptLog(workdir, "s1", "run-1", chips=2, held_from=0.0, ready_at=-1.0)
    train(first, 0, 3)  # lost after step 3 (its checkpoint at step 2)
    first.close()  # its process gone: no more heartbeats
    again = AttemptLog(workdir, "s1", "run-1", chips=2, held_from=1e12, ready_at=5.0)
    train(again, 2, 6)
    record = again.end(ENDED_DONE)
    on_disk = read_attempts(workdir, "s1", "run-1")
    assert [a.attempt for a in on_disk.attempts] == [1, 2] and on_disk.ready_at == -1.0
    assert on_disk.attempts[0].saves[0][0] == 2 and on_disk.attempts[1].held_from < 1e12
    times = stage_times(record, "xnli")
    assert (times.preserved_steps, times.lost_steps, times.chips) == (6, 1, 2)
    assert read_attempts(workdir, "s1", "run-2") is None  # another run's tries
    other_run = AttemptLog(workdir, "s1", "run-2", chips=1, held_from=0, ready_at=0)
    other_run.close()
    assert other_run.current.attempt == 1
    with open(layout.stage_attempts(workdir, "s1"), encoding="utf-8") as f:
        assert json.load(f)["run"] == "run-2"


def test_a_try_that_makes_no_progress_is_still_heard_of(tmp_path, monkeypatch):
    # A try compiling for minutes writes nothing else; its heartbeat keeps `updated`
    # moving, so a try lost then is counted as held until then.
    monkeypatch.setattr(attempts, "HEARTBEAT_S", 0.01)
    log = AttemptLog(str(tmp_path), "s1", "run-1", chips=1, held_from=0.0, ready_at=0.0)
    written = log.current.updated
    for _ in range(500):
        if read_attempts(str(tmp_path), "s1", "run-1").attempts[0].updated > written:
            break
        time.sleep(0.01)
    log.close()
    assert read_attempts(str(tmp_path), "s1", "run-1").attempts[0].updated > written
