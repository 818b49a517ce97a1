"""An adaptive study's record (eval/stats/adaptive_study.py) on a synthetic study
(bench/simulation.py): the design is fixed before the first look, looks are recorded
once and never decided again, the next round asks only for what open comparisons
need; `python -m eval adaptive` and the report show the states."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from bench import simulation as sim
from eval.__main__ import main as eval_main
from eval.analysis import load_results, path_key, results_file
from eval.report import write_report
from eval.stats import adaptive, adaptive_seeds, adaptive_study

PAIR = sim.comparison_paths(0)
# No futility stop: PAN-X and TyDiQA stay open after the first look, so the rounds
# after it have runs to ask for.
DESIGN = adaptive.Design(looks=(3, 4, 5), delta=2.0, futility=0.0)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Five seeds; XNLI's order effect is large, PAN-X and TyDiQA have none."""
    root = str(tmp_path_factory.mktemp("adaptive"))
    scenario = sim.Scenario(
        "xnli effect", seeds=5, seed_sd=0.3, effect=lambda t, lang: 30.0 if t == "xnli" else 0.0
    )
    targets = {
        "xnli": (("en", "sw", "de"), 3000),
        "panx": (("en", "sw", "de"), 200),
        "tydiqa": (("en", "sw", "fi"), 150),
    }
    sim.write_study(root, scenario, np.random.default_rng(3), targets)
    return root, load_results(results_file(root))


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _planned(design=DESIGN):
    return adaptive_study.plan(design, PAIR, ["xnli", "panx", "tydiqa", "xquad"], [0, 1, 2, 3, 4])


def test_the_estimand_rests_on_targets_with_low_resource_languages():
    assert adaptive_study.estimand_targets(
        ["xquad", "mlqa", "lareqa", "mewslix", "xnli"], ["low"]
    ) == ["xnli"]
    assert _planned()["targets"] == ["xnli", "panx", "tydiqa"]
    with pytest.raises(adaptive.DesignError, match=r"^config\.study\.seeds: 2 seeds"):
        adaptive_study.plan(DESIGN, PAIR, ["xnli"], [0, 1])


def test_rounds_record_each_look_once_and_ask_only_for_open_comparisons(study, tmp_path):
    root, records = study
    workdir = str(tmp_path / "w")
    shutil.copytree(root, workdir)  # the examples files the records name
    adaptive_study.record_design(workdir, _planned())
    adaptive_study.record_design(workdir, _planned())  # the same design again: a no-op

    first_two = [r for r in records if r.seed < 2]
    state = adaptive_study.advance(workdir, first_two, n_boot=200)
    assert state.looks == [] and len(state.waiting) == 6  # seed 2 of both orders on 3 targets
    assert {s for _, _, s in state.next_runs} == {0, 1, 2}

    round_one = [r for r in records if r.seed < 3]
    state = adaptive_study.advance(workdir, round_one, n_boot=200)
    states = {r["target"]: r["state"] for r in state.rows}
    assert len(state.looks) == 1 and states["xnli"] == adaptive.POSITIVE
    assert (
        {t for _, t, _ in state.next_runs}
        == {t for t, s in states.items() if s == adaptive.OPEN}
        != set()
    )
    assert {s for _, _, s in state.next_runs} <= {3}

    path = os.path.join(workdir, "adaptive", "looks.jsonl")
    recorded = _read(path)
    again = adaptive_study.advance(workdir, records, n_boot=50)  # other draws: old looks stay
    assert _read(path).startswith(recorded)
    assert again.looks[0] == state.looks[0]
    assert again.finished and len(again.looks) <= 3
    recorded_all = _read(path)

    # A run stopped while appending leaves a last line cut short: a look not recorded.
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"look": 3, "finger')
    assert len(adaptive_study.read_looks(workdir, _planned()["fingerprint"])) == len(again.looks)
    ninth = {"look": 9, "fingerprint": _planned()["fingerprint"]}
    adaptive_study._append_look(workdir, ninth)
    assert _read(path) == recorded_all + json.dumps(ninth) + "\n"

    with pytest.raises(adaptive_study.DesignChanged, match=r"design\.delta") as err:
        adaptive_study.record_design(workdir, _planned(adaptive.Design(looks=(3, 4, 5), delta=1.0)))
    assert "\n" not in str(err.value)


def test_no_look_is_recorded_after_every_comparison_stopped(study, tmp_path):
    root, records = study
    workdir = str(tmp_path / "w")
    shutil.copytree(root, workdir)
    stopping = adaptive.Design(looks=(3, 4, 5), delta=2.0, futility=1.0)
    adaptive_study.record_design(workdir, _planned(stopping))
    state = adaptive_study.advance(workdir, records, n_boot=200)
    assert state.finished and state.next_runs == []
    assert [look["look"] for look in state.looks] == [0]  # all stopped at the first


def test_the_command_prints_the_state_and_the_report_shows_it(study, tmp_path, capsys):
    root, _ = study
    workdir = str(tmp_path / "w")
    shutil.copytree(root, workdir)
    adaptive_study.record_design(workdir, _planned())
    assert eval_main(["adaptive", "--workdir", workdir, "--n-boot", "100"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["finished"] and printed["looks_recorded"] >= 1
    assert {c["state"] for c in printed["comparisons"]} <= set(adaptive.STOPPED)
    assert all(c["langs"] == "sw" for c in printed["comparisons"])
    write_report(workdir, n_boot=50)
    report = _read(os.path.join(workdir, "report", "report.md"))
    assert "## Adaptive design" in report and "on xnli, low | positive" in report
    assert os.path.exists(os.path.join(workdir, "report", "adaptive.png"))
    assert eval_main(["adaptive", "--workdir", str(tmp_path)]) == 1


def test_the_study_refuses_a_changed_design_before_anything_runs(tmp_path):
    from configs.smoke import get_config
    from train.study.plan.plan import ConfigError
    from train.study.run.rounds import design_values, run_adaptive_study

    config = get_config("adaptive")
    assert design_values(get_config()) is None and design_values(config)["looks"] == (3, 4, 5)
    workdir = str(tmp_path / "w")
    with pytest.raises(ConfigError, match="one process"):
        run_adaptive_study(config, workdir, (1, 2))
    planned = adaptive_study.plan(
        adaptive.Design.from_mapping(design_values(config)),
        [("mnli", "squad_v1"), ("squad_v1", "mnli")],
        list(config.study.targets),
        list(config.study.seeds),
    )
    adaptive_study.record_design(workdir, planned)
    config.design.delta = 1.0
    with pytest.raises(ConfigError, match=r"changes design\.delta;"):
        run_adaptive_study(config, workdir)
    assert os.listdir(workdir) == ["adaptive"]  # nothing trained
    config.design.mode = "sometimes"
    with pytest.raises(ConfigError, match=r"^config\.design\.mode: expected fixed or adaptive"):
        design_values(config)


def test_a_pilot_study_gives_each_targets_variances(study):
    from eval.stats.adaptive_pilot import pilot_study_variances

    root, _ = study
    measured = pilot_study_variances(root, ["low"])
    assert set(measured) == {"xnli", "panx", "tydiqa"}
    seed_var, shared_var = measured["xnli"]
    assert seed_var > 0 and 0 < shared_var < measured["tydiqa"][1]  # 3000 items vs 150


def test_a_replaced_seed_is_the_pairs_next_and_counts_against_the_budget():
    # Seed 1 failed: the look at three seeds analyses 0, 2, 3 and has spent four.
    assert adaptive_seeds.comparison_seeds([0, 1, 2, 3, 4], {1}, 3) == ([0, 2, 3], [0, 1, 2, 3])
    assert adaptive_seeds.comparison_seeds([0, 1, 2, 3, 4], set(), 3) == ([0, 1, 2], [0, 1, 2])
    # The last look's five seeds cannot be had from a budget of five with one failed.
    assert adaptive_seeds.comparison_seeds([0, 1, 2, 3, 4], {1}, 5) is None


def test_under_replace_a_failed_run_waits_for_a_later_seed_of_its_pair(study, tmp_path):
    root, records = study
    workdir = str(tmp_path / "w")
    shutil.copytree(root, workdir)
    adaptive_study.record_design(workdir, _planned())
    first = PAIR[0]
    # Seed 1 of the first order on PAN-X stays at chance (F1 0) in every language.
    planted = [
        dataclasses.replace(r, value=0.0)
        if (r.kind, r.path, r.target, r.seed) == ("zero_shot", tuple(first), "panx", 1)
        else r
        for r in records
    ]
    state = adaptive_study.advance(
        workdir, [r for r in planted if r.seed < 3], n_boot=50, rule="replace"
    )
    assert state.looks == []  # the first look waits for PAN-X's replacement, seed 3
    assert sorted(state.waiting) == sorted(f"{path_key(p)} panx seed 3" for p in PAIR)

    state = adaptive_study.advance(workdir, planted, n_boot=50, rule="replace")
    panx = [[r for r in look["comparisons"] if r["target"] == "panx"] for look in state.looks]
    assert [(r["seeds"], r["seeds_spent"]) for r in panx[0]] == [([0, 2, 3], 4)] * len(panx[0])
    assert [(r["seeds"], r["seeds_spent"]) for r in panx[1]] == [([0, 2, 3, 4], 5)] * len(panx[1])
    # The third look needs five seeds; the replacement spent the fifth: PAN-X stops there.
    assert len(state.looks) == 3 and panx[2]
    assert all(r["state"] == adaptive.BUDGET and r["out_of_seeds"] for r in panx[2])
    tydiqa = [r for r in state.looks[2]["comparisons"] if r["target"] == "tydiqa"]
    assert tydiqa and all(r["seeds"] == [0, 1, 2, 3, 4] for r in tydiqa)
    assert not any(r["failed_run"] for look in state.looks for r in look["comparisons"])


def test_under_keep_a_failed_run_is_analysed_and_kept_out_of_the_pool(study, tmp_path):
    root, records = study
    workdir = str(tmp_path / "w")
    shutil.copytree(root, workdir)
    adaptive_study.record_design(workdir, _planned())
    first = tuple(PAIR[0])
    planted = [
        dataclasses.replace(r, value=0.0)
        if (r.kind, r.path, r.target, r.seed) == ("zero_shot", first, "panx", 1)
        else r
        for r in records
        if r.seed < 3
    ]
    state = adaptive_study.advance(workdir, planted, n_boot=50)
    panx = [r for r in state.looks[0]["comparisons"] if r["target"] == "panx"]
    assert panx and all(r["seeds"] == [0, 1, 2] and r["seeds_spent"] == 3 for r in panx)
    assert all(r["failed_run"] and not r["pooled"] for r in panx)
