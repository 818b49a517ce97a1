"""Runs that did not train: found from the English score, written on their records
only, named by the log, the report and its JSON, handled by the rule fixed in advance,
and counted per path and per ordered pair with an exact test."""

import json
import logging

import ml_collections
import numpy as np
import pytest

from bench import simulation as sim
from eval import __main__ as cli
from eval.analysis import parse_results
from eval.analysis.records import Record, record_line
from eval.analysis.trained import (
    REPLACE,
    apply_rule,
    exact_order_test,
    failed_runs,
    failure_rates,
)
from train.study.plan.plan import ConfigError, check_report_keys
from train.study.run.replacements import replacement_plan
from train.study.run.results import checked_records

AB, BA = ("mnli", "squad_v1"), ("squad_v1", "mnli")


def _run(path, target, seed, value, lang="en"):
    return Record("zero_shot", path, target, lang, seed, "accuracy", value, stage="s")


def _study(failed=((AB, "xnli", 0),)):
    """XNLI and PAN-X scores of both orders on three seeds; `failed` runs at chance."""
    records = []
    for path in (AB, BA):
        for target, score, chance in (("xnli", 55.0, 33.4), ("panx", 70.0, 0.5)):
            for seed in range(3):
                value = chance if (path, target, seed) in failed else score + seed
                metric = "accuracy" if target == "xnli" else "f1"
                for lang in ("en", "sw"):
                    records.append(
                        Record("zero_shot", path, target, lang, seed, metric, value, stage="s")
                    )
    return records


def test_a_run_at_chance_is_named_and_the_others_are_not():
    found = failed_runs(_study(), margin=5.0)
    assert [(f.path, f.target, f.seed) for f in found] == [(AB, "xnli", 0)]
    assert "33.4" in found[0].reason and found[0].chance == pytest.approx(100 / 3)
    assert failed_runs(_study(), margin=-5.0) == []  # the smoke config's margin


def test_only_a_failed_runs_lines_change_in_results_jsonl():
    trained = _run(AB, "xnli", 1, 56.0)
    line = record_line(trained)
    assert "training_failed" not in line  # the bytes of a run that trained are as before
    flagged = record_line(Record(**{**trained.__dict__, "training_failed": "at chance"}))
    assert json.loads(flagged)["training_failed"] == "at chance"
    assert flagged.startswith(line[:-1])
    assert parse_results([flagged])[0].training_failed == "at chance"


def test_the_pipeline_writes_the_reason_with_the_loss_and_logs_the_run(tmp_path, caplog):
    stage = tmp_path / "stages" / "s"
    stage.mkdir(parents=True)
    losses = [1.10, 1.11, 1.09, 1.10]
    (stage / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i + 1, "loss": v}) + "\n" for i, v in enumerate(losses))
    )
    config = ml_collections.ConfigDict(dict(report=dict(failure_margin=5.0)))
    records = _study()
    with caplog.at_level(logging.WARNING):
        checked = checked_records(config, str(tmp_path), records)
    flagged = [r for r in checked if r.training_failed]
    assert {(r.path, r.target, r.seed) for r in flagged} == {(AB, "xnli", 0)}
    assert len(flagged) == 2  # every language of the run
    assert "training loss 1.1 → 1.1 over 4 steps" in flagged[0].training_failed
    assert "mnli>squad_v1 on xnli, seed 0" in caplog.text
    unflagged = [r for r in checked if not r.training_failed]
    assert unflagged == [r for r in records if (r.path, r.target, r.seed) != (AB, "xnli", 0)]


def test_replace_drops_the_seed_of_both_orders_and_the_replacement_takes_its_number():
    records = _study() + [_run(p, "xnli", 3, 57.0) for p in (AB, BA)]
    records += [_run(p, "xnli", 3, 57.0, "sw") for p in (AB, BA)]
    kept = apply_rule(records, failed_runs(records), REPLACE)
    xnli = {(r.path, r.seed, r.value) for r in kept if r.target == "xnli"}
    assert {s for _, s, _ in xnli} == {0, 1, 2}
    assert (AB, 0, 57.0) in xnli and (BA, 0, 57.0) in xnli  # seed 3 in seed 0's place
    assert all(r.seed in (0, 1, 2) for r in kept if r.target == "panx")
    assert apply_rule(records, failed_runs(records), "keep") == records


def test_a_study_asks_for_the_next_seed_of_every_order_of_the_pair():
    config = ml_collections.ConfigDict(
        dict(
            study=dict(
                intermediate_tasks=("mnli", "squad_v1"), orders=(2,), seeds=(0, 1, 2),
                include_baseline=False,
            ),
            report=dict(failed_runs="replace", failure_margin=5.0),
        )
    )  # fmt: skip
    records = _study(failed=((AB, "xnli", 0), (BA, "xnli", 2)))
    assert replacement_plan(config, records) == [
        (AB, "xnli", 3), (AB, "xnli", 4), (BA, "xnli", 3), (BA, "xnli", 4),
    ]  # fmt: skip


def test_the_rule_is_checked_before_anything_trains():
    for key, value in (("failed_runs", "drop"), ("failure_margin", "five")):
        config = ml_collections.ConfigDict(dict(report={key: value}))
        with pytest.raises(ConfigError, match=rf"config\.report\.{key}"):
            check_report_keys(config)


def test_failure_rates_pair_the_orders_by_target_and_seed():
    failed = ((AB, "xnli", 0), (AB, "xnli", 1), (AB, "panx", 2), (BA, "panx", 2))
    records = _study(failed=failed)
    rates = failure_rates(records, failed_runs(records))
    assert {tuple(r["path"]): r["failed"] for r in rates["paths"]} == {AB: 3, BA: 1}
    overall = next(r for r in rates["pairs"] if r["target"] == "all targets")
    assert (overall["first_only"], overall["second_only"], overall["paired_runs"]) == (2, 0, 6)
    assert overall["p_value"] == pytest.approx(0.5)  # two discordant seeds: 2 × 1/4
    assert exact_order_test(6, 0) == pytest.approx(2 / 64)
    assert exact_order_test(0, 0) == 1.0


def test_the_report_names_a_failed_run_in_its_section_and_json(tmp_path, capsys):
    scenario = sim.Scenario("failed", failed_run=(AB, "xnli", 0))
    sim.write_study(str(tmp_path), scenario, np.random.default_rng(1))
    assert (
        cli.main(["report", "--workdir", str(tmp_path), "--n-boot", "20", "--plots", "none"]) == 0
    )
    assert "did not train: mnli>squad_v1 on xnli, seed 0" in capsys.readouterr().out
    text = (tmp_path / "report" / "report.md").read_text()
    section = text[text.index("## Runs that did not train") :]
    assert "| mnli → squad_v1 | xnli | 0 |" in section
    assert "McNemar" in section
    assert (tmp_path / "report" / "untrained.csv").exists()
