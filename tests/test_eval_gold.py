"""Which split of a target is scored and where its gold comes from; a split without
gold is predicted and written as submission files, never scored; what a study needs
from its raw folder is checked before anything trains."""

import json
import os
import re
import shutil

import pytest

from eval.scoring.gold import plan_evaluation
from eval.scoring.submission import write_labels
from tests.study_config import two_stage_config
from train.study.plan.plan import ConfigError, build_dag
from train.study.run.data_check import check_study_data, needed_rows, print_data_check
from train.study.run.runner import run_study
from xlmr_flax.data import sample_data_dir
from xlmr_flax.data.__main__ import main as data_main
from xlmr_flax.tasks import get_task

LANGS = ("ar", "de", "en", "hi", "ru", "sw", "zh")


@pytest.fixture
def xtreme_xnli(tmp_path):
    """The sample data with XNLI's test files as XTREME's script leaves them: the
    label column removed. Returns (raw folder, the removed gold per language)."""
    raw = tmp_path / "raw"
    shutil.copytree(sample_data_dir(), raw)
    gold = {}
    for lang in LANGS:
        path = raw / "xnli" / f"test-{lang}.tsv"
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
        gold[lang] = [r[2] for r in rows]
        path.write_text("".join(f"{a}\t{b}\n" for a, b, _ in rows), encoding="utf-8")
    return str(raw), gold


def test_auto_scores_test_where_it_has_gold_and_dev_where_only_dev_has():
    plan = plan_evaluation("xnli", sample_data_dir())
    assert plan.split == "test" and set(plan.scored) == set(LANGS)
    assert {s.origin for s in plan.scored.values()} == {"raw:xtreme"}
    assert plan.test_langs == tuple(get_task("xnli").eval_langs[i] for i in _order())


def _order():
    langs = get_task("xnli").eval_langs
    return [i for i, lang in enumerate(langs) if lang in LANGS]


def test_a_test_split_without_labels_is_predicted_but_dev_is_scored(xtreme_xnli):
    raw, _ = xtreme_xnli
    plan = plan_evaluation("xnli", raw)
    assert plan.split == "dev" and set(plan.scored) == set(LANGS)
    assert set(plan.test_langs) == set(LANGS)  # still predicted, for submission files
    assert "no gold label" in get_task("xnli").gold(raw, "test", "sw")


def test_a_labels_folder_gives_test_gold(xtreme_xnli, tmp_path):
    raw, gold = xtreme_xnli
    labels = tmp_path / "labels"
    for lang, values in gold.items():
        write_labels(str(labels), "xnli", lang, values)
    plan = plan_evaluation("xnli", raw, str(labels))
    assert plan.split == "test" and {s.origin for s in plan.scored.values()} == {"labels"}
    assert plan.scored["sw"].load("xnli", raw) == gold["sw"]


def test_a_config_that_scores_a_split_without_gold_is_refused_before_training(xtreme_xnli):
    config = two_stage_config()
    config.raw_data, _ = xtreme_xnli
    config.eval.split = {"xnli": "test"}
    with pytest.raises(ConfigError, match=r"eval\.split\.xnli='test' but no test language has"):
        check_study_data(config, build_dag(config))
    config.eval.split = {"xquad": "dev"}
    with pytest.raises(ConfigError, match=r"eval\.split\.xquad: 'xquad' is not a target"):
        check_study_data(config, build_dag(config))


def test_broken_files_are_named_with_their_line_before_training(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(sample_data_dir(), raw)
    (raw / "mnli" / "train.tsv").write_bytes(b"no header row\n")
    config = two_stage_config()
    config.raw_data = str(raw)
    rows, problems = needed_rows(config, build_dag(config))
    assert any("mnli train:" in p and "train.tsv" in p for p in problems), problems
    assert {r.task for r in rows} >= {"mnli", "xnli", "tatoeba"}


def test_the_study_check_prints_what_it_reads_and_what_it_lacks(xtreme_xnli, capsys):
    config = two_stage_config()
    config.raw_data, _ = xtreme_xnli
    assert print_data_check(config, build_dag(config))
    out = capsys.readouterr().out
    assert re.search(r"\nxnli +test +sw +xtreme", out) and "every split the study needs" in out
    for path in get_task("xnli").files(config.raw_data, "test", "sw"):
        os.remove(path)
    os.remove(*get_task("mnli").files(config.raw_data, "train", "en"))
    assert not print_data_check(config, build_dag(config))
    out = capsys.readouterr().out
    assert "mnli: no English training data" in out and "xnli test sw" not in out


def test_doctor_prints_every_split_found_and_fails_on_a_broken_file(xtreme_xnli, capsys):
    raw, _ = xtreme_xnli
    assert data_main(["doctor", "--raw", raw]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\nxnli +test +sw +xtreme +9 +no +.*no gold label", table)
    with open(raw + "/xnli/dev-sw.tsv", "a", encoding="utf-8") as f:
        f.write("only one column\n")
    assert data_main(["doctor", "--raw", raw]) == 1
    assert "dev-sw.tsv:10:" in capsys.readouterr().out


@pytest.mark.slow
def test_a_study_on_test_files_without_labels_scores_dev_and_writes_submissions(
    xtreme_xnli, tmp_path
):
    raw, gold = xtreme_xnli
    config = two_stage_config()
    config.raw_data = raw
    workdir = tmp_path / "run"
    run_study(config, str(workdir), out=lambda *_: None)
    records = [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()]
    xnli = [r for r in records if r["kind"] == "zero_shot" and r["target"] == "xnli"]
    assert {(r["split"], r["gold"]) for r in xnli} == {("dev", "raw:xtreme")}
    report = (workdir / "report" / "report.md").read_text()
    assert (
        "**Scored on** (split, gold): tatoeba test (raw:original); xnli dev (raw:xtreme)" in report
    )
    scores_csv = (workdir / "report" / "scores.csv").read_text().splitlines()
    assert scores_csv[0].startswith("path,target,lang,split,gold,")
    assert any(",xnli,sw,dev,raw:xtreme," in row for row in scores_csv)
    [stage] = {r["stage"] for r in xnli}
    submissions = workdir / "stages" / stage / "submission" / "xnli"
    assert sorted(p.name for p in submissions.iterdir()) == [f"test-{x}.tsv" for x in LANGS]
    assert len((submissions / "test-sw.tsv").read_text().splitlines()) == len(gold["sw"])

    # The same workdir with test gold from a labels folder: evaluated anew on test
    # (the units' keys differ), nothing retrained, the dev results kept on disk.
    labels = tmp_path / "labels"
    for lang, values in gold.items():
        write_labels(str(labels), "xnli", lang, values)
    config.eval.labels = str(labels)
    before = sorted(p.name for p in (workdir / "stages" / stage / "eval").glob("xnli-*.json"))
    summary = run_study(config, str(workdir), out=lambda *_: None)
    assert summary["evaluations_run"] >= 1
    records = [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()]
    xnli = [r for r in records if r["kind"] == "zero_shot" and r["target"] == "xnli"]
    assert {(r["split"], r["gold"]) for r in xnli} == {("test", "labels")}
    after = sorted(p.name for p in (workdir / "stages" / stage / "eval").glob("xnli-*.json"))
    assert set(before) < set(after)
