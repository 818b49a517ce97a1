"""Submission files and `python -m eval score`: files written from the sample data's
gold labels score 100; malformed files are reported with the file, line and problem."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from eval import __main__ as cli
from eval.metrics import XTREME_R_TASKS, Answers, score_task
from eval.scoring.submission import (
    gold_from_raw,
    read_labels,
    read_predictions,
    submission_path,
    write_labels,
    write_predictions,
)
from xlmr_flax.errors import DataError
from xlmr_flax.tasks import get_task

RAW = "xlmr_flax/assets/sample_data"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sample_languages(task):
    spec = get_task(task)
    return [lang for split, lang in spec.available(RAW) if split == spec.eval_split]


def perfect(task, gold):
    """Predictions equal to the gold labels (QA: the first gold answer)."""
    if get_task(task).format == "span_extraction":
        return {key: answers[0] for key, answers in gold.items()}
    return gold


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    """labels/ and predictions/ for every target and sample language; perfect predictions."""
    root = tmp_path_factory.mktemp("submission")
    golds = {}
    for task in XTREME_R_TASKS:
        for lang in sample_languages(task):
            gold = gold_from_raw(task, lang, RAW)
            golds[task, lang] = gold
            write_labels(str(root / "labels"), task, lang, gold)
            write_predictions(str(root / "predictions"), task, lang, perfect(task, gold))
    return root, golds


@pytest.fixture
def copy(submission, tmp_path):
    """A copy of the submission to damage."""
    shutil.copytree(submission[0], tmp_path, dirs_exist_ok=True)
    return tmp_path


def score(root, capsys, *extra):
    predictions, labels = str(root / "predictions"), str(root / "labels")
    code = cli.main(["score", "--predictions", predictions, "--labels", labels, *extra])
    out, err = capsys.readouterr()
    return code, out, err


# --- the layout and formats --------------------------------------------------------------------


def test_files_follow_the_xtreme_submission_layout(submission):
    root, _ = submission
    assert os.path.isfile(root / "predictions" / "xnli" / "test-de.tsv")
    assert os.path.isfile(root / "predictions" / "xquad" / "test-zh.json")
    assert os.path.isfile(root / "predictions" / "tatoeba" / "test-sw.tsv")
    assert os.path.isfile(root / "predictions" / "mewslix" / "test-ja.json")
    assert submission_path("out", "udpos", "mr") == os.path.join("out", "udpos", "test-mr.tsv")
    assert submission_path("out", "lareqa", "hi", "dev") == os.path.join(
        "out", "lareqa", "dev-hi.json"
    )


def test_file_contents(submission):
    root, golds = submission
    xnli = (root / "predictions" / "xnli" / "test-de.tsv").read_text().splitlines()
    assert xnli == golds["xnli", "de"]  # one label per line
    panx = (root / "predictions" / "panx" / "test-de.tsv").read_text()
    sentences = golds["panx", "de"]
    assert panx == "".join("\n".join(s) + "\n\n" for s in sentences)  # blank line after each
    xquad = json.loads((root / "predictions" / "xquad" / "test-de.json").read_text())
    assert xquad == perfect("xquad", golds["xquad", "de"])
    lines = (root / "predictions" / "xquad" / "test-de.json").read_text().splitlines()
    assert len(lines) == len(xquad) + 2  # one id per line between the braces
    mewslix = json.loads((root / "labels" / "mewslix" / "test-de.json").read_text())
    assert all(len(v) == 1 for v in mewslix.values())  # Mewsli-X: the one gold entity


@pytest.mark.parametrize("task", XTREME_R_TASKS)
def test_files_read_back_as_written(submission, task):
    root, golds = submission
    for lang in sample_languages(task):
        gold = golds[task, lang]
        label_file = submission_path(str(root / "labels"), task, lang)
        read = read_labels(label_file, task)
        assert read == gold
        if isinstance(gold, Answers):
            assert read.lang == lang  # from the file name: MLQA needs it
        prediction_file = submission_path(str(root / "predictions"), task, lang)
        assert read_predictions(prediction_file, task, read) == perfect(task, gold)


def test_lareqa_gold_holds_one_candidate_per_pool_language(submission):
    _, golds = submission
    relevant = next(iter(golds["lareqa", "de"].values()))
    # Every language of the pool holds one relevant answer sentence.
    assert [r.split("-")[0] for r in relevant] == sample_languages("lareqa")


def test_official_squad_format_label_files_are_accepted(tmp_path):
    dataset = {
        "version": "1.0",
        "data": [{"paragraphs": [{"context": "北京大学在北京。", "qas": [
            {"id": "q1", "question": "?", "answers": [{"text": "北京大学", "answer_start": 0}]}
        ]}]}],
    }  # fmt: skip
    path = tmp_path / "mlqa" / "test-zh.json"
    path.parent.mkdir()
    path.write_text(json.dumps(dataset, ensure_ascii=False))
    gold = read_labels(str(path), "mlqa")
    assert gold == {"q1": ["北京大学"]} and gold.lang == "zh"
    assert score_task("mlqa", {"q1": "北京"}, gold)["f1"] == pytest.approx(200 / 3)


@pytest.mark.parametrize(
    "task, expected",
    [
        ("mnli", list),
        ("siqa", list),
        ("ccg", list),
        ("squad_v2", dict),
        ("squad_v1", dict),
    ],
)
def test_gold_from_raw_for_the_dev_sets_of_intermediate_tasks(task, expected):
    gold = gold_from_raw(task, "en", RAW, "dev")
    assert isinstance(gold, expected) and len(gold) > 0
    value = score_task(task, perfect(task, gold), gold)
    assert all(v == 100.0 for v in value.values())


# --- the score command --------------------------------------------------------------------------


def test_perfect_predictions_score_100_everywhere(submission, capsys, tmp_path):
    root, golds = submission
    code, out, err = score(root, capsys, "--json", str(tmp_path / "scores.json"))
    assert code == 0, err
    assert "XTREME-R average: 100.00" in out
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert set(scores) == {*XTREME_R_TASKS, "average"}
    for (task, lang), _ in golds.items():
        assert scores[task][lang] and all(v == 100.0 for v in scores[task][lang].values())
    assert set(scores["xquad"]["de"]) == {"exact_match", "f1"}
    assert set(scores["panx"]["de"]) == {"f1", "precision", "recall"}
    assert set(scores["lareqa"]["de"]) == {"map@20"}
    average = scores["average"]
    assert average["xtreme_r"] == 100.0 and set(average["categories"].values()) == {100.0}
    assert average["tasks"]["mlqa"]["languages"] == len(sample_languages("mlqa"))
    assert average["complete"] is False  # the sample data has a few languages per task
    assert average["missing"]["mlqa"] == ["es", "vi"]


def test_scores_reflect_wrong_predictions(copy, capsys, tmp_path):
    path = copy / "predictions" / "xnli" / "test-de.tsv"
    labels = path.read_text().splitlines()
    labels[0] = "neutral" if labels[0] != "neutral" else "entailment"
    path.write_text("\n".join(labels) + "\n")
    code, _, _ = score(copy, capsys, "--json", str(tmp_path / "scores.json"), "--tasks", "xnli")
    assert code == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["xnli"]["de"]["accuracy"] == pytest.approx(100 * (len(labels) - 1) / len(labels))
    assert scores["average"]["xtreme_r"] is None  # only one task scored
    assert set(scores) == {"xnli", "average"}


def test_missing_and_unmatched_files_are_reported_and_the_rest_scored(copy, capsys):
    os.remove(copy / "predictions" / "panx" / "test-sw.tsv")
    os.remove(copy / "labels" / "udpos" / "test-mr.tsv")
    shutil.copy(
        copy / "predictions" / "xnli" / "test-de.tsv",
        copy / "predictions" / "xnli" / "test-de.json",
    )
    code, out, err = score(copy, capsys)
    assert code == 0
    assert f"missing predictions: {copy / 'labels' / 'panx' / 'test-sw.tsv'}" in err
    assert f"missing labels: {copy / 'predictions' / 'udpos' / 'test-mr.tsv'}" in err
    assert f"ignored: {copy / 'predictions' / 'xnli' / 'test-de.json'}" in err
    assert "panx     avg 6/48" in out


@pytest.mark.parametrize(
    "file, damage, message",
    [
        (
            "xquad/test-de.json",
            "drop_first_id",
            r"xquad/test-de.json: no prediction for 1 of the \d+ ids in the labels, e\.g\. '",
        ),
        (
            "xnli/test-de.tsv",
            "drop_last_line",
            r"xnli/test-de.tsv: expected \d+ lines \(one per example of the labels\), found \d+",
        ),
        ("mlqa/test-zh.json", "truncate", r"mlqa/test-zh.json:\d+: invalid JSON \("),
        (
            "tydiqa/test-sw.json",
            "answer_as_list",
            r"tydiqa/test-sw.json: id '.+': expected an answer string, found list",
        ),
        (
            "lareqa/test-de.json",
            "ranking_as_string",
            r"lareqa/test-de.json: id '.+': expected a list of ranked candidate ids",
        ),
        (
            "panx/test-de.tsv",
            "drop_a_tag",
            r"panx/test-de.tsv:\d+: sentence 1 has \d+ tags; the labels have \d+ words",
        ),
        (
            "xcopa/test-sw.jsonl",
            "word_for_index",
            r"xcopa/test-sw.jsonl:1: invalid JSON",
        ),
        ("xnli/test-zh.tsv", "unknown_label", r"xnli/test-zh.tsv:1: 'maybe' is not a xnli label"),
        (
            "mewslix/test-en.json",
            "not_an_object",
            r"mewslix/test-en.json: expected a JSON object keyed by id, found list",
        ),
    ],
)
def test_bad_prediction_files_fail_with_file_line_and_problem(
    copy, capsys, tmp_path, file, damage, message
):
    path = copy / "predictions" / file
    text = path.read_text()
    if damage == "drop_first_id":
        data = json.loads(text)
        data.pop(next(iter(data)))
        text = json.dumps(data)
    elif damage == "drop_last_line":
        text = "".join(text.splitlines(keepends=True)[:-1])
    elif damage == "truncate":
        text = text[: len(text) // 2]
    elif damage == "answer_as_list":
        data = json.loads(text)
        data[next(iter(data))] = ["an answer"]
        text = json.dumps(data)
    elif damage == "ranking_as_string":
        data = json.loads(text)
        data[next(iter(data))] = "de-1"
        text = json.dumps(data)
    elif damage == "drop_a_tag":
        text = text.split("\n", 1)[1]  # the first word's tag
    elif damage == "word_for_index":
        text = "first\n" + text.split("\n", 1)[1]
    elif damage == "unknown_label":
        text = "maybe\n" + text.split("\n", 1)[1]
    elif damage == "not_an_object":
        text = json.dumps(list(json.loads(text)))
    path.write_text(text)
    code, out, err = score(copy, capsys, "--json", str(tmp_path / "scores.json"))
    assert code == 1
    assert err.count("error: ") == 1, err  # the one bad file; every other file is scored
    assert re.search(message, err), err
    assert str(path) in err
    assert "XTREME-R average" in out
    assert not os.path.exists(tmp_path / "scores.json")  # no results from a bad submission


def test_nothing_to_score_and_missing_folders_are_errors(copy, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code = cli.main(
        ["score", "--predictions", str(tmp_path / "empty"), "--labels", str(copy / "labels")]
    )
    assert code == 1
    assert "error: no (task, language) has both a prediction file" in capsys.readouterr().err
    code = cli.main(
        ["score", "--predictions", str(copy / "predictions"), "--labels", str(tmp_path / "nope")]
    )
    assert code == 1
    assert f"error: {tmp_path / 'nope'}: labels folder not found" in capsys.readouterr().err
    code = cli.main(["score", "--predictions", str(copy), "--labels", str(copy), "--tasks", "xnil"])
    assert code == 1
    assert "unknown task 'xnil'" in capsys.readouterr().err


def test_readers_raise_data_errors(tmp_path):
    path = tmp_path / "xnli" / "test-de.tsv"
    path.parent.mkdir()
    path.write_text("entailment\n\nneutral\n")
    with pytest.raises(DataError, match=r"test-de.tsv:2: empty line; expected one label per line"):
        read_labels(str(path), "xnli")
    path.write_bytes(b"entailment\n\xff\n")
    with pytest.raises(DataError, match=r"test-de.tsv:2: not valid UTF-8"):
        read_labels(str(path), "xnli")
    with pytest.raises(DataError, match="file not found"):
        read_labels(str(tmp_path / "xnli" / "test-fr.tsv"), "xnli")


# --- the command line -----------------------------------------------------------------------------


def test_a_command_is_one_entry_of_the_command_table(monkeypatch, capsys):
    assert set(cli.COMMANDS) == {"predict", "score", "report", "adaptive"}
    for name, command in cli.COMMANDS.items():  # each command's help is its run's docstring
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        assert command.run.__doc__.split("\n")[0] in capsys.readouterr().out

    def echo(args):
        """Echo a word (a command added by one entry)."""
        print(f"echo {args.word}")
        return 7

    added = cli.Command(lambda parser: parser.add_argument("--word", required=True), echo)
    monkeypatch.setitem(cli.COMMANDS, "echo", added)
    assert cli.main(["echo", "--word", "hi"]) == 7
    assert capsys.readouterr().out == "echo hi\n"


@pytest.mark.slow  # the command as a subprocess
def test_python_m_eval_score_end_to_end(submission, tmp_path):
    root, _ = submission
    result = subprocess.run(
        [sys.executable, "-m", "eval", "score", "--predictions", str(root / "predictions"),
         "--labels", str(root / "labels"), "--json", str(tmp_path / "s.json")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "XTREME-R average: 100.00" in result.stdout
    assert json.loads((tmp_path / "s.json").read_text())["average"]["xtreme_r"] == 100.0
