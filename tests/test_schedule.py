"""The schedule a study runs to: list scheduling as Ray runs the stage DAG, against
today's static shards, on tiny DAGs whose makespan is known by hand; and the planner's
chip-hours are that schedule's."""

import json
import os

import pytest

from train.study.plan.cost import study_cost
from train.study.plan.dag import StageDag
from train.study.plan.plan import build_dag, load_config_file
from train.study.plan.schedule import (
    Job,
    critical_path_order,
    ray_schedule,
    shard_parts,
    stage_jobs,
    static_schedule,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_stage_starts_when_its_parent_is_done_and_a_group_is_free():
    # A(3) -> B(2), C(4) independent, two groups: A and C at 0, B at 3, done at 5.
    jobs = [Job("A", None, 3), Job("B", "A", 2), Job("C", None, 4)]
    schedule = ray_schedule(jobs, groups=2)
    assert schedule.starts == {"A": 0, "C": 0, "B": 3}
    assert schedule.makespan == 5 and schedule.busy == 9
    assert schedule.utilisation == pytest.approx(9 / 10)
    assert schedule.chip_hours(chips=8) == pytest.approx(5 * 8 / 3600)


def test_ready_stages_wait_in_the_order_they_became_ready_then_submitted():
    # One group: X, then Y (submitted before Z), then X's child W became ready at 1,
    # after Y and Z, which were ready at 0.
    jobs = [Job("X", None, 1), Job("W", "X", 1), Job("Y", None, 1), Job("Z", None, 1)]
    schedule = ray_schedule(jobs, groups=1)
    assert [j for j, _ in sorted(schedule.starts.items(), key=lambda kv: kv[1])] == [
        "X",
        "Y",
        "Z",
        "W",
    ]
    assert schedule.makespan == 4 and schedule.utilisation == 1.0


def test_a_chain_cannot_use_a_second_group():
    jobs = [Job("a", None, 1), Job("b", "a", 1), Job("c", "b", 1)]
    schedule = ray_schedule(jobs, groups=3)
    assert schedule.makespan == 3 and schedule.utilisation == pytest.approx(1 / 3)


def test_static_shards_hold_the_slice_until_the_longest_part_is_done():
    schedule = static_schedule([[4, 4], [1], [2]])
    assert schedule.makespan == 8 and schedule.busy == 11
    assert schedule.utilisation == pytest.approx(11 / 24)


def test_a_bad_group_count_or_a_cycle_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        ray_schedule([Job("a", None, 1)], groups=0)
    with pytest.raises(ValueError, match="never became ready"):
        ray_schedule([Job("a", "b", 1), Job("b", "a", 1)], groups=1)


def test_ray_beats_static_shards_on_subtrees_of_unequal_work():
    # Root children: one long subtree (10 + 10) and four short ones (1 + 1 each); two
    # groups. Static shards by stage count give the long one two short ones to run too.
    dag = StageDag("root")
    seconds = {}
    for task, (first, second) in {"mnli": (10, 10), "qqp": (1, 1), "sst2": (1, 1)}.items():
        for seed in (0,) if task == "mnli" else (0, 1):
            a = dag._add(dag.root, task, seed, {"steps": 1}, {})
            b = dag._add(a, "xnli", seed, {"steps": 1}, {})
            seconds[a], seconds[b] = first, second
    jobs = stage_jobs(dag, seconds)
    static = static_schedule(shard_parts(dag, seconds, 2))
    assert static.makespan == 24 and static.busy == 28  # 20 + two short subtrees of 2
    in_dag_order = ray_schedule(jobs, groups=2)  # the long chain is submitted last
    assert in_dag_order.makespan == 22
    longest_first = ray_schedule(critical_path_order(jobs), groups=2)
    assert longest_first.makespan == 20  # the chain at 0, the short ones beside it
    assert longest_first.utilisation == pytest.approx(28 / 40)


def test_the_critical_path_order_keeps_parents_before_children():
    jobs = [Job("r", None, 0), Job("a", "r", 1), Job("b", None, 5), Job("c", "a", 9)]
    order = [j.id for j in critical_path_order(jobs)]
    assert order == ["r", "a", "c", "b"]  # r's path is 10, a's 10, c's 9, b's 5


def test_the_planners_chip_hours_are_the_ray_schedules_makespan_times_every_chip():
    module = load_config_file(os.path.join(ROOT, "configs", "xtreme_r_sequencing.py"))
    config = module.get_config("tasks=mnli,squad_v2,order=2,targets=xnli,seeds=1")
    dag = build_dag(config)
    rows = {c.layout: c for c in study_cost(config, dag, ["v4-32"])["costs"]["v4-32"]}
    chip = rows["chip"]
    assert chip.parallel == 16 and chip.chips_per_stage == 1
    assert chip.chip_hours == pytest.approx(chip.hours * 16)
    assert chip.static_chip_hours >= chip.chip_hours  # whole subtrees per chip never win
    assert 0 < chip.static_utilisation <= chip.utilisation <= 1
    assert rows["slice"].utilisation == pytest.approx(1.0)  # one stage at a time, no gaps


def test_the_schedule_bench_compares_ray_and_static_shards_per_layout(capsys):
    from bench import schedule as bench

    spec = os.path.join(ROOT, "configs", "xtreme_r_sequencing.py") + ":tasks=mnli,targets=xnli"
    bench.main(["--config", spec, "--topology", "v4-32"])
    out = capsys.readouterr().out
    assert "| chip | 16 x 1 | static shards |" in out and "| host | 4 x 4 | ray, DAG order |" in out
    rows = {(r["layout"], r["executor"]): r for r in json.loads(out.splitlines()[-1])["rows"]}
    for layout in ("host", "chip"):
        ray, static = rows[layout, "ray, DAG order"], rows[layout, "static shards"]
        assert ray["chip_hours"] <= static["chip_hours"]
        assert ray["utilisation"] >= static["utilisation"]
