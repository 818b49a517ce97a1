"""Steps that fit the chips: the planner's least micro-batches per train step (from the
compiled peaks where `--compile-only` recorded them, from its estimate otherwise), the
layouts it recommends (only those `--executor ray` runs and the cluster file supplies),
and the hparams keys that reach the trainer."""

import dataclasses
import json
import os

import pytest

from train.hparams import AUTO, HparamsError, stage_settings
from train.stage import check_micro_batches
from train.study.layout import compiled_file
from train.study.plan.compile import compile_study, read_record, write_compiled
from train.study.plan.cost import recommended, study_cost
from train.study.plan.fit import micro_batch_options, program_fit, study_fits
from train.study.plan.plan import ConfigError, build_dag, load_config_file, run_options
from train.study.plan.programs import Program, train_programs
from train.study.plan.roofline import train_memory_per_device
from train.study.plan.targets import GIB, parse_target
from train.study.plan.timing import LAYOUTS, cluster_refusal, ray_refusal
from train.study.run.resources import stage_shape
from train.study.run.runner import ExecutorOptions, fit_to_chips, run_study
from xlmr_flax import get_model_config
from xlmr_flax.sharding import make_mesh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LARGE = get_model_config("large")
CAPACITY = 32 * GIB  # one v4 chip
SHAPE = "train commonsenseqa 32x5x256"


def commonsenseqa(micro_batches=AUTO) -> Program:
    """XLM-R Large's largest train step: 32 rows x 5 choices x 256 tokens."""
    return Program(SHAPE, "train", 1, 32 * 5 * 256, build=None, micro_batches=micro_batches,
                   shape=SHAPE, rows=32, length=256)  # fmt: skip


def estimate(k: int, devices: int = 1) -> float:
    return train_memory_per_device(LARGE, 32 * 5 * 256, 256, devices, k)


def study(arg):
    config = load_config_file(os.path.join(ROOT, "configs", "xtreme_r_sequencing.py"))
    config = config.get_config(arg)
    return config, build_dag(config)


def test_micro_batches_split_the_batch_evenly_over_the_data_parallel_devices():
    assert micro_batch_options(32, 1) == [1, 2, 4, 8, 16, 32]
    assert micro_batch_options(32, 4) == [1, 2, 4, 8]
    assert micro_batch_options(6, 4) == []


def test_the_least_count_whose_estimate_fits_is_chosen():
    fit = program_fit(LARGE, commonsenseqa(), 1, CAPACITY)
    assert estimate(2) > CAPACITY >= estimate(4)
    assert (fit.micro_batches, fit.how, fit.need_bytes) == (4, "estimated", estimate(4))
    # One v4 host's four chips each hold 8 rows: the whole step fits at once.
    assert program_fit(LARGE, commonsenseqa(), 4, CAPACITY).micro_batches == 1
    # A chip of unknown memory (CPU) takes every step whole.
    assert program_fit(LARGE, commonsenseqa(), 1, None).micro_batches == 1


def test_the_estimate_bounds_the_compiled_peaks_it_was_calibrated_on():
    # libtpu, XLM-R Large on a v4-8 (four chips, eight rows each): XNLI 13.23 GiB,
    # CommonsenseQA 21.68 GiB per chip (docs/tpu.md, "Memory").
    xnli = train_memory_per_device(LARGE, 32 * 256, 256, 4)
    assert 13.23 * GIB <= xnli < 1.01 * 13.23 * GIB
    assert 21.68 * GIB <= estimate(1, devices=4) < 1.15 * 21.68 * GIB


def test_compiled_memory_overrides_the_estimate():
    program = commonsenseqa()
    # Compiled in two micro-batches at 30 GiB (the estimate says 40): two it is.
    fit = program_fit(LARGE, program, 1, CAPACITY, {(SHAPE, 2): 30 * GIB})
    assert (fit.micro_batches, fit.how, fit.need_bytes) == (2, "compiled", 30 * GIB)
    # The compiler refused four (no peak): the next count, by the estimate.
    fit = program_fit(LARGE, program, 1, CAPACITY, {(SHAPE, 4): None})
    assert (fit.micro_batches, fit.how) == (8, "estimated")
    # Four compiled over the chip: counts near it are read from its peak (calibrated).
    over = {(SHAPE, 4): 40 * GIB}
    fit = program_fit(LARGE, program, 1, CAPACITY, over)
    assert (fit.micro_batches, fit.how) == (16, "calibrated")
    assert fit.need_bytes == pytest.approx(40 * GIB + estimate(16) - estimate(4))
    # Another program's records say nothing about this one.
    other = {("train hellaswag 32x4x256", 4): None}
    assert program_fit(LARGE, program, 1, CAPACITY, other).micro_batches == 4


def test_a_count_the_config_names_is_checked_not_chosen():
    fit = program_fit(LARGE, commonsenseqa(micro_batches=1), 1, CAPACITY)
    assert fit.micro_batches is None and fit.need_bytes == estimate(1) > CAPACITY
    assert program_fit(LARGE, commonsenseqa(micro_batches=8), 1, CAPACITY).micro_batches == 8


@pytest.mark.parametrize("name", ["v4-8", "v4-32", "v5litepod-16", "v5p-32", "v6e-16"])
def test_the_planner_and_the_ray_executor_agree_on_which_layouts_run(name):
    target = parse_target(name)
    for layout in LAYOUTS:
        runs = stage_shape(layout, target).tasks == 1  # what check_shape accepts
        assert (ray_refusal(target, layout) == "") == runs, (name, layout)


def test_the_dry_run_recommends_the_cheapest_layout_the_executor_runs_in_the_counts_that_fit():
    config, dag = study("tasks=commonsenseqa,order=1,targets=xnli,seeds=1")
    result = study_cost(config, dag, ["v4-32", "v5litepod-16"])
    for rows in result["costs"].values():
        best = recommended(rows)
        runnable = [c for c in rows if not c.refused and not c.note.startswith("does not fit")]
        assert best is min(runnable, key=lambda c: c.chip_hours) and not best.refused
        assert next(c for c in rows if c.layout == "slice").refused  # across hosts
    v4 = {c.layout: c for c in result["costs"]["v4-32"]}
    assert v4["chip"].micro_batches == "commonsenseqa 4" and v4["host"].micro_batches == ""


def test_a_layout_the_cluster_file_cannot_supply_is_refused():
    offered = ["v4-8", "v6e-8"]  # single hosts only
    v4_32, v5e = parse_target("v4-32"), parse_target("v5litepod-16")
    assert cluster_refusal(v4_32, "chip", offered) == cluster_refusal(v4_32, "host", offered) == ""
    assert "offers no node for it (offers v4-8, v6e-8)" in cluster_refusal(v4_32, "slice", offered)
    assert all(cluster_refusal(v5e, layout, offered) for layout in LAYOUTS)
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    result = study_cost(config, dag, ["v5litepod-16"], cluster=offered)
    assert all(c.refused for c in result["costs"]["v5litepod-16"])


def test_a_run_on_a_cluster_is_refused_in_one_line_before_anything_trains(tmp_path):
    config, _ = study("model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1")
    executor = ExecutorOptions("ray", address="auto", layout="host", topology="v5p-32")
    with pytest.raises(ConfigError, match=r"^--layout host --topology v5p-32: the cluster file "
                                          r"offers no node for it \(offers v4-8"):  # fmt: skip
        run_study(config, str(tmp_path / "w"), executor=executor)
    assert not os.path.exists(tmp_path / "w")


def test_the_run_trains_each_task_in_the_planners_counts_unless_the_config_names_one(tmp_path):
    config, dag = study("tasks=commonsenseqa,mnli,order=1,targets=xnli,seeds=1")
    config.hparams.mnli.micro_batches = 2  # named: kept
    config.lock()
    lines = []
    executor = ExecutorOptions("ray", layout="chip", topology="v4-8")
    fit_to_chips(config, dag, str(tmp_path), executor, 1, lines.append)
    assert run_options(config, "commonsenseqa").micro_batches == 4
    assert run_options(config, "mnli").micro_batches == 2
    assert run_options(config, "xnli").micro_batches == 1
    assert lines == ["micro-batches on 1 chip(s) of v4-8: commonsenseqa 4, mnli 2"]
    # Compiled peaks in the workdir take precedence over the estimate.
    program = next(p for p in train_programs(config, dag) if p.shape.startswith(SHAPE))
    path = compiled_file(str(tmp_path), "v4-2")
    os.makedirs(os.path.dirname(path))
    refused = {"program": f"{SHAPE} in 4 micro-batches", "shape": SHAPE, "micro_batches": 4,
               "fits": False}  # fmt: skip
    with open(path, "w") as f:
        json.dump({"topology": "v4-8", "devices": 1, "programs": [refused]}, f)
    with config.unlocked():
        config.hparams.commonsenseqa.micro_batches = AUTO
    fit_to_chips(config, dag, str(tmp_path), executor, 1, lines.append)
    assert run_options(config, "commonsenseqa").micro_batches == 8
    assert study_fits(config, dag, 1, None)[program.shape][1].micro_batches == 8  # now named


def test_a_step_that_fits_at_no_count_stops_the_run_before_it_trains(tmp_path):
    config, dag = study("tasks=commonsenseqa,order=1,targets=xnli,seeds=1")
    config.hparams.commonsenseqa.micro_batches = 1
    executor = ExecutorOptions("ray", layout="chip", topology="v4-8")
    with pytest.raises(ConfigError, match=r"--layout chip --topology v4-8: does not fit: "
                                          r"train commonsenseqa 32x5x256 needs estimated"):  # fmt: skip
        fit_to_chips(config, dag, str(tmp_path), executor, 1, print)


@pytest.mark.parametrize(
    "key, value, error",
    [
        ("micro_batches", "four", r"micro_batches: expected an integer >= 1, or 0 for the "),
        ("micro_batches", -1, r"micro_batches: expected an integer >= 1, or 0 .*, got -1"),
        ("micro_batches", 3, r"micro_batches: 3 does not divide the batch of 32"),
        ("remat", "dots", r"remat: expected \"\" or a policy of jax.checkpoint_policies"),
    ],
)
def test_bad_accumulation_and_remat_settings_name_their_key(key, value, error):
    values = dict(learning_rate=1e-5, steps=10, batch_size=32, max_length=256, **{key: value})
    sources = {k: "config.hparams.default" for k in values} | {key: "config.hparams.mnli"}
    with pytest.raises(HparamsError, match=f"config.hparams.mnli.{error}"):
        stage_settings(values, sources, "mnli", mixture=False)
    values[key] = {"micro_batches": 4, "remat": "nothing_saveable"}[key]
    hp, run = stage_settings(values, sources, "mnli", mixture=False)
    assert dataclasses.asdict(run)[key] == values[key] and "micro_batches" not in hp.identity()


def test_micro_batches_that_do_not_split_over_the_mesh_name_the_key():
    stage = dataclasses.make_dataclass("S", ["task", "hparams"])(
        "mnli", dataclasses.make_dataclass("H", ["batch_size"])(8)
    )
    mesh = make_mesh((8, 1, 1))
    check_micro_batches(stage, 1, mesh)
    with pytest.raises(ValueError, match=r"config.hparams.mnli.micro_batches: 2 micro-batches "
                                         r"of the batch of 8 do not split over 8 devices"):  # fmt: skip
        check_micro_batches(stage, 2, mesh)


def test_compile_only_narrowed_to_one_step_compiles_for_one_chip_in_the_planners_count(tmp_path):
    config = load_config_file(os.path.join(ROOT, "configs", "smoke.py")).get_config("quick")
    dag = build_dag(config)
    target = parse_target("cpu-8")
    path = str(tmp_path / "cpu-1.json")
    # An earlier compilation on this chip: the whole step refused for memory.
    refused = dict(program="train mnli 8x64", users=2, argument_bytes=0, output_bytes=0,
                   temp_bytes=0, peak_bytes=0, flops=None, seconds=1.0, shape="train mnli 8x64",
                   fits=False)  # fmt: skip
    with open(path, "w") as f:
        json.dump({"topology": "cpu-8", "devices": 1, "programs": [refused]}, f)
    lines = []
    (result,) = compile_study(config, dag, target, only="^train mnli ", layout="chip",
                              path=path, out=lines.append)  # fmt: skip
    assert "chip layout: 1 of its devices; mesh {'data': 1" in lines[0]
    assert result.program == "train mnli 8x64 in 2 micro-batches" and result.micro_batches == 2
    assert result.peak_bytes > 0 and '"devices": 1' in lines[-1]
    record = read_record(path, 1)
    assert set(record) == {"train mnli 8x64", "train mnli 8x64 in 2 micro-batches"}
    write_compiled(path, target, list(record.values()), 1)  # a record reads back as written
    assert read_record(path, 1) == record
