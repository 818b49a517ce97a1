"""The README's main command runs a study end to end on the bundled sample data."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the quick smoke study as a subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main_command(workdir, *extra):
    command = [sys.executable, "-m", "train", "--config", "configs/smoke.py:quick"]
    command += ["--workdir", str(workdir), *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_quick_smoke_study_trains_evaluates_reports_and_rerun_changes_nothing(tmp_path):
    workdir = tmp_path / "smoke"
    check = main_command(workdir, "--check-data")
    assert check.returncode == 0 and "every split the study needs" in check.stdout, check.stderr
    os.makedirs(tmp_path / "empty")
    check = main_command(workdir, "--check-data", f"--config.raw_data={tmp_path / 'empty'}")
    assert check.returncode == 2 and "mnli: no English training data" in check.stdout
    assert not workdir.exists()  # checking data writes nothing

    plan = main_command(workdir, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = json.loads(plan.stdout.strip().splitlines()[-1])
    assert counts["paths"] == 3 and counts["seeds"] == 1  # none, mnli>squad_v1, squad_v1>mnli

    first = main_command(workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    records = [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()]
    zero_shot = [r for r in records if r["kind"] == "zero_shot"]
    assert {tuple(r["path"]) for r in zero_shot} == {(), ("mnli", "squad_v1"), ("squad_v1", "mnli")}
    assert {r["target"] for r in zero_shot} == {"xnli", "xquad", "tatoeba"}
    assert {"sw", "zh", "ar"} <= {r["lang"] for r in zero_shot if r["target"] == "xnli"}
    assert {r["metric"] for r in zero_shot if r["target"] == "xquad"} == {"exact_match", "f1"}
    assert all(0.0 <= r["value"] <= 100.0 for r in records)
    assert "ordering effect" in first.stdout
    report = (workdir / "report" / "report.md").read_text()
    assert "### mnli → squad_v1 vs squad_v1 → mnli" in report  # the ordering effect

    second = main_command(workdir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "training" not in second.stdout  # every stage and unit was already done
    assert [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()] == records
