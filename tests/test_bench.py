"""The benchmark scripts run and end with their JSON line (numbers are not judged here)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_train_step_bench_reports_both_frameworks():
    command = [sys.executable, "bench/train_step.py", "--size", "tiny", "--batch", "4",
               "--seq-len", "16", "--steps", "1", "--warmup", "1", "--compare-torch"]  # fmt: skip
    env = {**os.environ, "XLA_FLAGS": ""}  # the bench runs on the plain devices
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"jax_tokens_per_s", "torch_tokens_per_s", "device", "mfu"} <= set(result)
    assert result["jax_tokens_per_s"] > 0 and result["torch_tokens_per_s"] > 0
