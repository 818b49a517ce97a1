"""The main command runs a study to results.jsonl, survives SIGKILL anywhere, and a
rerun of a finished study changes nothing."""

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.study_config import get_config, two_stage_config
from tests.two_process_cluster import launch
from train.study.plan.plan import ConfigError, build_dag
from train.study.run.runner import run_study
from xlmr_flax.faults import ENV as KILL_AT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "tests", "study_config.py")


def main_command(workdir, cache, kill_at=None, extra=()):
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache))
    env.pop(KILL_AT, None)
    if kill_at:
        env[KILL_AT] = kill_at
    command = [sys.executable, "-m", "train", "--config", CONFIG, "--workdir", str(workdir)]
    return subprocess.run(
        [*command, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def results(workdir):
    return (workdir / "results.jsonl").read_text().splitlines()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    base = tmp_path_factory.mktemp("study")
    run = main_command(base / "run", base / "cache")
    assert run.returncode == 0, run.stderr[-4000:]
    return base


@pytest.mark.slow  # whole studies as subprocesses
def test_a_study_writes_one_record_per_path_target_language_seed_metric(uninterrupted):
    records = [json.loads(line) for line in results(uninterrupted / "run")]
    zero_shot = [r for r in records if r["kind"] == "zero_shot"]
    assert {r["target"] for r in zero_shot} == {"xquad", "tatoeba"}
    assert {tuple(r["path"]) for r in zero_shot} == {("mnli", "squad_v1")}
    # Tatoeba is scored with the path's SQuAD v1.1 model, XQuAD's (XTREME-R's protocol).
    stages = {(r["target"], r["stage"]) for r in zero_shot}
    assert {s for t, s in stages if t == "tatoeba"} == {s for t, s in stages if t == "xquad"}
    xquad = {(r["lang"], r["metric"]) for r in zero_shot if r["target"] == "xquad"}
    assert {lang for lang, _ in xquad} >= {"en", "de", "ru", "zh", "ar", "hi"}
    assert {m for _, m in xquad} == {"exact_match", "f1"}
    for r in records:
        assert {"path", "target", "lang", "seed", "metric", "value"} <= set(r)
        assert 0.0 <= r["value"] <= 100.0
        assert os.path.exists(uninterrupted / "run" / r["examples"])
    # Forgetting: MNLI's dev score right after MNLI and again after SQuAD.
    dev = {tuple(r["path"]) for r in records if r["kind"] == "dev" and r["target"] == "mnli"}
    assert dev == {("mnli",), ("mnli", "squad_v1")}
    # Alignment of every encoder: the pretrained one and each of the three stages.
    alignment = {tuple(r["path"]) for r in records if r["kind"] == "alignment"}
    assert alignment == {(), ("mnli",), ("mnli", "squad_v1"), ("mnli", "squad_v1", "squad_v1")}
    # Goodput: each stage's four steps kept on the mesh's 8 devices; the run held all
    # 8 for its wall time, so the driver's own time is idle chip-time.
    goodput = json.loads((uninterrupted / "run" / "goodput.json").read_text())
    trained = [s for s in goodput["stages"] if s["task"] != "pretrained"]
    assert [(s["preserved_steps"], s["lost_steps"], s["chips"]) for s in trained] == [(4, 0, 8)] * 3
    study = goodput["study"]
    assert study["chips"] == 8 and study["chip_s"] == pytest.approx(8 * study["wall_s"], rel=1e-3)
    assert study["parts"]["idle"] > 0 and 0 < study["goodput"] < 1


@pytest.mark.slow  # whole studies as subprocesses
def test_killed_anywhere_and_restarted_gives_identical_results(uninterrupted, tmp_path):
    dag = build_dag(get_config())
    first, second, third = (s.id for s in dag.in_order())
    workdir = tmp_path / "run"
    for point in (
        f"step:{second}:3",  # inside a stage, after its step-2 checkpoint
        f"stage:{second}",  # between stages, right after a DONE marker
        f"eval:{third}:tatoeba",  # between two evaluations of a stage
    ):
        killed = main_command(workdir, uninterrupted / "cache", kill_at=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-3000:])
    assert os.path.exists(workdir / "stages" / first / "DONE")
    finished = main_command(workdir, uninterrupted / "cache")
    assert finished.returncode == 0, finished.stderr[-4000:]
    assert results(workdir) == results(uninterrupted / "run")


@pytest.mark.slow  # whole studies as subprocesses
def test_rerunning_a_finished_study_retrains_and_reevaluates_nothing(uninterrupted):
    workdir = uninterrupted / "run"
    before = {p: p.stat().st_mtime_ns for p in workdir.glob("stages/*/**/*") if p.is_file()}
    again = main_command(workdir, uninterrupted / "cache")
    assert again.returncode == 0, again.stderr[-4000:]
    after = {p: p.stat().st_mtime_ns for p in workdir.glob("stages/*/**/*") if p.is_file()}
    assert after == before
    assert "training" not in again.stdout


def test_missing_data_stops_the_run_before_anything_is_written(tmp_path):
    config = get_config()
    config.raw_data = str(tmp_path / "empty")
    with pytest.raises(
        ConfigError, match=r"(?s)mnli: no English training data under .*squad_v1: no"
    ):
        run_study(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_gs_workdir_is_its_mounted_bucket(tmp_path, monkeypatch):
    monkeypatch.setenv("XLMR_FLAX_GCS_MOUNT", str(tmp_path / "gcs"))
    with pytest.raises(ConfigError, match=r"bucket b is not mounted at .*gcs/b"):
        run_study(get_config(), "gs://b/runs/x")
    assert not (tmp_path / "gcs").exists()


@pytest.mark.slow  # two processes
def test_two_processes_run_a_study_that_one_process_finds_complete(tmp_path):
    """Multi-host: process 0 alone publishes shared files, Orbax saves collectively,
    and the result is a study that a single process has nothing left to do in."""
    workdir = tmp_path / "run"
    launch("tests/multihost_study_worker.py", str(workdir), timeout_s=600)
    records = (workdir / "results.jsonl").read_text()
    assert not list(workdir.glob("**/.partial-*"))
    summary = run_study(two_stage_config(), str(workdir), out=lambda *_: None)
    assert summary["evaluations_run"] == 0 and summary["records"] == len(records.splitlines())
    assert (workdir / "results.jsonl").read_text() == records
    zero_shot = [json.loads(x) for x in records.splitlines() if '"zero_shot"' in x]
    assert {(r["target"], r["lang"]) for r in zero_shot} >= {("xnli", "sw"), ("tatoeba", "zh")}
