"""A stage id covers exactly what its weights depend on: the training data's bytes,
the pretrained weights and tokenizer, the seed and the typed hyperparameters; run
options stay out; invalid studies are refused before anything runs."""

import shutil

import jax
import numpy as np
import pytest

from tests.test_plan import smoke_config
from train.study.plan.plan import ConfigError, build_dag, stage_records
from train.study.run.training import pretrained_root
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.convert.__main__ import main as convert_main
from xlmr_flax.data import sample_data_dir
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path


def quick():
    config = smoke_config()
    config.study.orders = (2,)
    config.study.targets = ("xnli", "xquad", "tatoeba")
    config.study.seeds = (0,)
    return config


def ids(config):
    dag = build_dag(config)
    return dag.root, {(s.task, s.seed, s.depth, s.id) for s in dag.stages.values()}


def stage_ids_by_path(config):
    dag = build_dag(config)
    return {(tuple(s.path), s.target, s.seed): s.stages for s in dag.sequences}


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.hparams.default.update(checkpoint_every=500),
        lambda c: c.hparams.default.update(log_every=3),
        lambda c: c.hparams.default.update(progress=False),
        lambda c: c.hparams.default.update(warmup=0.1),  # the default, given explicitly
        lambda c: c.update(raw_data=c.raw_data + "/"),  # the same files by another path
    ],
)
def test_run_options_and_equal_values_keep_every_id(change):
    config = quick()
    before = ids(config)
    change(config)
    assert ids(config) == before


@pytest.mark.parametrize(
    "change,root_changes",
    [
        (lambda c: c.update(model="small"), True),
        (lambda c: c.update(seed=1), True),  # the random pretrained model's seed
        (lambda c: c.hparams.default.update(learning_rate=2e-4), False),
        (lambda c: c.hparams.default.update(max_length=48), False),
    ],
)
def test_the_pretrained_model_and_hyperparameters_change_every_id(change, root_changes):
    config = quick()
    root, before = ids(config)
    change(config)
    new_root, after = ids(config)
    assert not {s[-1] for s in before} & {s[-1] for s in after}
    assert (new_root != root) == root_changes


def test_a_study_seed_changes_only_that_seeds_stages():
    config = quick()
    config.study.seeds = (0, 1)
    both = stage_ids_by_path(config)
    config.study.seeds = (0,)
    one = stage_ids_by_path(config)
    assert all(both[key] == stages for key, stages in one.items())
    assert not {s for k, v in both.items() if k[2] == 1 for s in v} & {
        s for v in one.values() for s in v
    }


def test_changed_training_data_changes_the_stages_trained_on_it(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(sample_data_dir(), raw)
    config = quick()
    config.raw_data = str(raw)
    before = stage_ids_by_path(config)
    train = raw / "mnli" / "train.tsv"  # other labels: the same text, other training data
    train.write_text(train.read_text().replace("entailment", "neutral"), encoding="utf-8")
    after = stage_ids_by_path(config)
    # Every stage from MNLI on changes ...
    key = (("mnli", "squad_v1"), "xquad", 0)
    assert not set(before[key]) & set(after[key])
    # ... SQuAD, then MNLI: the SQuAD stage stays (shared), the MNLI stage is new.
    key = (("squad_v1", "mnli"), "xquad", 0)
    assert before[key][0] == after[key][0] and before[key][1] != after[key][1]


def test_the_records_are_typed():
    hp, run = stage_records(quick(), "mnli")
    assert (hp.steps, hp.batch_size, hp.max_length, hp.warmup) == (8, 8, 64, 0.1)
    assert hp.rate is None and run.checkpoint_every == 0 and run.log_every == 10


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c.hparams.default.update(learnin_rate=1.0), r"config.hparams.default.learnin_rate: unknown key"),
        (lambda c: c.hparams.default.update(steps=0), r"config.hparams.default.steps: expected an integer >= 1, got 0"),
        (lambda c: c.hparams.update(mnli=dict(steps=2.5)), r"config.hparams.mnli.steps: expected an integer"),
        (lambda c: c.hparams.default.update(learning_rate=-1.0), r"learning_rate: expected a number > 0"),
        (lambda c: c.hparams.default.update(rate="uniform"), r"default.rate: only mixture stages"),
        (lambda c: c.hparams.default.update(checkpoint_every=-1), r"checkpoint_every: expected an integer >= 0"),
        (lambda c: c.hparams.update(mnlii=dict(steps=2)), r"config.hparams.mnlii: no task 'mnlii'"),
        (lambda c: c.hparams.default.__delattr__("steps"), r"stage '\w+' has no steps"),
        (lambda c: c.study.update(seeds=(0, 1, 0)), r"config.study.seeds: 0 is listed twice"),
        (lambda c: c.study.update(seeds=(0, "1")), r"config.study.seeds: expected integers"),
        (lambda c: c.study.update(targets=("xnli", "xnli")), r"config.study.targets: 'xnli' is listed twice"),
        (lambda c: c.study.update(sequences=(("mnli",), ("mnli",))), r"config.study.sequences: \('mnli',\) is listed twice"),
        (lambda c: c.study.update(intermediate_tasks=("mnli", "mnli")), r"intermediate_tasks: 'mnli' is listed twice"),
        (lambda c: c.study.update(orders=(0,)), r"config.study.orders: expected integers >= 1"),
        (lambda c: c.study.__setattr__("seedz", (1,)), r"config.study.seedz: unknown key"),
        (lambda c: c.update(model="huge"), r"config.model: unknown model config 'huge'"),
    ],
)  # fmt: skip
def test_invalid_studies_are_refused_naming_the_config_key(change, message):
    config = quick()
    change(config)
    with pytest.raises(ConfigError, match=message):
        build_dag(config)


def test_a_task_without_a_training_size_has_no_steps():
    from tests.test_configs import load

    sequencing = load("xtreme_r_sequencing")
    config = sequencing.get_config("model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1")
    del config.hparams["mnli"]  # as if MNLI had no train_examples in the registry
    with pytest.raises(ConfigError, match=r"stage 'mnli' has no steps"):
        build_dag(config)


def test_a_converted_model_directory_is_a_pretrained_model_and_tokenizer(hf_checkpoint, tmp_path):
    """docs/tpu.md stages XLM-R once as our model directory in the bucket and points
    `init_checkpoint` and `tokenizer` at it: its bytes are the root id, and the
    study's pretrained model is read from it, nothing from the hub."""
    _, hf_dir = hf_checkpoint("XLMRobertaForMaskedLM")
    staged = str(tmp_path / "models" / "xlmr")
    assert (
        convert_main(["--hf", hf_dir, "--out", staged, "--tokenizer", sample_tokenizer_path()]) == 0
    )
    config = quick()
    config.init_checkpoint = config.tokenizer = staged
    root, _ = ids(config)
    assert load_tokenizer(staged)("Привет")["input_ids"][1] != load_tokenizer(staged).unk_token_id

    model_dir = pretrained_root(config, str(tmp_path / "work"))
    assert model_dir.endswith(root)
    _, _, _, copied = load_model_dir(model_dir)
    _, _, _, original = load_model_dir(staged)
    for a, b in zip(
        jax.tree_util.tree_leaves(copied), jax.tree_util.tree_leaves(original), strict=True
    ):
        np.testing.assert_array_equal(a, b)

    other = str(tmp_path / "models" / "other")
    _, hf_other = hf_checkpoint("XLMRobertaForMaskedLM", seed=1)
    assert (
        convert_main(["--hf", hf_other, "--out", other, "--tokenizer", sample_tokenizer_path()])
        == 0
    )
    config.init_checkpoint = other  # other weights, same tokenizer: another root
    assert ids(config)[0] != root
