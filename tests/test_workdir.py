"""A workdir belongs to one study at a time and to one run at a time: it records the
study and the id scheme, refuses an older scheme naming the release that migrates
it, is locked by a
lock that outlives SIGKILL, and every problem is one line with a documented exit
code."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.test_identity import quick
from train.study.layout import WORKDIR_FILE, lock_path
from train.study.plan.dag import ID_SCHEME
from train.study.plan.plan import ConfigError, build_dag
from train.study.run import lock as lock_lib
from train.study.run.lock import WorkdirLock, WorkdirLocked
from train.study.run.workdir import (
    MIGRATING_RELEASE,
    WorkdirError,
    check_workdir,
    prepare_workdir,
    record_study,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDY = os.path.join(ROOT, "tests", "study_config.py")


def main_command(workdir, *extra):
    command = [sys.executable, "-m", "train", "--config", STUDY, "--workdir", str(workdir)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [*command, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


# ----------------------------------------------------------------------------------
# The lock
# ----------------------------------------------------------------------------------


def test_a_second_run_on_a_locked_workdir_is_refused_until_the_first_ends(tmp_path):
    with WorkdirLock(str(tmp_path)):
        with pytest.raises(WorkdirLocked, match=r"is in use by a run on host .* --break_lock"):
            WorkdirLock(str(tmp_path)).acquire()
        with pytest.raises(WorkdirLocked):  # a shard overlaps the whole study
            WorkdirLock(str(tmp_path), (1, 2)).acquire()
    with WorkdirLock(str(tmp_path)):  # released: free again
        pass
    assert not os.listdir(tmp_path / "locks")


def test_disjoint_shards_share_a_workdir(tmp_path):
    with (
        WorkdirLock(str(tmp_path), (0, 2)),
        WorkdirLock(str(tmp_path), (1, 2)),
        pytest.raises(WorkdirLocked),
    ):
        WorkdirLock(str(tmp_path), (0, 3)).acquire()


@pytest.mark.slow  # a lock holder in a subprocess
def test_a_lock_survives_sigkill_and_its_stale_file_is_broken_with_a_warning(tmp_path, caplog):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from train.study.run.lock import WorkdirLock; "
         f"WorkdirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(WorkdirLocked, match=f"pid {holder.pid}"):
        WorkdirLock(str(tmp_path)).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.exists(lock_path(str(tmp_path), (0, 1)))  # nothing removed it
    with WorkdirLock(str(tmp_path)):
        assert f"process {holder.pid} on this host is gone" in caplog.text


def write_lock(tmp_path, host, heartbeat, shard=(0, 1)):
    path = lock_path(str(tmp_path), shard)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    record = dict(host=host, pid=1, shard=list(shard), started=heartbeat, heartbeat=heartbeat)
    with open(path, "w") as f:
        json.dump(record, f)


def test_another_hosts_lock_holds_while_its_heartbeat_is_fresh(tmp_path, caplog):
    assert socket.gethostname() != "worker-7"
    write_lock(tmp_path, "worker-7", time.time())
    with pytest.raises(WorkdirLocked, match="host worker-7"):
        WorkdirLock(str(tmp_path)).acquire()
    with WorkdirLock(str(tmp_path), break_lock=True):  # the documented way out
        assert "--break_lock" in caplog.text
    write_lock(tmp_path, "worker-7", time.time() - lock_lib.STALE_AFTER_S - 60)
    with WorkdirLock(str(tmp_path)):
        assert "heartbeat is 11 minutes old" in caplog.text


@pytest.mark.slow  # the main command as a subprocess
def test_concurrent_runs_of_the_main_command_exit_3_with_one_line(tmp_path):
    with WorkdirLock(str(tmp_path)):
        run = main_command(tmp_path)
    assert run.returncode == 3, run.stderr[-3000:]
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path} is in use by")
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "stages").exists()


# ----------------------------------------------------------------------------------
# The study record
# ----------------------------------------------------------------------------------


def test_a_workdir_records_its_study_and_names_what_another_config_changes(tmp_path):
    config, workdir = quick(), str(tmp_path)
    dag = build_dag(config)
    assert check_workdir(config, dag, workdir) == []
    record_study(config, dag, workdir)
    record = json.loads((tmp_path / WORKDIR_FILE).read_text())
    assert record["id_scheme"] == ID_SCHEME and record["study"] == dag.identity()
    assert check_workdir(config, dag, workdir) == []  # the same study: nothing to say
    config.hparams.default.checkpoint_every = 3  # a run option: the same study
    assert build_dag(config).identity() == dag.identity()
    config.study.seeds = (0, 1)
    config.hparams.default.learning_rate = 3e-4
    (note,) = check_workdir(config, build_dag(config), workdir)
    assert "differs in hyperparameters (" in note and "seeds" in note
    assert "0 of " in note and "stages are already done and shared" in note


def tree(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_older_id_scheme_is_refused_in_one_line_naming_the_release_that_migrates_it(
    tmp_path,
):
    config, workdir = quick(), str(tmp_path)
    dag = build_dag(config)
    (tmp_path / "stages" / "0123456789ab").mkdir(parents=True)
    (tmp_path / "stages" / "0123456789ab" / "DONE").write_text("")
    (tmp_path / "pretrained.DONE").write_text("")
    (tmp_path / "results.jsonl").write_text('{"score": 1}\n')
    before = tree(tmp_path)
    with pytest.raises(WorkdirError) as refused:
        check_workdir(config, dag, workdir)
    (line,) = str(refused.value).splitlines()
    assert "id scheme 1 (stages, pretrained.DONE; no workdir.json)" in line
    assert f"{MIGRATING_RELEASE} migrates it" in line and "new --workdir" in line
    assert MIGRATING_RELEASE.startswith("xlmr-flax 0.1.0 at commit ")
    assert tree(tmp_path) == before  # nothing changed, nothing lost
    (tmp_path / WORKDIR_FILE).write_text(json.dumps({"id_scheme": ID_SCHEME + 1}))
    with pytest.raises(WorkdirError, match=f"has id scheme {ID_SCHEME + 1}"):
        check_workdir(config, dag, workdir)


def test_a_unit_file_cut_short_is_removed_with_a_warning(tmp_path, caplog):
    from train.study.plan.evaluations import target_unit
    from train.study.run.results import unit_records
    from train.study.run.units import unit_file

    config = quick()
    xnli = target_unit(config, "xnli")
    path = unit_file(config, str(tmp_path), "0123456789ab", xnli)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"records": [{"lang": "de", "met')
    assert unit_records(config, str(tmp_path), "0123456789ab", xnli) is None
    assert f"evaluation unit {path} is corrupt" in caplog.text
    assert not os.path.exists(path)  # so the run evaluates it again


def test_a_workdir_that_is_a_file_or_unwritable_is_one_line(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(WorkdirError, match=f"--workdir {afile}: is a file, expected a folder"):
        prepare_workdir(str(afile))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(WorkdirError, match="cannot write there \\(Read-only file system\\)"):
        prepare_workdir(str(tmp_path / "run"))


@pytest.mark.slow  # the main command as a subprocess
def test_the_main_command_reports_config_and_workdir_errors_in_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    run = main_command(afile)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"error: --workdir {afile}: is a file, expected a folder"
    )
    assert issubclass(WorkdirError, ConfigError)


def test_storage_errors_are_found_behind_other_exceptions():
    from train.__main__ import storage_error, storage_message

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/w/stages/x/model")
        except OSError as inner:
            raise RuntimeError("Event loop is closed") from inner
    except RuntimeError as outer:
        found = storage_error(outer)
    assert storage_message(found).startswith("/w/stages/x/model: disk full; free space")
    tensorstore = ValueError(
        'RESOURCE_EXHAUSTED: Error writing "a/0" ... Failed writing: "/w/stages/x/d/ab12": '
        "No space left on device [OS error 28]"
    )
    assert storage_error(tensorstore).filename == "/w/stages/x/d/ab12"
    assert storage_error(ValueError("shape mismatch")) is None
    unnamed = OSError(errno.ENOSPC, "No space left on device")
    assert storage_message(unnamed, "/w").startswith("/w: disk full")


def test_the_closed_event_loop_traces_of_a_failed_save_are_not_printed():
    from train.__main__ import quiet_closed_event_loops

    seen = []
    hook = quiet_closed_event_loops(lambda kind, value, tb: seen.append(value))
    hook(RuntimeError, RuntimeError("Event loop is closed"), None)
    other = RuntimeError("something else")
    hook(RuntimeError, other, None)
    assert seen == [other]


# ----------------------------------------------------------------------------------
# End to end: another config in the same workdir
# ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_foreign_config_trains_what_changed_and_a_run_option_nothing(tmp_path, monkeypatch):
    import shutil

    from tests.study_config import two_stage_config
    from train.study.run import work as study_lib
    from train.study.run.runner import run_study
    from xlmr_flax.data import sample_data_dir

    trained = []
    real_train_stage = study_lib.train_stage

    def counting(config, dag, stage, *args, **kwargs):
        trained.append(stage.id)
        return real_train_stage(config, dag, stage, *args, **kwargs)

    monkeypatch.setattr(study_lib, "train_stage", counting)
    raw = tmp_path / "raw"
    shutil.copytree(sample_data_dir(), raw)
    config = two_stage_config()
    config.raw_data = str(raw)
    workdir = tmp_path / "run"
    notes = []
    run_study(config, str(workdir), out=notes.append)
    first = (workdir / "results.jsonl").read_text()
    assert len(trained) == 3  # mnli, then xnli and Tatoeba's squad_v1 on top of it

    # Checkpoint and log cadence: the same study, nothing trained again; a unit file
    # cut short is evaluated again (with a warning), the rest is kept.
    (unit,) = workdir.glob("stages/*/eval/xnli-*.json")
    unit.write_text(unit.read_text()[:50])
    config.hparams.default.update(checkpoint_every=1, log_every=1)
    summary = run_study(config, str(workdir), out=notes.append)
    assert len(trained) == 3 and summary["evaluations_run"] == 1
    assert (workdir / "results.jsonl").read_text() == first

    # Other MNLI labels: MNLI trains again, and XNLI and SQuAD v1.1 on top of it.
    train = raw / "mnli" / "train.tsv"
    train.write_text(train.read_text().replace("entailment", "neutral"), encoding="utf-8")
    notes.clear()
    run_study(config, str(workdir), out=notes.append)
    assert len(trained) == 6 and not set(trained[:3]) & set(trained[3:])
    assert any("differs in training data (mnli)" in n for n in notes), notes
    stages = {json.loads(line)["stage"] for line in (workdir / "results.jsonl").open()}
    assert stages.isdisjoint(trained[:3]) and set(trained[3:]) <= stages
