"""Conversion to and from transformers checkpoints, our model directory, and their errors."""

import os
from pathlib import Path

import jax
import numpy as np
import pytest
import torch
import transformers

from xlmr_flax import CheckpointError, export_hf, get_model_config, load_pretrained
from xlmr_flax.convert.__main__ import main as convert_main

from .test_model_parity import HEAD_CLASSES


def assert_same_params(a, b):
    flat_a, flat_b = (
        jax.tree_util.tree_flatten_with_path(a)[0],
        jax.tree_util.tree_flatten_with_path(b)[0],
    )
    assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
    for (path, x), (_, y) in zip(flat_a, flat_b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=str(path))


@pytest.mark.parametrize("cls_name", [*HEAD_CLASSES.values()])
def test_round_trip_ours_to_hf_to_ours_is_exact(hf_checkpoint, tmp_path, cls_name):
    reference, directory = hf_checkpoint(cls_name, num_labels=2 if "Question" in cls_name else 4)
    ours = load_pretrained(directory)
    export_hf(ours, str(tmp_path / "exported"))
    again = load_pretrained(str(tmp_path / "exported"))
    assert (again.head, again.head_kwargs) == (ours.head, ours.head_kwargs)
    assert_same_params(ours.params, again.params)
    # transformers itself loads the export, every tensor identical to the original.
    reloaded = getattr(transformers, cls_name).from_pretrained(tmp_path / "exported").state_dict()
    for name, tensor in reference.state_dict().items():
        if not name.startswith("pooler."):  # a bare encoder exports no pooler: heads own it
            np.testing.assert_array_equal(tensor.numpy(), reloaded[name].numpy(), err_msg=name)


def test_cli_converts_both_ways_with_tokenizer(hf_checkpoint, tmp_path):
    from xlmr_flax import sample_tokenizer_path

    _, directory = hf_checkpoint("XLMRobertaForSequenceClassification", num_labels=3)
    ours_dir, hf_dir = str(tmp_path / "ours"), str(tmp_path / "hf")
    assert (
        convert_main(["--hf", directory, "--out", ours_dir, "--tokenizer", sample_tokenizer_path()])
        == 0
    )
    assert sorted(os.listdir(ours_dir)) == ["params", "tokenizer", "xlmr_flax.json"]
    model = load_pretrained(ours_dir)
    assert model.head == "classification" and model.head_kwargs == {"num_labels": 3}
    assert model.tokenizer("Привет, мир")["input_ids"][1] != model.tokenizer.unk_token_id
    assert convert_main(["--to-hf", ours_dir, "--out", hf_dir]) == 0
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(hf_dir))
    assert_same_params(model.params, load_pretrained(hf_dir).params)
    # The output directory is never overwritten.
    assert convert_main(["--hf", directory, "--out", ours_dir]) == 2


def test_pytorch_bin_checkpoint_loads_like_safetensors(hf_checkpoint, tmp_path):
    reference, directory = hf_checkpoint("XLMRobertaForTokenClassification", num_labels=7)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    torch.save(reference.state_dict(), bin_dir / "pytorch_model.bin")
    (bin_dir / "config.json").write_text(Path(directory, "config.json").read_text())
    assert_same_params(load_pretrained(directory).params, load_pretrained(str(bin_dir)).params)


def test_pytorch_bin_without_torch_says_what_is_needed(hf_checkpoint, tmp_path, monkeypatch):
    import builtins

    reference, directory = hf_checkpoint("XLMRobertaModel")
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(Path(directory, "config.json").read_text())
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: PyTorch pickles need PyTorch"):
        load_pretrained(str(tmp_path))


def test_missing_config_and_weights_are_named(hf_checkpoint, tmp_path):
    _, directory = hf_checkpoint("XLMRobertaModel")
    with pytest.raises(CheckpointError, match=r"config.json: file not found"):
        load_pretrained(str(tmp_path))
    os.remove(os.path.join(directory, "model.safetensors"))
    with pytest.raises(CheckpointError, match="no weights found"):
        load_pretrained(directory)
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_pretrained(str(tmp_path / "does-not-exist"))


def test_unknown_hub_name_fails_clearly_offline():
    with pytest.raises(CheckpointError, match="model hub could not provide it"):
        load_pretrained("no-such-org/no-such-model")


def test_corrupt_safetensors_is_named(hf_checkpoint):
    _, directory = hf_checkpoint("XLMRobertaModel")
    path = Path(directory, "model.safetensors")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: not a readable safetensors file"
    ):
        load_pretrained(directory)


def test_config_weight_shape_mismatch_names_each_weight(hf_checkpoint):
    import json

    _, directory = hf_checkpoint("XLMRobertaModel")
    config_path = Path(directory, "config.json")
    config = json.loads(config_path.read_text())
    config["intermediate_size"] = 40
    config_path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as err:
        load_pretrained(directory)
    assert (
        "encoder.layer.0.intermediate.dense.weight has shape (37, 32), the config expects (40, 32)"
        in str(err.value)
    )
    assert "encoder.layer.1.output.dense.weight" in str(err.value)


def test_masked_lm_checkpoint_with_an_unused_pooler_loads(hf_checkpoint):
    from safetensors.numpy import load_file, save_file

    _, directory = hf_checkpoint("XLMRobertaForMaskedLM")
    path = os.path.join(directory, "model.safetensors")
    state = load_file(path)
    state["roberta.pooler.dense.weight"] = np.zeros((32, 32), np.float32)
    state["roberta.pooler.dense.bias"] = np.zeros(32, np.float32)
    save_file(state, path, metadata={"format": "pt"})
    assert load_pretrained(directory).head == "masked_lm"


def test_unexpected_and_missing_weights_are_listed(hf_checkpoint):
    from safetensors.numpy import load_file, save_file

    _, directory = hf_checkpoint("XLMRobertaForQuestionAnswering", num_labels=2)
    path = os.path.join(directory, "model.safetensors")
    state = load_file(path)
    del state["roberta.encoder.layer.1.output.LayerNorm.bias"]
    state["roberta.encoder.layer.0.adapter.weight"] = np.zeros((2, 2), np.float32)
    save_file(state, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as err:
        load_pretrained(directory)
    assert "missing weight encoder.layer.1.output.LayerNorm.bias" in str(err.value)
    assert "unexpected weight encoder.layer.0.adapter.weight" in str(err.value)


def test_our_directory_with_mismatched_config_is_rejected(hf_checkpoint, tmp_path):
    import json

    _, directory = hf_checkpoint("XLMRobertaModel")
    out = str(tmp_path / "ours")
    load_pretrained(directory).save(out)
    meta_path = Path(out, "xlmr_flax.json")
    meta = json.loads(meta_path.read_text())
    meta["model"]["hidden_size"] = 40
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError,
        match=r"word_embeddings/embedding has shape \(99, 32\), the config expects \(99, 40\)",
    ):
        load_pretrained(out)
    meta_path.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"xlmr_flax\.json: not valid JSON"):
        load_pretrained(out)


def test_failed_save_leaves_no_directory(tmp_path, monkeypatch):
    from flax import nnx

    from xlmr_flax import PretrainedModel, TaskModel

    config = get_model_config("tiny", num_layers=1)
    params = nnx.to_pure_dict(nnx.state(TaskModel(config, rngs=nnx.Rngs(0)), nnx.Param))
    model = PretrainedModel(config, params)

    class Broken:
        def save_pretrained(self, path):
            raise OSError("disk full")

    model.tokenizer = Broken()
    with pytest.raises(OSError, match="disk full"):
        model.save(str(tmp_path / "out"))
    assert os.listdir(tmp_path) == []


def test_unknown_config_name_lists_known_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown model config 'huge'; known: \['base', 'large', 'small', 'tiny'\]",
    ):
        get_model_config("huge")
