"""Tatoeba as XTREME-R scores it: each path's SQuAD v1.1 model, XTREME's layer and pooling."""

import logging
import os

import ml_collections
import pytest

from eval.predict.program import PredictOptions
from train.study.plan.dag import StageDag
from train.study.plan.evaluations import alignment_unit, units
from train.study.plan.plan import build_dag, load_config_file
from xlmr_flax import get_model_config
from xlmr_flax.config import NAMED_SIZES, alignment_layer
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task
from xlmr_flax.tasks.retrieval.tatoeba import REFERENCE, hidden_state, reference_differences

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [(), ("mnli",), ("mnli", "qqp"), ("qqp", "mnli")]
NO_OPTIONS = ml_collections.ConfigDict({"eval": {}})  # every split choice `auto`


def build(targets, seeds=(0, 1)):
    dag = StageDag("root")
    for seed in seeds:
        for path in PATHS:
            for target in targets:
                dag.add_sequence(path, target, seed, lambda task: {"lr": 1e-5})
    return dag


def path_end(dag, sequence):
    return sequence.stages[len(sequence.path) - 1] if sequence.path else dag.root


def test_tatoeba_is_scored_on_the_squad_stage_of_each_path_that_xquad_shares():
    dag = build(["xquad", "tatoeba"])
    xquad_alone = build(["xquad"])
    assert set(dag.stages) == set(xquad_alone.stages)  # no training for Tatoeba
    by_run = {(s.path, s.seed, s.target): s.evaluated_stage for s in dag.sequences}
    tatoeba = [s for s in dag.sequences if s.target == "tatoeba"]
    assert len(tatoeba) == len(PATHS) * 2
    for s in tatoeba:
        stage = dag.stages[s.evaluated_stage]
        assert stage.task == "squad_v1" and stage.seed == s.seed
        assert stage.parent == path_end(dag, s)  # the baseline: pretrained → SQuAD v1.1
        assert s.evaluated_stage == by_run[(s.path, s.seed, "xquad")]
        assert "tatoeba" in [u.name for u in units(NO_OPTIONS, dag, s.evaluated_stage)]


def test_without_a_qa_target_tatoeba_trains_one_squad_stage_per_path_and_seed():
    dag = build(["xnli", "tatoeba"])
    squad = {s.id: s for s in dag.stages.values() if s.task == "squad_v1"}
    assert len(squad) == len(PATHS) * 2
    for s in (s for s in dag.sequences if s.target == "tatoeba"):
        assert s.evaluated_stage in squad and squad[s.evaluated_stage].parent == path_end(dag, s)
    # Alignment stays on every encoder: the pretrained one and every stage.
    alignment = alignment_unit(NO_OPTIONS)
    assert all(alignment in units(NO_OPTIONS, dag, stage) for stage in [dag.root, *dag.stages])


@pytest.mark.parametrize("size,expected", [("large", 14), ("base", 7), ("small", 4), ("tiny", 2)])
def test_xtremes_layer_scales_to_the_first_hidden_state_at_its_depth(size, expected):
    num_layers = get_model_config(size).num_layers
    assert alignment_layer(num_layers) == expected
    assert expected / num_layers >= REFERENCE["layer"] / REFERENCE["num_layers"]
    assert (expected - 1) / num_layers < REFERENCE["layer"] / REFERENCE["num_layers"]
    # The size's eval layer (config.eval.layer): the same state, -1 where it is the last.
    assert hidden_state(NAMED_SIZES[size].eval_layer, num_layers) == expected


def test_hidden_states_count_from_the_embeddings():
    assert hidden_state(-1, 24) == 24 and hidden_state(14, 24) == 14 and hidden_state(-25, 24) == 0
    with pytest.raises(ValueError, match="outside the model's 2 layers"):
        hidden_state(3, 2)
    with pytest.raises(ValueError, match="at least 1"):
        alignment_layer(0)
    assert reference_differences(-1, "mean", 2) == []
    assert reference_differences(-1, "first", 24) == [
        "layer 24 of 24 (XTREME's rule: 14)",
        "pooling 'first' (XTREME's: 'mean')",
    ]


def config_file(name):
    return load_config_file(os.path.join(ROOT, "configs", f"{name}.py"))


@pytest.mark.parametrize("config", [
    lambda: config_file("xtreme_r_sequencing").get_config(),
    lambda: config_file("xtreme_r_sequencing").get_config("model=base"),
    lambda: config_file("xtreme_r_sequencing").get_config("model=tiny"),
    lambda: config_file("smoke").get_config("quick"),
])  # fmt: skip
def test_the_configured_layer_and_pooling_are_xtremes(config):
    config = config()
    num_layers = get_model_config(config.model).num_layers
    layer, pooling = config.eval.get("layer", -1), config.eval.get("pooling", "mean")
    assert reference_differences(layer, pooling, num_layers) == []


def test_the_squad_model_embeds_tatoeba_from_the_configured_layer_not_its_head():
    config = config_file("smoke").get_config("quick")
    config.eval.layer = 1
    dag = build_dag(config)
    squad = {s.evaluated_stage for s in dag.sequences if s.target == "tatoeba"}
    assert {dag.stages[i].task for i in squad} == {"squad_v1"} and len(squad) == 3
    tatoeba = get_task("tatoeba")
    head = get_task("squad_v1").head  # the model the stage saves: a span head
    options = PredictOptions.create(config.eval)  # what the evaluator is given
    kind, static = get_format(tatoeba.format).forward_output(tatoeba, options, head)
    assert (kind, static) == ("embedding", (1, "mean", False))


def test_other_settings_warn_that_tatoeba_no_longer_compares(caplog):
    config = config_file("smoke").get_config("quick")
    config.eval.layer = 1  # of the tiny model's 2: XTREME's rule gives 2
    with caplog.at_level(logging.WARNING):
        build_dag(config)
    assert "Tatoeba is embedded with layer 1 of 2 (XTREME's rule: 2)" in caplog.text
    caplog.clear()
    config.study.targets = ("xnli",)
    with caplog.at_level(logging.WARNING):
        build_dag(config)
    assert "Tatoeba" not in caplog.text
