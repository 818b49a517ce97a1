"""Planning without a network: a hub tokenizer that is not cached fails at once, with a
reason, and the cost plan says what it assumed instead of waiting on the hub."""

import os
import shutil
import time

import huggingface_hub.constants
import pytest

from train.study.plan import lengths
from train.study.plan.cost import print_cost
from train.study.plan.plan import build_dag, load_config_file
from xlmr_flax.data import sample_data_dir
from xlmr_flax.tokenizer import TokenizerUnavailable, load_tokenizer, sample_tokenizer_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNCACHED = "example-org/tokenizer-never-downloaded"


def study(arg):
    config = load_config_file(os.path.join(ROOT, "configs", "xtreme_r_sequencing.py"))
    config = config.get_config(arg)
    return config, build_dag(config)


def test_an_uncached_hub_tokenizer_in_offline_mode_fails_at_once_naming_the_setting():
    started = time.perf_counter()
    with pytest.raises(TokenizerUnavailable, match=r"offline mode is on.*HF_HUB_OFFLINE"):
        load_tokenizer(UNCACHED)
    assert time.perf_counter() - started < 2


def test_an_unreachable_hub_is_probed_once_without_retries(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # closed
    started = time.perf_counter()
    with pytest.raises(TokenizerUnavailable, match=r"not reachable.*127\.0\.0\.1:9"):
        load_tokenizer(UNCACHED)
    assert time.perf_counter() - started < 6  # one probe of at most 5 s, no backoff


def test_without_training_data_the_tokenizer_is_never_asked_for(tmp_path, monkeypatch):
    def refuse(name):
        raise AssertionError(f"tokenizer {name} loaded although no data can use it")

    monkeypatch.setattr(lengths, "load_tokenizer", refuse)
    config, dag = study(f"model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1,raw_data={tmp_path}")
    found, longest, note = lengths.measured_lengths(config, dag)
    assert found == longest == {} and note == "training data absent for mnli, xnli"


def test_the_plan_names_the_unreachable_tokenizer_and_counts_maximum_lengths():
    config, dag = study(
        f"model=tiny,tasks=mnli,order=1,targets=xnli,seeds=1,raw_data={sample_data_dir()}"
    )
    config.tokenizer = UNCACHED
    lines = []
    print_cost(config, dag, ["v4-32"], out=lines.append)
    text = " ".join(" ".join(lines).split())
    assert f"at the maximum length, an upper bound: tokenizer {UNCACHED}: not in the local" in text


def test_a_cached_hub_tokenizer_loads_offline(tmp_path, monkeypatch):
    # The hub cache's layout: models--OWNER--NAME/{refs/main, snapshots/<commit>/files}.
    commit = "0" * 40
    repo = tmp_path / "models--example-org--cached-tokenizer"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    shutil.copy(sample_tokenizer_path(), snapshot / "sentencepiece.bpe.model")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    tokenizer = load_tokenizer("example-org/cached-tokenizer")
    assert len(tokenizer) == len(load_tokenizer(sample_tokenizer_path()))
