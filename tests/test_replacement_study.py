"""The rule `config.report.failed_runs = replace` end to end, in process: a run that
did not train is replaced by the next seed for both orders of its pair, the report
names it and analyses the replacement, and a second run of the same command trains
nothing more."""

import csv
import re

import pytest

from eval.analysis.records import load_results, results_file
from tests.study_config import get_config
from train.study.run import results
from train.study.run.replacements import run_replacing_failed_runs

AB, BA = ("mnli", "squad_v1"), ("squad_v1", "mnli")
PLANTED = 20.0  # an XNLI accuracy below chance (33.3) - 5: the run did not learn the task


def _pair_config():
    """Both orders of MNLI and SQuAD v1.1, the XNLI target, seed 0, two steps a stage."""
    config = get_config()
    config.study.sequences = (AB, BA)
    config.study.targets = ("xnli",)
    config.study.seeds = (0,)
    config.hparams.default.steps = 2
    config.report.failed_runs = "replace"
    config.report.n_boot = 50
    return config


def _plant_failure(monkeypatch):
    """Seed 0 of mnli > squad_v1 on XNLI degenerates: its evaluated scores are read back
    at PLANTED for every language, as a run stuck below chance would score. The tiny
    model sits near chance on every run by design (configs/smoke.py), so no margin tells
    a real degenerate run from the others deterministically; rewriting the scores the
    study reads keeps everything after the evaluation (check, results.jsonl, rule,
    rounds, report) the code under test. The smoke margin of -5 names only this run."""
    read = results.result_records

    def with_failed_run(config, dag, workdir):
        for r in read(config, dag, workdir):
            if (r.kind, r.path, r.target, r.seed) == ("zero_shot", AB, "xnli", 0):
                r = type(r)(**{**r.__dict__, "value": PLANTED})
            yield r

    monkeypatch.setattr(results, "result_records", with_failed_run)


@pytest.mark.slow  # trains twelve stages of the tiny model
def test_a_failed_run_is_replaced_for_both_orders_once(tmp_path, monkeypatch):
    _plant_failure(monkeypatch)
    workdir, lines = str(tmp_path / "study"), []
    run_replacing_failed_runs(_pair_config(), workdir, out=lines.append)
    trained = [x for x in lines if re.search(r"training \S+ \(seed", x)]
    # The replacement seed 1 is trained for both orders (and their XNLI target stages).
    for task in ("mnli", "squad_v1"):
        assert any(f"training {task} (seed 1)" in x for x in trained), task
    assert any("replacement round: 2 runs" in x for x in lines)

    records = load_results(results_file(workdir))
    runs = {(r.path, r.target, r.seed) for r in records if r.kind == "zero_shot"}
    assert runs == {(p, "xnli", s) for p in (AB, BA) for s in (0, 1)}
    failed = {(r.path, r.seed) for r in records if r.training_failed}
    assert failed == {(AB, 0)}

    report = tmp_path / "study" / "report"
    text = (report / "report.md").read_text()
    assert "**1 of 4 checked runs did not train**; they are replaced" in text
    assert "| mnli → squad_v1 | xnli | 0 | 20.0 |" in text
    # The ordering effects rest on the replacement seed of both orders, not on seed 0.
    with open(report / "ordering_effects.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {(r["target"], r["n_seeds"], r["seeds"]) for r in rows} == {("xnli", "1", "1")}

    again = []
    summary = run_replacing_failed_runs(_pair_config(), workdir, out=again.append)
    assert any("seeds 0, 1" in x for x in again if x.startswith("report: "))
    assert not any("seeds 0)" in x for x in again if x.startswith("report: "))
    # The study runs with its replacement seed from the first step: nothing is trained,
    # no note of a changed study, and no report or results.jsonl without the replacement.
    assert not [x for x in again if "differs" in x or "replacement round" in x]
    assert not [x for x in again if re.search(r"training \S+ \(seed", x)]
    assert summary["replacements"] == [(AB, "xnli", 1), (BA, "xnli", 1)]
    assert load_results(results_file(workdir)) == records
