"""Experiment configs become a stage plan; every config error is reported before training."""

import json
import os
import subprocess
import sys

import pytest

from train.study.plan.config_file import load_config, split_overrides
from train.study.plan.plan import (
    ConfigError,
    build_dag,
    check_batches,
    intermediate_paths,
    print_plan,
    small_training_sets,
)

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
    lines, dag = [], build_dag(config)
    first = dag.in_order()[0].id
    result = print_plan(config, dag, lambda stage: stage == first, out=lines.append)
    assert result["paths"] == 5 and result["seeds"] == 2
    assert result["stages_done"] == 1 and result["stages_pending"] == len(dag.stages) - 1
    marked = [line for line in lines if line.endswith("[done]")]
    assert len(marked) == 1 and marked[0].endswith(f" {first} [done]")
    # Per seed: mnli, squad_v1, mnli→squad_v1, squad_v1→mnli, then 9 target stages per
    # path; two of those are the same training as intermediate stages and are shared:
    # XQuAD/MLQA's SQuAD stage on the baseline is the `squad_v1` stage, and on `mnli`
    # it is `mnli→squad_v1`.
    assert result["stage_runs_unique"] == 2 * (4 + 5 * 9 - 2)
    # Naively, Tatoeba trains its own SQuAD v1.1 stage on each of the 5 paths too.
    assert result["stage_runs_naive"] == 2 * (10 * 5 + 10 * (1 + 1 + 2 + 2) + 5)
    assert json.loads(lines[-1]) == result
    assert "missing training data" not in "\n".join(lines)


@pytest.mark.parametrize("change,message", [
    (lambda c: c.study.update(intermediate_tasks=("mnli", "xyz")), "intermediate task 'xyz' is unknown; known: anli, "),
    (lambda c: c.study.update(intermediate_tasks=("mnli", "squad_v")), "'squad_v' is unknown; did you mean 'squad_v2'"),
    (lambda c: c.study.update(targets=("xnli", "mnli")), "target 'mnli' is not an XTREME-R target"),
    (lambda c: c.study.update(sequences=(("mnli",), ())), "empty sequence"),
    (lambda c: c.study.update(intermediate_tasks=("xquad",)), "intermediate task 'xquad' has no training data"),
    (lambda c: c.study.update(seeds=()), "must not be empty"),
    (lambda c: c.report.update(primary_class="lowest"), r"^config\.report\.primary_class: 'lowest' is not a resource class; expected one of low, mid, high, all"),
])  # fmt: skip
def test_config_errors(change, message):
    config = smoke_config()
    change(config)
    with pytest.raises(ConfigError, match=message):
        build_dag(config)


def test_a_batch_the_data_parallel_devices_do_not_divide_is_named():
    config = smoke_config()
    config.hparams.default.batch_size = 2
    dag = build_dag(config)
    message = r"^config.hparams.default.batch_size=2: does not split over the 8 data-parallel"
    with pytest.raises(ConfigError, match=message + r" devices \(config.mesh \(-1, 1, 1\) on 8"):
        check_batches(config, dag, devices=8)
    check_batches(config, dag, devices=2)  # 2 over 2 devices
    config.mesh = (2, 1, 4)  # data 2 x fsdp 1: batch 2 splits
    check_batches(config, dag, devices=8)
    config.hparams.default.batch_size, config.mesh = 8, (-1, 1, 4)
    config.hparams["mnli"] = dict(batch_size=6)
    with pytest.raises(ConfigError, match=r"^config.hparams.mnli.batch_size=6: .* multiple of 4"):
        check_batches(config, build_dag(config), devices=16)
    config.mesh = (3, 1, 1)
    with pytest.raises(ConfigError, match=r"config.mesh: mesh sizes \[3, 1, 1\] use 3 of 8"):
        check_batches(config, dag, devices=8)


def test_the_dry_run_makes_the_checks_the_run_makes_before_training(tmp_path):
    from train.study.run.runner import check_before_training
    from train.study.run.workdir import WorkdirError

    config = smoke_config()
    workdir = tmp_path / "run"
    config.hparams.default.batch_size = 2
    with pytest.raises(ConfigError, match=r"^config.hparams.default.batch_size=2: does not split"):
        check_before_training(config, build_dag(config), str(workdir), devices=8)
    config.hparams.default.batch_size = 8
    dag = build_dag(config)
    assert check_before_training(config, dag, str(workdir), devices=8) == []
    assert not workdir.exists()  # writes nothing
    config.raw_data = str(tmp_path / "raw")  # a planning machine without the data: a note
    (note,) = check_before_training(config, dag, str(workdir), devices=8)
    assert note.startswith(f"config.raw_data {tmp_path / 'raw'}: no such folder")
    (tmp_path / "raw").mkdir()  # a folder without the study's files: the run's data check
    with pytest.raises(ConfigError, match="cannot run this study"):
        check_before_training(config, dag, str(workdir), devices=8)
    (workdir / "stages").mkdir(parents=True)  # a workdir of id scheme 1
    with pytest.raises(WorkdirError, match="holds results of id scheme 1"):
        check_before_training(smoke_config(), dag, str(workdir), devices=8)
    (workdir / "stages").rmdir()
    workdir.rmdir()
    workdir.write_text("")
    with pytest.raises(WorkdirError, match="is a file, expected a folder"):
        check_before_training(smoke_config(), dag, str(workdir), devices=8)


def test_a_training_set_smaller_than_one_batch_is_named():
    config = smoke_config()
    dag = build_dag(config)
    assert small_training_sets(config, dag, {"mnli": 8, "squad_v1": 100}) == []
    problems = small_training_sets(config, dag, {"mnli": 6, "squad_v1": 100, "udpos": 3})
    assert problems == [
        "mnli train: 6 examples are fewer than one batch of 8 (config.hparams.default.batch_size)",
        "udpos train: 3 examples are fewer than one batch of 8 (config.hparams.default.batch_size)",
    ]


def test_config_file_and_overrides_answer_in_one_line():
    smoke = os.path.join(ROOT, "configs", "smoke.py")
    with pytest.raises(ConfigError, match=r"unknown key 'quikc'; did you mean 'quick'\?$"):
        load_config(f"{smoke}:quikc")
    with pytest.raises(
        ConfigError, match=r"^--config.seedz: unknown key 'seedz'; did you mean 'seed'"
    ):
        load_config(smoke, [("seedz", "3")])
    with pytest.raises(
        ConfigError, match=r"^--config.hparams.default.stepz: .* did you mean 'steps'"
    ):
        load_config(smoke, [("hparams.default.stepz", "3")])
    with pytest.raises(ConfigError, match=r"^--config.seed=three: expected a int value$"):
        load_config(smoke, [("seed", "three")])
    with pytest.raises(
        ConfigError, match=r"^--config.seed: a value of type int, it has no key 'x'$"
    ):
        load_config(smoke, [("seed.x", "1")])
    with pytest.raises(ConfigError, match=r"^--config.seed=1.5: expected a int value, got a float"):
        load_config(smoke, [("seed", "1.5")])
    with pytest.raises(ConfigError, match=r"no config file 'configs/nope\.py'"):
        load_config("configs/nope.py")
    config = load_config(
        f"{smoke}:quick",
        [("seed", "3"), ("study.targets", "xnli,xquad"), ("hparams.default.learning_rate", "1"),
         ("study.include_baseline", "no"), ("study.seeds", "(4, 5)"), ("raw_data", "/d")],
    )  # fmt: skip
    assert config.seed == 3 and config.study.targets == ("xnli", "xquad")
    assert config.hparams.default.learning_rate == 1.0
    assert type(config.hparams.default.learning_rate) is float
    assert config.study.include_baseline is False and config.study.seeds == (4, 5)
    assert config.raw_data == "/d" and config.study.orders == (2,)  # the argument still applies
    # Another size brings the model table's eval layer, unless the layer is given too.
    assert load_config(f"{smoke}:quick", [("model", "small")]).eval.layer == 4
    given = load_config(f"{smoke}:quick", [("model", "small"), ("eval.layer", "2")])
    assert given.eval.layer == 2
    with pytest.raises(ConfigError, match=r"^--config.model=smal: unknown size; did you mean"):
        load_config(smoke, [("model", "smal")])
    argv = ["train", "--config.seed=3", "--dry-run", "--config.raw_data", "/d", "--config", "c"]
    assert split_overrides(argv) == (
        ["train", "--dry-run", "--config", "c"],
        [("seed", "3"), ("raw_data", "/d")],
    )
    with pytest.raises(ConfigError, match=r"--config\.seed: no value"):
        split_overrides(["train", "--config.seed"])


@pytest.mark.slow  # the main command as subprocesses
def test_main_command_answers_mistakes_in_one_line(tmp_path):
    def run(*args):
        command = [sys.executable, "-m", "train", "--workdir", str(tmp_path / "w"), *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    for args, message in [
        (["--config", "configs/smoke.py:quikc", "--dry-run"], "did you mean 'quick'?"),
        (["--config", "configs/smoke.py", "--config.seedz=3"], "did you mean 'seed'?"),
        (["--config", "configs/smoke.py:quick", "--config.hparams.default.batch_size=2"],
         "config.hparams.default.batch_size=2: does not split over the 8 data-parallel"),
    ]:  # fmt: skip
        done = run(*args)
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "w" / "stages").exists()


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


def test_the_data_check_names_a_training_file_smaller_than_one_batch():
    from train.study.run.data_check import needed_rows

    config = smoke_config()
    config.hparams.default.batch_size = 4096
    _, problems = needed_rows(config, build_dag(config))
    small = {p.split()[0]: p for p in problems if "fewer than one batch of 4096" in p}
    assert {"mnli", "copa", "siqa"} <= set(small)
    # QA examples give several windows each: the batcher counts those, not the plan.
    assert not {"squad_v1", "tydiqa"} & set(small)
    for line in small.values():
        assert "(config.hparams.default.batch_size) in " in line
        assert os.path.isfile(line.rsplit(" in ", 1)[1]), line
