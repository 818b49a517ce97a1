"""`python -m xlmr_flax.data` and `python -m eval predict`: a prepared dataset follows
its raw files, and bad arguments are one line with exit status 2."""

import shutil

import pytest

from xlmr_flax.data import sample_data_dir
from xlmr_flax.data.__main__ import main as data_main
from xlmr_flax.data.tfds_builder import RAW_FINGERPRINT, prepare


def test_prepare_builds_again_when_its_raw_files_changed(tmp_path, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(sample_data_dir(), raw)
    first = prepare("xnli", str(raw), str(tmp_path / "tfds"))
    assert first.info.splits["test_sw"].num_examples == 9
    fingerprint = (tmp_path / "tfds").rglob(RAW_FINGERPRINT)
    assert len(list(fingerprint)) == 1
    again = prepare("xnli", str(raw), str(tmp_path / "tfds"))  # unchanged: kept
    assert "building it again" not in capsys.readouterr().err
    assert again.info.splits["test_sw"].num_examples == 9
    test_sw = raw / "xnli" / "test-sw.tsv"
    test_sw.write_text("".join(test_sw.read_text().splitlines(keepends=True)[:4]))
    rebuilt = prepare("xnli", str(raw), str(tmp_path / "tfds"))
    assert "its raw files changed; building it again" in capsys.readouterr().err
    assert rebuilt.info.splits["test_sw"].num_examples == 4


@pytest.mark.parametrize(
    "argv,message",
    [
        (["prepare", "--task", "xnli", "--raw", "/no/such/raw", "--data-dir", "x"],
         "error: --raw /no/such/raw: no such folder"),
        (["corpus", "--raw", "/no/such/raw", "--out", "x"], "error: --raw /no/such/raw: no such"),
        (["validate", "--task", "tatoeba", "--file", "a.deu"],
         "error: validate --task tatoeba: expected 2 --file (one per file the task reads), got 1"),
    ],
)  # fmt: skip
def test_data_command_errors_are_one_line(argv, message, capsys):
    assert data_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_predict_takes_only_a_split_name(capsys):
    from eval.__main__ import main as eval_main

    with pytest.raises(SystemExit) as exit_:
        eval_main(["predict", "--checkpoint", "m", "--task", "xnli", "--out", "o",
                   "--split", "../../x"])  # fmt: skip
    assert exit_.value.code == 2
    assert "--split: invalid choice: '../../x'" in capsys.readouterr().err
