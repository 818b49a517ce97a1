"""Per-example statistics files: the `.npy` form the study writes reads back equal,
with shared arrays stored once; the older JSON form still reads; broken files
fail with an error naming the file."""

import json

import numpy as np
import pytest

from eval.scoring.example_files import encode_examples, read_examples, write_examples


def test_npy_round_trip_keeps_every_value_and_stores_shared_counts_once(tmp_path):
    counts = np.array([[1, 2, 3], [0, 1, 1], [300, 1, 0]])
    stats = {"f1": counts, "precision": counts, "recall": counts,
             "exact_match": np.array([1.0, 0.0, 1.0]), "f1_token": np.array([0.5, 0.25, 1.0])}  # fmt: skip
    write_examples(str(tmp_path / "a.npy"), ["q1", "q2", "q3"], stats)
    loaded = read_examples(str(tmp_path / "a.npy"))
    assert loaded.ids.tolist() == [b"q1", b"q2", b"q3"]
    assert set(loaded.stats) == set(stats)
    for metric, values in stats.items():
        assert loaded.stats[metric].dtype == np.float64
        np.testing.assert_array_equal(loaded.stats[metric], values)
    table = np.load(tmp_path / "a.npy")
    assert table.dtype.names == ("id", "f1|precision|recall", "exact_match", "f1_token")
    assert table.dtype["exact_match"] == np.uint8  # 0/1 outcomes in one byte
    assert read_examples(str(tmp_path / "a.npy"), ["recall"]).stats.keys() == {"recall"}


def test_json_examples_files_of_earlier_studies_still_read(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"ids": ["0", "1"], "stats": {"accuracy": [1.0, 0.0]}}))
    loaded = read_examples(str(path), ["accuracy"])
    assert loaded.ids.tolist() == [b"0", b"1"]
    np.testing.assert_array_equal(loaded.stats["accuracy"], [1.0, 0.0])
    write_examples(str(tmp_path / "again.json"), ["0"], {"accuracy": np.array([1.0])})
    assert json.loads((tmp_path / "again.json").read_text())["stats"] == {"accuracy": [1.0]}


def test_broken_files_name_themselves(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"bad\.npy: not an examples file"):
        read_examples(str(tmp_path / "bad.npy"))
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON"):
        read_examples(str(tmp_path / "bad.json"))
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"plain\.npy: not an examples file"):
        read_examples(str(tmp_path / "plain.npy"))
    with pytest.raises(FileNotFoundError):
        read_examples(str(tmp_path / "absent.npy"))
    with pytest.raises(ValueError, match="cannot be a field name"):
        encode_examples(["0"], {"a|b": np.array([1.0])})
