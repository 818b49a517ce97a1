"""`python -m xlmr_flax.data` and `python -m eval predict`: bad arguments are one line
with exit status 2."""

import pytest

from xlmr_flax.data.__main__ import main as data_main


@pytest.mark.parametrize(
    "argv,message",
    [
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
