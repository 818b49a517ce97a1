"""A study on the folder XTREME's download script leaves: every target trains and is
predicted; the splits with gold are scored, the rest become submission files that
the official scorer reads together with labels from the original releases."""

import json
import os
import subprocess
import sys

import pytest

from eval.scoring.folders import score_directories
from eval.scoring.submission import gold_from_raw, write_labels
from tests.raw_fixtures import qa_and_retrieval, reasoning_and_intermediate, sentence_and_tagging
from xlmr_flax.data.doctor import inspect
from xlmr_flax.tasks import TARGETS, get_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = (sentence_and_tagging, qa_and_retrieval, reasoning_and_intermediate)
# XTREME's folder has dev gold for these (LAReQA: gold on its one split).
SCORED = {"xnli", "panx", "udpos", "mlqa", "xcopa", "mewslix", "lareqa"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("raw")
    xtreme, originals = base / "xtreme", base / "originals"
    for part in PARTS:
        part.write_xtreme(str(xtreme))
        part.write_originals(str(originals))
    return str(xtreme), str(originals)


INTERMEDIATE = ("anli_plus", "mnli", "snli", "qqp", "sst2", "hellaswag", "commonsenseqa",
                "cosmosqa", "ccg")  # fmt: skip
CASES = [
    *((folder, task) for folder in ("xtreme", "originals")
      for task in (*TARGETS, "squad_v1", "siqa", "copa")),
    *(("originals", task) for task in INTERMEDIATE),
]  # fmt: skip


@pytest.mark.parametrize("folder,task", CASES)
def test_every_target_and_training_task_reads_from_xtremes_folder_and_the_releases(
    folders, folder, task
):
    raw = folders[0] if folder == "xtreme" else folders[1]
    assert get_task(task).available(raw), f"{task}: not in the {folder} fixture"
    assert [r.problem for r in inspect(raw, [task]) if r.problem] == []


@pytest.mark.slow
def test_a_study_on_xtremes_folder_scores_dev_and_writes_every_test_submission(folders, tmp_path):
    xtreme, originals = folders
    workdir = tmp_path / "run"
    arg = (  # one path (squad_v1), every target
        f"model=tiny,tasks=squad_v1,order=1,baseline=no,seeds=1,targets=all,max_steps=2,"
        f"raw_data={xtreme}"
    )
    command = [sys.executable, "-m", "train", "--config", f"configs/xtreme_r_sequencing.py:{arg}"]
    run = subprocess.run(
        [*command, "--workdir", str(workdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert run.returncode == 0, run.stderr[-4000:]

    records = [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()]
    zero_shot = [r for r in records if r["kind"] == "zero_shot"]
    assert {r["target"] for r in zero_shot} == SCORED
    for r in zero_shot:
        expected = "test" if r["target"] == "lareqa" else "dev"
        assert r["split"] == expected and r["gold"].startswith("raw:"), r

    # Each evaluated stage's submission folder, scored against labels built from the
    # releases: every test language of every target is there and reads back.
    labels = tmp_path / "labels"
    written = {}
    for folder in workdir.glob("stages/*/submission"):
        for task_dir in folder.iterdir():
            written.setdefault(task_dir.name, set()).update(p.name for p in task_dir.iterdir())
            for lang in get_task(task_dir.name).eval_langs:
                if get_task(task_dir.name).locate(originals, "test", lang):
                    gold = gold_from_raw(task_dir.name, lang, originals, "test")
                    write_labels(str(labels), task_dir.name, lang, gold)
    assert set(written) == set(TARGETS)
    for task, names in written.items():
        langs = {lang for split, lang in get_task(task).available(xtreme) if split == "test"}
        ext = {"xcopa": "jsonl"}.get(task, "json" if task in QA_JSON else "tsv")
        assert names == {f"test-{lang}.{ext}" for lang in langs}, task
        stage_dir = next(f for f in workdir.glob("stages/*/submission") if (f / task).is_dir())
        scores = score_directories(str(stage_dir), str(labels), tasks=[task])
        assert not scores.errors, scores.errors
        assert scores.results.get(task) or task == "lareqa", task


QA_JSON = {"xquad", "mlqa", "tydiqa", "mewslix", "lareqa"}
