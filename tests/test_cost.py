"""The study's cost before it runs: examples, tokens, FLOPs, chip-hours, wall-clock and
list price per stage kind and execution layout, and the price table kept in the docs."""

import json
import os
import re

from train.study.layout import compiled_file
from train.study.plan.compile import write_compiled
from train.study.plan.cost import (
    DEFAULT_TOPOLOGIES,
    mfu_at,
    print_cost,
    study_cost,
    study_work,
    train_flops_per_token,
)
from train.study.plan.dag import hparams_dict
from train.study.plan.plan import build_dag, load_config_file
from train.study.plan.programs import train_programs
from train.study.plan.targets import LIST_PRICE, PRICES_AS_OF, parse_target
from xlmr_flax import get_model_config
from xlmr_flax.data import sample_data_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = sample_data_dir()


def study(arg):
    config = load_config_file(os.path.join(ROOT, "configs", "xtreme_r_sequencing.py"))
    config = config.get_config(arg)
    return config, build_dag(config)


def test_flops_per_token_of_xlmr_large_follow_six_n_plus_attention():
    large = get_model_config("large")
    non_embedding = 24 * (4 * 1024**2 + 2 * 1024 * 4096)  # about 302 million
    assert train_flops_per_token(large, 256) == 6 * non_embedding + 12 * 24 * 1024 * 256


def test_a_chip_fed_few_tokens_per_step_is_busy_in_proportion():
    assert mfu_at(8192, 0.4) == 0.4
    assert mfu_at(512, 0.4) == 0.4 * 512 / 4096


def test_each_stage_kind_counts_steps_times_batch_at_its_maximum_length():
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    result = study_cost(config, dag, ["v4-32"])
    kinds = {w.kind: w for w in result["kinds"]}
    mnli = hparams_dict(next(s for s in dag.in_order() if s.task == "mnli").hparams)
    assert kinds["mnli"].examples == mnli["steps"] * 32
    assert kinds["mnli"].tokens == mnli["steps"] * 32 * 256
    assert kinds["xnli"].examples == 2 * mnli["steps"] * 32  # baseline and after MNLI
    assert {w.kind for w in result["evaluations"]} >= {"eval xnli", "eval tatoeba", "eval dev-mnli"}


def test_the_host_layout_costs_fewer_chip_hours_than_one_stage_per_slice():
    config, dag = study("tasks=mnli,squad_v2,order=2,targets=xnli,seeds=1")
    for name in DEFAULT_TOPOLOGIES:
        costs = {
            c.layout: c for c in study_cost(config, dag, [name])["costs"][parse_target(name).name]
        }
        assert costs["host"].chip_hours < costs["slice"].chip_hours
        assert (
            costs["slice"].usd == costs["slice"].chip_hours * parse_target(name).price_per_chip_hour
        )
        assert costs["host"].parallel == 4 and costs["host"].chips_per_stage == 4


def test_dry_run_output_names_the_timing_prices_and_layouts_of_both_default_topologies():
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    lines = []
    print_cost(config, dag, DEFAULT_TOPOLOGIES, out=lines.append)
    text = "\n".join(lines)
    flat = " ".join(text.split())
    assert "time: roofline bound of each program" in flat and PRICES_AS_OF in flat
    assert "Chip-hours: the schedule Ray runs" in flat
    for name in ("v4-32:", "v5litepod-16:"):
        assert name in text
    assert len(re.findall(r"layout (slice|host|chip) .* chip-hours .* h wall", text)) == 6
    assert len(re.findall(r"static --shard I/(4|16): [\d,]+ chip-hours", text)) == 4
    summary = json.loads(lines[-1])["cost"]
    fits = [k for k in ("slice", "host", "chip") if "not fit" not in summary["v4-32"][k]["note"]]
    cheapest = min(fits, key=lambda k: summary["v4-32"][k]["chip_hours"])
    assert summary["v4-32"]["recommended"] == cheapest


def test_a_given_mfu_replaces_the_roofline_and_prices_in_proportion():
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    low, high = (
        {c.layout: c for c in study_cost(config, dag, ["v4-32"], mfu=m)["costs"]["v4-32"]}
        for m in (0.2, 0.4)
    )
    assert abs(low["slice"].chip_hours / high["slice"].chip_hours - 2) < 1e-9
    lines = []
    print_cost(config, dag, ["v4-32"], mfu=0.3, out=lines.append)
    assert "time: MFU 30% (given)" in " ".join(" ".join(lines).split())


def test_compiled_flops_replace_the_formula_for_their_stages(tmp_path):
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    program = next(p for p in train_programs(config, dag) if p.name.startswith("train mnli"))

    class Result:  # what compile_study returns, for one program
        def __init__(self):
            self.program, self.flops = program.name, 1.0e12

    target = parse_target("v4-32")
    path = compiled_file(str(tmp_path), target.name)
    write_compiled(path, target, [])
    with open(path, "w") as f:
        json.dump({"topology": target.name, "programs": [vars(Result())]}, f)
    result = study_cost(config, dag, ["v4-32"], workdir=str(tmp_path))
    mnli = next(s for s in dag.in_order() if s.task == "mnli")
    kinds = {w.kind: w for w in result["kinds"]}
    assert kinds["mnli"].flops == 1.0e12 * hparams_dict(mnli.hparams)["steps"]
    assert result["flops_compiled_on"] == "v4-32"


def test_the_price_table_in_the_docs_is_the_one_the_planner_uses():
    with open(os.path.join(ROOT, "docs", "tpu.md"), encoding="utf-8") as f:
        docs = f.read()
    assert f"as of {PRICES_AS_OF}" in docs
    for generation, price in LIST_PRICE.items():
        assert re.search(rf"\| `{generation}` \|[^\n]*\| \$?{price:.2f} \|", docs), generation


def test_training_tokens_follow_the_length_distribution_of_the_data_at_hand():
    config, dag = study(f"model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1,raw_data={SAMPLE}")
    result = study_cost(config, dag, ["v4-32"])
    mnli = hparams_dict(next(s for s in dag.in_order() if s.task == "mnli").hparams)
    (length,) = [v for k, v in result["measured_lengths"].items() if k.startswith("mnli")]
    assert 16 <= length < mnli["max_length"]  # padded to multiples of 16, bucketed
    kinds = {w.kind: w for w in result["kinds"]}
    assert kinds["mnli"].tokens == mnli["steps"] * round(mnli["batch_size"] * length)
    # The memory check takes the longest batch measured, not the maximum length.
    work = study_work(config, dag, ["v4-32"])
    stage = next(w for w in work.train.values() if w.kind == "mnli")
    assert length <= stage.peak_length <= mnli["max_length"] and stage.peak_length % 16 == 0
    assert stage.peak_tokens == mnli["batch_size"] * stage.peak_length

    lines = []
    print_cost(config, dag, ["v4-32"], out=lines.append)
    text = " ".join(" ".join(lines).split())  # as read, whatever the line breaks
    assert "mean padded length" in text and f"mnli (max {mnli['max_length']}) {length}" in text


def test_without_the_data_training_tokens_are_counted_at_the_maximum_length(tmp_path):
    config, dag = study(f"model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1,raw_data={tmp_path}")
    result = study_cost(config, dag, ["v4-32"])
    assert result["measured_lengths"] == {}
    mnli = hparams_dict(next(s for s in dag.in_order() if s.task == "mnli").hparams)
    kinds = {w.kind: w for w in result["kinds"]}
    assert kinds["mnli"].tokens == mnli["steps"] * mnli["batch_size"] * mnli["max_length"]


def test_compiled_step_costs_time_the_layout_whose_stages_run_on_as_many_devices(tmp_path):
    config, dag = study("tasks=mnli,order=1,targets=xnli,seeds=1")
    names = [p.name for p in train_programs(config, dag)]
    before = {c.layout: c for c in study_cost(config, dag, ["v4-32"])["costs"]["v4-32"]}
    # A v4 host is 4 chips: programs compiled for v4-8 time the `host` layout of a v4-32.
    slow = [{"program": n, "flops": 1.0e12, "bytes_accessed": 1.2e12} for n in names]
    path = compiled_file(str(tmp_path), "v4-8")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump({"topology": "v4-8", "devices": 4, "programs": slow}, f)
    result = study_cost(config, dag, ["v4-32"], workdir=str(tmp_path))
    assert result["step_cost_sources"]["v4-32"] == {
        "slice": "analytic", "host": "compiled for v4-8", "chip": "analytic"}  # fmt: skip
    after = {c.layout: c for c in result["costs"]["v4-32"]}
    assert after["slice"].chip_hours == before["slice"].chip_hours
    assert after["host"].chip_hours > before["host"].chip_hours  # a second per step now
    lines = []
    print_cost(config, dag, ["v4-32"], workdir=str(tmp_path), out=lines.append)
    assert "compiled for v4-8 steps" in "\n".join(lines)


def test_a_layout_whose_step_fits_at_no_count_is_named_and_not_recommended():
    config, dag = study("tasks=commonsenseqa,order=1,targets=xnli,seeds=1")
    config.hparams.default.micro_batches = 1  # pinned: checked, not chosen for
    lines = []
    print_cost(config, dag, ["v4-32"], out=lines.append)
    text = "\n".join(lines)
    # 32 rows x 5 choices x 256 tokens on one 32 GiB chip in one micro-batch: far over.
    assert re.search(r"layout chip .*does not fit: train commonsenseqa 32x5x256 needs "
                     r"estimated \d+ GiB per chip .*, 32 GiB of HBM", text)  # fmt: skip
    summary = json.loads(lines[-1])["cost"]["v4-32"]
    assert summary["recommended"] == "host"
    assert re.search(r"recommended: host \(--executor ray --layout host.*; not .*chip: does "
                     r"not fit", text)  # fmt: skip
