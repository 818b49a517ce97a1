"""Experiment configs become a stage plan; every config error is reported before training."""

import json
import os
import subprocess
import sys

import pytest

from train.study.plan.plan import ConfigError, build_dag, intermediate_paths, print_plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smoke_config():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "smoke", os.path.join(ROOT, "configs", "smoke.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def test_smoke_plan_counts(tmp_path):
    config = smoke_config()
    lines = []
    result = print_plan(config, build_dag(config), str(tmp_path), out=lines.append)
    assert result["paths"] == 5 and result["seeds"] == 2
    # Per seed: mnli, squad_v1, mnli→squad_v1, squad_v1→mnli, then 9 target stages per
    # path; two of those are the same training as intermediate stages and are shared:
    # XQuAD/MLQA's SQuAD stage on the baseline is the `squad_v1` stage, and on `mnli`
    # it is `mnli→squad_v1`.
    assert result["stage_runs_unique"] == 2 * (4 + 5 * 9 - 2)
    assert result["stage_runs_naive"] == 2 * (10 * 5 + 10 * (1 + 1 + 2 + 2))
    assert json.loads(lines[-1]) == result
    assert "missing training data" not in "\n".join(lines)


@pytest.mark.parametrize("change,message", [
    (lambda c: c.study.update(intermediate_tasks=("mnli", "nope")), "intermediate task 'nope' is unknown"),
    (lambda c: c.study.update(targets=("xnli", "mnli")), "target 'mnli' is not an XTREME-R target"),
    (lambda c: c.study.update(sequences=(("mnli",), ())), "empty sequence"),
    (lambda c: c.study.update(intermediate_tasks=("xquad",)), "intermediate task 'xquad' has no training data"),
    (lambda c: c.study.update(seeds=()), "must not be empty"),
])  # fmt: skip
def test_config_errors(change, message):
    config = smoke_config()
    change(config)
    with pytest.raises(ConfigError, match=message):
        build_dag(config)


def test_explicit_sequences_replace_orders():
    config = smoke_config()
    config.study.sequences = (("squad_v1", "mnli"),)
    assert intermediate_paths(config.study) == [(), ("squad_v1", "mnli")]


@pytest.mark.slow  # the main command as a subprocess
def test_dry_run_command_prints_the_plan_and_shards(tmp_path):
    def dry_run(*extra):
        command = [sys.executable, "-m", "train", "--config", "configs/smoke.py",
                   "--workdir", str(tmp_path), "--dry-run", *extra]  # fmt: skip
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    whole = json.loads(dry_run().strip().splitlines()[-1])
    assert whole["stage_runs_unique"] == whole["stages_pending"] == 94
    parts = [json.loads(dry_run("--shard", f"{i}/3").strip().splitlines()[-1]) for i in range(3)]
    assert sum(p["stages_in_shard"] for p in parts) == 94
    assert not (tmp_path / "stages").exists()  # a dry run writes nothing
