"""The recipes of docs/architecture.md, each done once: a model size and an evaluator.

(Adding a task, a format or a metric: docs/formats.md and its tests.)
"""

import dataclasses
import json
import os

import numpy as np
import pytest

from eval import evaluators
from eval.analysis.records import Kind
from eval.scoring.example_files import read_examples
from tests.test_plan import smoke_config
from train.study import layout
from train.study.plan import evaluations
from train.study.plan.plan import build_dag
from train.study.run import units
from train.study.run.training import pretrained_root
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.config import NAMED_SIZES


def quick():
    config = smoke_config()
    config.study.orders = (1,)
    config.study.targets = ("xnli",)
    config.study.seeds = (0,)
    return config


def test_a_model_size_is_one_entry_of_the_named_sizes(tmp_path, monkeypatch):
    tiny = NAMED_SIZES["tiny"]
    micro = dataclasses.replace(tiny, shape={**tiny.shape, "num_layers": 1})
    monkeypatch.setitem(NAMED_SIZES, "micro", micro)
    config = quick()
    config.model = "micro"
    micro, tiny = build_dag(config), build_dag(quick())
    assert micro.root != tiny.root  # the root id covers the size's definition
    assert set(micro.stages).isdisjoint(tiny.stages)
    model_config, _, _, params = load_model_dir(pretrained_root(config, str(tmp_path)))
    assert model_config.num_layers == 1 and model_config.hidden_size == 64
    assert len(params["encoder"]["layers"]) == 1


class ExamplesSeen:
    """A toy evaluator: 'accuracy' is 1 for each of three English dev examples but the
    last; it reads no model, so it can run without one. It evaluates every task
    trained so far, under units named `seen-<task>`, filed as dev records."""

    unit_prefix = "seen-"
    kind = Kind.DEV

    def tasks(self, stage):
        return list(stage.trained)

    def inputs(self, task, raw_dir, labels_dir, split):
        return ["dev", "en", task]

    def run(self, model, task, raw_dir, labels_dir, split, *, examples_dir=None, **_):
        stats = {"accuracy": np.array([1.0, 1.0, 0.0])}
        return [
            evaluators.language_scores(
                task, "en", "dev", "raw:toy", ["a", "b", "c"], stats, examples_dir
            )
        ]


def test_an_evaluator_is_one_registered_class_that_chooses_its_units(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluators, "EVALUATORS", dict(evaluators.EVALUATORS))
    config, workdir, stage = quick(), str(tmp_path), "0123456789ab"
    dag = build_dag(config)
    mnli = next(s.id for s in dag.in_order() if s.task == "mnli")
    before = evaluations.units(config, dag, mnli)
    evaluators.register_evaluator("seen")(ExamplesSeen)
    with pytest.raises(ValueError, match="registered twice"):
        evaluators.register_evaluator("seen")(ExamplesSeen)
    with pytest.raises(ValueError, match="unit prefix 'seen-' is 'seen'"):
        evaluators.register_evaluator("seen again")(ExamplesSeen)

    unit = evaluators.EvalUnit("seen", "mnli")
    assert evaluations.units(config, dag, mnli) == sorted([*before, unit], key=lambda u: u.name)
    assert (unit.name, unit.kind) == ("seen-mnli", Kind.DEV)
    key = units.unit_key(config, unit)
    records = units.evaluate_unit(None, unit, stage, config, workdir, key)

    examples = f"stages/{stage}/eval/seen-mnli-{key}/dev-en.npy"
    assert records == [
        dict(target="mnli", lang="en", split="dev", gold="raw:toy", metric="accuracy",
             value=pytest.approx(200 / 3), examples=examples)
    ]  # fmt: skip
    assert layout.unit_file(workdir, stage, "seen-mnli", key).endswith(f"seen-mnli-{key}.json")
    written = read_examples(os.path.join(workdir, examples))
    np.testing.assert_array_equal(written.stats["accuracy"], [1.0, 1.0, 0.0])
    assert key != units.unit_key(config, evaluators.EvalUnit("seen", "xnli"))  # inputs key it


def test_units_keep_the_names_and_keys_every_workdir_has():
    """Typed units name their files and keys as the string units before them did."""
    config = quick()
    dag = build_dag(config)
    names = {s.task: [u.name for u in evaluations.units(config, dag, s.id)] for s in dag.in_order()}
    assert names == {"mnli": ["dev-mnli", "tatoeba"], "squad_v1": ["dev-squad_v1", "tatoeba"],
                     "xnli": ["tatoeba", "xnli"]}  # fmt: skip
    assert [u.name for u in evaluations.units(config, dag, dag.root)] == ["tatoeba"]
    # The key hashes the unit's name as a string, as before (pinned value).
    dev = evaluators.EvalUnit("dev", "mnli")
    assert units.unit_key(config, dev) == units.stable_hash(
        ["dev-mnli", evaluators.get_evaluator("dev").inputs("mnli", config.raw_data, "", "auto"),
         json.loads(json.dumps({k: v for k, v in dict(config.eval).items()
                                if k not in ("batch_size", "split", "labels")}, default=list))]
    )  # fmt: skip
