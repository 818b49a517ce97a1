"""Compile before you rent: every program of a study compiled for a target topology, its
memory per device against the device's, and a failure naming a program that does not fit.

The CPU target (`cpu-8`, the 8 emulated devices) runs everywhere, through the same
program enumeration, compilation and memory accounting as a TPU or GPU target; the
TPU variant runs where libtpu is installed (`pip install -e ".[compile]"`).
"""

import importlib.util
import os
import subprocess
import sys

import pytest

from train.study.plan.compile import (
    ProgramFailed,
    ProgramTooLarge,
    compile_study,
    read_compiled_costs,
    write_compiled,
)
from train.study.plan.plan import build_dag, load_config_file
from train.study.plan.programs import study_programs
from train.study.plan.roofline import StepCost
from train.study.plan.targets import GIB, parse_target
from xlmr_flax.data import sample_data_dir
from xlmr_flax.data.batching import TrainBatches
from xlmr_flax.data.cache import featurize
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quick_study():
    config = load_config_file(os.path.join(ROOT, "configs", "smoke.py")).get_config("quick")
    return config, build_dag(config)


@pytest.mark.parametrize(
    "name, chips, hosts, devices, shape",
    [
        ("v4-8", 4, 1, 4, (2, 2, 1)),
        ("v4-32", 16, 4, 16, (2, 2, 4)),
        ("v4-128", 64, 16, 64, (4, 4, 4)),
        ("v5litepod-16", 16, 4, 16, (4, 4)),
        ("v5e-8", 8, 1, 8, (2, 4)),
        ("v5p-32", 16, 4, 16, (2, 2, 4)),
        ("v6e-16", 16, 4, 16, (4, 4)),
    ],
)
def test_cloud_tpu_accelerator_types_name_their_chips_hosts_and_grid(
    name, chips, hosts, devices, shape
):
    target = parse_target(name)
    assert (target.chips, target.hosts, target.devices, target.shape) == (
        chips, hosts, devices, shape)  # fmt: skip
    assert target.device_memory and target.peak_flops and target.price_per_chip_hour


def test_gpu_hosts_and_unknown_names():
    target = parse_target("h100x8")
    assert (target.platform, target.devices, target.hosts) == ("cuda", 8, 1)
    with pytest.raises(ValueError, match="v4-N"):
        parse_target("tpu-32")
    with pytest.raises(ValueError, match="2 per chip"):
        parse_target("v4-3")


def test_the_study_has_one_program_per_distinct_train_step_and_eval_bucket():
    config, dag = quick_study()
    programs = study_programs(config, dag, 8)
    train = [p for p in programs if p.kind == "train"]
    # mnli, squad_v1 (xquad's training) and xnli's stage: three train steps for 9 stages.
    assert sorted(p.name for p in train) == ["train mnli 8x64", "train squad_v1 8x64",
                                             "train xnli 8x64"]  # fmt: skip
    assert sum(p.users for p in train) == len(dag.stages)
    evals = {p.name for p in programs if p.kind == "eval"}
    for kind in ("logits", "spans", "embedding"):  # xnli, xquad, tatoeba; buckets 32 and 64
        assert {f"eval {kind} 16x32", f"eval {kind} 16x64"} <= {n.split(" (")[0] for n in evals}


@pytest.mark.parametrize("name", ["mnli", "copa", "udpos", "squad_v1", "lareqa", "mlm"])
def test_each_format_declares_the_training_batch_the_trainer_draws(name):
    """Compile-only builds train steps from `Format.batch_shapes`; they must be the
    arrays a real batch of the bundled data has, for every format."""
    task = get_task(name)
    fmt = get_format(task.format)
    tokenizer = load_tokenizer(sample_tokenizer_path())
    features = featurize(task, "train", "en", sample_data_dir(), tokenizer, 64,
                         **fmt.feature_kwargs({}))  # fmt: skip
    masking = fmt.masking(tokenizer)
    batch = TrainBatches(features, 4, seed=0, max_length=64, masking=masking).batch(0)
    length = batch["input_ids"].shape[-1]
    declared = fmt.batch_shapes(4, length, fmt.choices(task, sample_data_dir()))
    assert {k: v.shape for k, v in batch.items()} == declared
    # Compile-only declares example weights as float32, everything else as int32.
    assert {k: str(v.dtype) for k, v in batch.items()} == {
        k: "float32" if k == "example_weight" else "int32" for k in declared
    }


@pytest.mark.slow  # nine compilations, about 30 s on two cores
def test_every_program_compiles_for_the_cpu_target_with_memory_and_flops():
    config, dag = quick_study()
    lines = []
    results = compile_study(config, dag, parse_target("cpu-8"), out=lines.append)
    assert len(results) == len(study_programs(config, dag, 8))
    for r in results:
        assert r.peak_bytes >= r.argument_bytes > 0 and r.flops > 0, r
    train = next(r for r in results if r.program.startswith("train"))
    first_eval = next(r for r in results if r.program.startswith("eval"))
    assert train.peak_bytes > first_eval.peak_bytes  # optimizer state and gradients
    assert lines[0].startswith("cpu-8: 8 chips") and '"programs": 9' in lines[-1]


def test_a_program_that_does_not_fit_fails_naming_it():
    config, dag = quick_study()
    with pytest.raises(ProgramTooLarge, match=r"program 'train mnli 8x64' needs .* GiB per device"):
        compile_study(config, dag, parse_target("cpu-8"), only="train mnli",
                      device_memory=GIB // 1024, out=lambda line: None)  # fmt: skip


def test_a_compiled_step_records_its_flops_and_one_devices_bytes_for_the_roofline(tmp_path):
    config, dag = quick_study()
    target = parse_target("cpu-8")
    (result,) = compile_study(config, dag, target, only="train mnli", out=lambda line: None)
    assert result.flops > 0 and result.bytes_accessed > 0
    path = str(tmp_path / "cpu-8.json")
    write_compiled(path, target, [result])
    devices, costs = read_compiled_costs(path)
    assert devices == 8
    assert costs == {result.program: StepCost(result.flops, result.bytes_accessed,
                                              "compiled for cpu-8", result.peak_bytes)}  # fmt: skip


def test_a_batch_that_does_not_divide_over_the_devices_fails_naming_its_program():
    path = os.path.join(ROOT, "configs", "xtreme_r_sequencing.py")
    config = load_config_file(path).get_config(
        "model=tiny,batch_size=4,tasks=mnli,order=1,targets=xnli,seeds=1"
    )
    with pytest.raises(ProgramFailed, match=r"program 'train mnli 4x64' does not compile"):
        compile_study(config, build_dag(config), parse_target("cpu-8"), only="train mnli",
                      out=lambda line: None)  # fmt: skip


@pytest.mark.skipif(importlib.util.find_spec("libtpu") is None, reason="libtpu not installed")
def test_the_train_step_compiles_for_a_tpu_slice_without_a_tpu():
    config, dag = quick_study()
    (result,) = compile_study(config, dag, parse_target("v4-8"), only="train xnli",
                              out=lambda line: None)  # fmt: skip
    assert 0 < result.peak_bytes < 32 * GIB and result.flops > 0


@pytest.mark.slow  # two processes that start JAX, about 20 s
def test_the_main_command_compiles_for_a_topology_and_needs_no_workdir():
    command = [sys.executable, "-m", "train", "--config", "configs/smoke.py:quick",
               "--compile-only", "--topology", "cpu-8", "--compile-filter", "train mnli"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train mnli 8x64" in done.stdout and '"programs": 1' in done.stdout
    bad = subprocess.run([*command[:6], "--topology", "v9-8"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": ROOT})  # fmt: skip
    assert bad.returncode != 0 and "topology 'v9-8'" in bad.stderr
