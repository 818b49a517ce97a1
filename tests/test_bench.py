"""The benchmark scripts run and end with their JSON line (numbers are not judged here)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test runs a benchmark script as a subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_train_step_bench_reports_both_frameworks():
    command = [sys.executable, "-m", "bench.train_step", "--size", "tiny", "--batch", "4",
               "--seq-len", "16", "--steps", "1", "--warmup", "1", "--compare-torch"]  # fmt: skip
    env = {**os.environ, "XLA_FLAGS": ""}  # the bench runs on the plain devices
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"jax_tokens_per_s", "torch_tokens_per_s", "device", "mfu"} <= set(result)
    assert result["jax_tokens_per_s"] > 0 and result["torch_tokens_per_s"] > 0


def _last_json_line(command):
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_report_speed_bench_generates_a_study_and_times_its_report(tmp_path):
    command = [sys.executable, "-m", "bench.report_speed", "--study", str(tmp_path / "study"),
               "--tasks", "2", "--scale", "0.005", "--n-boot", "20"]  # fmt: skip
    result = _last_json_line(command)
    assert result["paths"] == 5 and result["targets"] == 10 and result["seeds"] == 3
    assert result["report_s"] > 0 and result["examples_files"] > 0


def test_calibration_bench_prints_its_table(tmp_path):
    command = [sys.executable, "-m", "bench.calibration", "--replicates", "2", "--n-boot", "20",
               "--only", "one seed", "--root", str(tmp_path / "calibration")]  # fmt: skip
    result = _last_json_line(command)
    assert [s["scenario"] for s in result["scenarios"]] == ["one seed"]
    assert result["scenarios"][0]["warned"] == 2
