"""`python -m eval predict` writes submission files that `python -m eval score` reads."""

import json
import os
from pathlib import Path

import pytest
from flax import nnx

from eval.__main__ import main
from eval.scoring.submission import gold_from_raw, submission_path, write_labels
from xlmr_flax import TaskModel, get_model_config, load_tokenizer
from xlmr_flax.checkpoint import save_model_dir
from xlmr_flax.data import sample_data_dir
from xlmr_flax.tokenizer import sample_tokenizer_path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny XNLI classifier saved as the pipeline saves a stage's model."""
    tokenizer = load_tokenizer(sample_tokenizer_path())
    config = get_model_config("tiny", vocab_size=len(tokenizer))
    module = TaskModel(config, "classification", rngs=nnx.Rngs(0), num_labels=3)
    out = str(tmp_path_factory.mktemp("stage") / "model")
    params = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    save_model_dir(out, params, config, "classification", {"num_labels": 3}, tokenizer)
    return out


def test_predict_writes_one_file_per_language_that_score_reads(model_dir, tmp_path, capsys):
    out, labels = tmp_path / "predictions", tmp_path / "labels"
    argv = ["predict", "--checkpoint", model_dir, "--task", "xnli", "--langs", "de,sw,zh"]
    assert main([*argv, "--out", str(out), "--batch-size", "8", "--max-length", "64"]) == 0
    assert "xnli: 3 languages" in capsys.readouterr().out
    assert sorted(os.listdir(out / "xnli")) == ["test-de.tsv", "test-sw.tsv", "test-zh.tsv"]
    for lang in ("de", "sw", "zh"):
        gold = gold_from_raw("xnli", lang, sample_data_dir())
        predicted = Path(submission_path(str(out), "xnli", lang)).read_text().splitlines()
        assert len(predicted) == len(gold)
        assert set(predicted) <= {"entailment", "neutral", "contradiction"}
        write_labels(str(labels), "xnli", lang, gold)

    scores = tmp_path / "scores.json"
    argv = ["score", "--predictions", str(out), "--labels", str(labels), "--json", str(scores)]
    assert main(argv) == 0
    results = json.loads(scores.read_text())
    assert set(results["xnli"]) == {"de", "sw", "zh"}
    assert all(0 <= r["accuracy"] <= 100 for r in results["xnli"].values())


def test_predict_names_a_language_the_task_lacks(model_dir, tmp_path, capsys):
    argv = ["predict", "--checkpoint", model_dir, "--task", "xnli", "--langs", "de,xx"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    assert "xnli has no test language ['xx']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_gs_paths_are_read_through_the_mounted_bucket(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XLMR_FLAX_GCS_MOUNT", str(tmp_path))
    argv = ["score", "--predictions", "gs://results/sub", "--labels", str(tmp_path)]
    assert main(argv) == 1
    assert (
        "--predictions gs://results/sub: bucket results is not mounted" in capsys.readouterr().err
    )
    (tmp_path / "results" / "sub").mkdir(parents=True)
    assert main(argv) == 1  # mounted: now the folders are read (and hold no pairs)
    assert "no (task, language) has both a prediction file" in capsys.readouterr().err
