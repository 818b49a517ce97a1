"""Study configs: construction, their argument, and the study sizes they plan.

Counts come from `train.study.plan.plan.build_dag` and are checked against a count by hand
that shares no code with it.
"""

import glob
import os
import subprocess
import sys

import pytest

from train.study.plan.plan import (
    ConfigError,
    build_dag,
    intermediate_paths,
    load_config_file,
    missing_data,
    stage_hparams,
)
from xlmr_flax.tasks import TARGETS, TASKS

# English training examples by stage task (the registry's `train_examples`).
TRAIN_SIZES = {name: task.train_examples for name, task in TASKS.items() if task.train_examples}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NINE = ("anli_plus", "mnli", "qqp", "sst2", "squad_v2", "hellaswag", "ccg", "cosmosqa", "commonsenseqa")  # fmt: skip

# The training stages after an intermediate path, per target (docs/pipeline.md).
TARGET_STAGES = {
    "xnli": ("xnli",), "xcopa": ("siqa", "copa"), "udpos": ("udpos",), "panx": ("panx",),
    "xquad": ("squad_v1",), "mlqa": ("squad_v1",), "tydiqa": ("tydiqa",), "tatoeba": ("squad_v1",),
    "mewslix": ("mewslix",), "lareqa": ("lareqa",),
}  # fmt: skip


def load(name):
    return load_config_file(os.path.join(ROOT, "configs", f"{name}.py"))


@pytest.fixture(scope="module")
def sequencing():
    return load("xtreme_r_sequencing")


@pytest.fixture(scope="module")
def multitask():
    return load("multitask")


@pytest.fixture(scope="module")
def continued_mlm():
    return load("continued_mlm")


def hand_count(paths, targets, seeds):
    """(naive stage runs, unique stages), for paths whose elements never equal a target
    stage (true of these studies: no `squad_v1` and no `siqa` as intermediate tasks)."""
    target_sequences = [TARGET_STAGES[t] for t in targets]
    assert not {e for p in paths for e in p} & {s for ts in target_sequences for s in ts}
    naive = sum(len(p) + len(ts) for p in paths for ts in target_sequences)
    prefixes = {p[:k] for p in paths for k in range(1, len(p) + 1)}
    target_prefixes = {ts[:k] for ts in target_sequences for k in range(1, len(ts) + 1)}
    unique = len(prefixes) + len(paths) * len(target_prefixes)
    return len(seeds) * naive, len(seeds) * unique


def counts(config):
    dag = build_dag(config)
    return dag.naive_stage_runs(), len(dag.stages)


def test_full_study_is_82_paths_7296_naive_2457_unique(sequencing):
    config = sequencing.get_config()
    paths = intermediate_paths(config.study)
    assert len(paths) == 82 == 1 + 9 + 9 * 8
    assert paths[0] == () and set(config.study.intermediate_tasks) == set(NINE)
    assert config.study.targets == TARGETS and len(TARGETS) == 10
    assert config.study.seeds == (0, 1, 2)
    assert counts(config) == (7296, 2457) == hand_count(paths, TARGETS, (0, 1, 2))
    assert config.init_checkpoint == config.tokenizer == "FacebookAI/xlm-roberta-large"
    assert config.model == "large" and config.mesh == (-1, 1, 1)


@pytest.mark.parametrize("arg,paths,naive,unique", [
    ("tasks=mnli,squad_v2,hellaswag,order=3,seeds=1", 16, 506, 159),
    ("tasks=mnli,squad_v2,hellaswag;order=3;seeds=1", 16, 506, 159),  # `;` separates too
    (" tasks = mnli , squad_v2 , order = 2 , seeds = 0-1 ", 5, 230, 98),
    ("order=1,seeds=4,7,targets=xnli,tatoeba", 10, 2 * 2 * (10 + 9), 2 * (9 + 10 * 2)),
    ("order=0,seeds=1", 1, 11, 9),  # the baseline alone
    ("tasks=mnli,squad_v2,baseline=no,seeds=2", 4, 2 * (4 * 11 + 60), 2 * (4 + 4 * 9)),
    ("paths=mnli>squad_v2,squad_v2>mnli,hellaswag,seeds=1", 4, 4 * 11 + 50, 5 + 4 * 9),
])  # fmt: skip
def test_narrowed_study_counts(sequencing, arg, paths, naive, unique):
    config = sequencing.get_config(arg)
    found = intermediate_paths(config.study)
    assert len(found) == paths
    assert counts(config) == (naive, unique)
    assert (naive, unique) == hand_count(found, config.study.targets, config.study.seeds)


def test_argument_values(sequencing):
    config = sequencing.get_config("tasks=mnli,squad_v2,hellaswag,order=3,seeds=1")
    assert config.study.intermediate_tasks == ("mnli", "squad_v2", "hellaswag")
    assert config.study.orders == (1, 2, 3) and config.study.seeds == (0,)
    assert sequencing.get_config("seeds=3-5").study.seeds == (3, 4, 5)
    assert sequencing.get_config("seeds=2,9").study.seeds == (2, 9)
    assert sequencing.get_config("tasks=all,targets=all").study.intermediate_tasks == NINE
    config = sequencing.get_config("paths=mnli>squad_v2,squad_v2>mnli,baseline=no")
    assert intermediate_paths(config.study) == [("mnli", "squad_v2"), ("squad_v2", "mnli")]
    config = sequencing.get_config("model=base,mesh=1,-1,2,raw_data=/data/xtreme")
    assert config.init_checkpoint == "FacebookAI/xlm-roberta-base" and config.eval.layer == 7
    assert config.mesh == (1, -1, 2) and config.raw_data == "/data/xtreme"
    assert sequencing.get_config().eval.layer == 14  # XTREME's retrieval layer of Large
    # XLM-R Large converted once and staged in the bucket (docs/tpu.md): weights and
    # tokenizer from that folder, the rest of the large branch as it is.
    config = sequencing.get_config("checkpoint=/mnt/gcs/b/models/xlmr-large")
    assert config.init_checkpoint == config.tokenizer == "/mnt/gcs/b/models/xlmr-large"
    assert config.model == "large" and config.eval.layer == 14


def test_every_size_of_the_model_table_is_a_model_argument(sequencing):
    from xlmr_flax.config import NAMED_SIZES

    layers = {name: sequencing.get_config(f"model={name}").eval.layer for name in NAMED_SIZES}
    assert layers == {"large": 14, "base": 7, "small": 4, "tiny": -1}
    small = sequencing.get_config("model=small")  # random weights, the bundled tokenizer
    assert small.model == "small" and small.init_checkpoint == small.tokenizer == ""
    assert small.hparams.default.batch_size == 32 and small.raw_data == "download"
    tiny = sequencing.get_config("model=tiny")  # the local CPU branch
    assert tiny.hparams.default.batch_size == 8 and tiny.cpu_devices == 8


def test_hyperparameters_follow_the_original_study(sequencing):
    config = sequencing.get_config()
    default = config.hparams.default
    assert default.learning_rate == 1e-5 and default.warmup == 0.1
    assert default.batch_size == 32 and default.max_length == 256
    mnli = stage_hparams(config, "mnli")
    assert mnli["steps"] == round(3 * 392_702 / 32) and mnli["max_length"] == 256
    for qa in ("squad_v2", "squad_v1", "tydiqa"):
        assert stage_hparams(config, qa)["max_length"] == 384
    assert stage_hparams(config, "copa")["steps"] == round(3 * 400 / 32)
    # Every stage of the full study has its own steps (none falls back to the default).
    sized = set(TRAIN_SIZES)
    assert {s.task for s in build_dag(config).stages.values()} <= sized
    # A larger batch keeps the epochs; the scale and the cap shrink every stage.
    assert stage_hparams(sequencing.get_config("batch_size=64"), "mnli")["steps"] == 18_408
    assert stage_hparams(sequencing.get_config("steps_scale=0.01"), "mnli")["steps"] == 368
    capped = sequencing.get_config("max_steps=5")
    assert {stage_hparams(capped, t)["steps"] for t in sized} == {5}


def test_tiny_branch_runs_on_the_sample_data(sequencing):
    config = sequencing.get_config("model=tiny")
    assert config.model == "tiny" and config.init_checkpoint == "" and config.cpu_devices == 8
    assert stage_hparams(config, "anli_plus")["steps"] == 8
    assert stage_hparams(config, "squad_v2")["max_length"] == 64
    assert missing_data(config, build_dag(config)) == []  # every task has sample data


def test_parse_arg_reads_each_key_as_its_type():
    from configs.base import parse_arg

    types = dict(n=int, x=float, on=bool, names=tuple, word=str, quick=bool)
    arg = " n = 3 , x=0.5;on=no,names=a,b , c,word=w=v,quick"
    assert parse_arg(arg, **types) == dict(
        n=3, x=0.5, on=False, names=("a", "b", "c"), word="w=v", quick=True
    )
    assert parse_arg(None, **types) == parse_arg("", **types) == {}
    with pytest.raises(
        ValueError, match=r"^config argument 'nams=a': unknown key 'nams'; did you mean 'names'"
    ):
        parse_arg("nams=a", **types)


@pytest.mark.parametrize("arg,message", [
    ("order=2,nope=1", r"^config argument 'order=2,nope=1': unknown key 'nope'; expected one of tasks, order, paths, baseline, seeds, targets, model, "),
    ("order=2,taks=mnli", r"unknown key 'taks'; did you mean 'tasks'\?$"),
    ("mnli,squad_v2", r"unknown key 'mnli'"),
    ("order", r"'order' has no value; write order=\.\.\."),
    ("tasks=mnli,tasks=qqp", "key 'tasks' is given twice"),
    ("tasks=", "no value after tasks="),
    ("order=two", "order=two: expected an integer"),
    ("order=2,3", "unknown key '3'"),
    ("order=-1", "expected a number >= 0"),
    ("tasks=mnli,squad_v2,order=3", "order=3: more than the 2 tasks"),
    ("seeds=a", "expected a count, a list of seeds or a range"),
    ("mesh=2,2", "expected data,fsdp,tensor sizes"),
    ("mesh=-1,-1,1", "expected data,fsdp,tensor sizes"),
    ("model=huge", "model=huge: unknown; expected one of large, base, small, tiny"),
    ("model=larg", "model=larg: unknown; did you mean 'large'"),
    ("steps_scale=0", "steps_scale=0: expected a positive number"),
    ("steps_scale=x", "steps_scale=x: expected a number"),
    ("max_steps=0", "expected a positive number"),
    ("baseline=maybe", "expected yes or no"),
    ("paths=mnli>", "an empty task"),
    ("paths=mnli>qqp,order=2", "either paths or tasks/order"),
    ("order=0,baseline=no", "leaves no path"),
])  # fmt: skip
def test_bad_arguments(sequencing, arg, message):
    with pytest.raises(ValueError, match=message) as raised:
        sequencing.get_config(arg)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("arg,message", [
    ("tasks=mnli,nli", "intermediate task 'nli' is unknown; did you mean 'xnli'"),
    ("tasks=mnli,mnli", "config.study.intermediate_tasks: 'mnli' is listed twice"),
    ("targets=xnli,mnli", "target 'mnli' is not an XTREME-R target"),
    ("seeds=0", "must not be empty"),
    ("seeds=1,1", "config.study.seeds: 1 is listed twice"),
    ("paths=mnli>xquad", "intermediate task 'xquad' has no training data of its own"),
])  # fmt: skip
def test_argument_mistakes_the_plan_finds(sequencing, arg, message):
    """Names are checked once, where the plan is built, for every config alike."""
    with pytest.raises(ConfigError, match=message):
        build_dag(sequencing.get_config(arg))


def test_multitask_is_one_mixture_stage(multitask):
    config = multitask.get_config()
    mixture = "+".join(NINE)
    assert mixture.startswith("anli_plus+mnli+")
    assert intermediate_paths(config.study) == [(), (mixture,)]
    assert dict(config.hparams.mixture) == dict(
        rate="capped", cap=2**17, max_length=384,
        steps=round(3 * sum(min(TRAIN_SIZES[t], 2**17) for t in NINE) / 32),
    )  # fmt: skip
    assert stage_hparams(config, mixture)["rate"] == "capped"
    # Ten targets train eleven target stages after a path (XCOPA two, Tatoeba SQuAD v1.1).
    assert counts(config) == (3 * (11 + 21), 3 * (1 + 2 * 9))
    config = multitask.get_config("tasks=mnli,sst2,rate=uniform,steps=500,seeds=1,baseline=no")
    assert intermediate_paths(config.study) == [("mnli+sst2",)]
    mixture = config.hparams.mixture
    assert (mixture.rate, mixture.steps, mixture.max_length) == ("uniform", 500, 256)
    proportional = multitask.get_config("tasks=mnli,sst2,rate=proportional").hparams.mixture
    assert proportional.steps == round(3 * (392_702 + 67_349) / 32)


@pytest.mark.parametrize("arg,message", [
    ("rate=fast", "rate=fast: unknown; expected one of capped, proportional, uniform"),
    ("tasks=mnli,xquad", "'xquad' has no training set"),
    ("tasks=mnli", "a mixture needs two or more"),
    ("order=2", "unknown key 'order'"),
])  # fmt: skip
def test_multitask_bad_arguments(multitask, arg, message):
    with pytest.raises(ValueError, match=message):
        multitask.get_config(arg)


def test_continued_mlm_paths(continued_mlm):
    config = continued_mlm.get_config()
    paths = intermediate_paths(config.study)
    assert paths[:4] == [(), ("mlm",), ("anli_plus",), ("mlm", "anli_plus")]
    assert ("mlm+commonsenseqa",) in paths and ("commonsenseqa", "mlm") not in paths
    assert len(paths) == 2 + 3 * 9
    naive = 3 * sum(10 * len(p) + 11 for p in paths)
    assert counts(config) == (naive, 3 * (1 + 9 * 3 + 29 * 9))
    assert config.hparams.mlm.steps == 10_000
    during = config.hparams["mlm+mnli"]
    assert during.rate == "uniform" and during.steps == 2 * config.hparams.mnli.steps
    # The stage takes the mixture's own entry over hparams.mixture and the defaults.
    assert stage_hparams(config, "mlm+mnli")["rate"] == "uniform"
    assert stage_hparams(config, "mlm+mnli")["steps"] == during.steps
    config = continued_mlm.get_config("tasks=mnli,squad_v2,mlm=after,mlm_steps=50,singles=no")
    assert intermediate_paths(config.study) == [(), ("mlm",), ("mnli", "mlm"), ("squad_v2", "mlm")]
    assert config.hparams.mlm.steps == 50 and "mlm+mnli" not in config.hparams
    config = continued_mlm.get_config("model=tiny,tasks=mnli,mlm=before,after,during")
    assert missing_data(config, build_dag(config)) == []
    with pytest.raises(ValueError, match="mlm=sideways: unknown; expected one of before, after"):
        continued_mlm.get_config("mlm=sideways")
    with pytest.raises(ValueError, match="single tasks other than 'mlm'"):
        continued_mlm.get_config("tasks=mlm,mnli")


STUDIES = sorted(
    os.path.basename(path)[:-3]
    for path in glob.glob(os.path.join(ROOT, "configs", "*.py"))
    if os.path.basename(path) != "__init__.py"
)


@pytest.mark.parametrize("name", STUDIES)
def test_every_config_plans_its_stages_with_their_own_steps(name):
    config = load(name).get_config()
    dag = build_dag(config)
    paths = intermediate_paths(config.study)
    if name == "smoke":  # SQuAD v1.1 is both an intermediate and a target stage there
        # naive: Tatoeba's SQuAD v1.1 stage on each of the 5 paths counts as its own
        assert counts(config) == (2 * (10 * 5 + 10 * (1 + 1 + 2 + 2) + 5), 2 * (4 + 5 * 9 - 2))
    else:
        assert counts(config) == hand_count(paths, config.study.targets, config.study.seeds)
    for task in {s.task for s in dag.stages.values()}:
        steps = stage_hparams(config, task)["steps"]
        assert isinstance(steps, int) and steps >= 1
        # Study configs size every stage by its task or mixture entry (the smoke study
        # trains 8 steps each).
        own = "mixture" if "+" in task and task not in config.hparams else task
        assert config.hparams[own].steps == steps if name != "smoke" else steps == 8


def test_the_base_config_is_the_full_study(sequencing):
    """xtreme_r_sequencing without argument is base.py's config, value for value."""
    base = load("base").get_config()
    assert base.to_dict() == sequencing.get_config().to_dict()
    assert base.hparams.mnli.steps == round(3 * 392_702 / 32) and base.eval.layer == 14
    assert base.hparams.mlm.steps == 10_000
    assert set(base.hparams) == {"default", "mlm", *TRAIN_SIZES}
    with pytest.raises(ValueError, match="unknown key 'quick'"):
        load("base").get_config("quick")


@pytest.mark.slow  # the main command as a subprocess
def test_main_command_takes_the_argument(tmp_path):
    """Through the main command's --config: the `:ARG` suffix and the error it raises."""

    def dry_run(config):
        command = [sys.executable, "-m", "train", "--config", config, "--workdir", str(tmp_path), "--dry-run"]  # fmt: skip
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    done = dry_run("configs/xtreme_r_sequencing.py:tasks=mnli,squad_v2,hellaswag,order=3,seeds=1")
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert '"paths": 16' in last and '"stage_runs_naive": 506' in last
    assert '"stage_runs_unique": 159' in last
    failed = dry_run("configs/xtreme_r_sequencing.py:order=2,taks=mnli")
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert "unknown key 'taks'; did you mean 'tasks'?" in failed.stderr
