"""launch_tpu.sh against a fake `gcloud` that records its arguments (no cloud, no network).

The remote scripts it sends are checked too: by `bash -n`, and `setup` and the
`run` / `stop` pair by running them on this machine as a stand-in worker with fake
programs (Python, sudo, gcsfuse, mountpoint) that record what they are asked to do.
"""

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "launch_tpu.sh")
NAME, ZONE = "xlmr-test", "us-central2-b"
MOUNT = "/mnt/gcs/my-bucket"  # where the workers mount gs://my-bucket
GCSFUSE_OPTIONS = ["--implicit-dirs", "--rename-dir-limit=1000000", "--metadata-cache-ttl-secs=0"]
FAKE_GCLOUD = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if "describe" in sys.argv:
    print("ACTIVE")
"""


@pytest.fixture
def launcher(tmp_path):
    """launch(*args, env=..., path=...) -> (completed process, recorded gcloud calls)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "gcloud").write_text(FAKE_GCLOUD)
    (fake_bin / "gcloud").chmod(0o755)
    log = tmp_path / "gcloud.jsonl"

    def launch(*args, env=None, path=None):
        environment = {
            "PATH": path if path is not None else f"{fake_bin}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TMPDIR": str(tmp_path),
            "FAKE_GCLOUD_LOG": str(log),
            "XLMR_TPU_NAME": NAME,
            "XLMR_TPU_ZONE": ZONE,
            "XLMR_TPU_BUCKET": "my-bucket",
            "XLMR_TPU_RUN_ID": "r0",  # else the time: a dry run and a real one would differ
        }
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        done = subprocess.run(
            ["/bin/bash", SCRIPT, *args], cwd=tmp_path, env=environment,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return done, calls

    return launch


def remote_command(call):
    """The --command of a recorded `tpu-vm ssh` call."""
    assert call[:4] == ["compute", "tpus", "tpu-vm", "ssh"], call
    (command,) = [a.removeprefix("--command=") for a in call if a.startswith("--command=")]
    assert subprocess.run(["bash", "-n", "-c", command]).returncode == 0, command
    return command


def shell_words(command):
    """The words of a shell script, with `;`, `&&`, `|`, ... as words of their own."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def program_calls(command, program):
    """The arguments of every call of `program` in a shell script: where it is the command."""
    words = shell_words(command)
    calls = []
    for i, word in enumerate(words):
        before = words[i - 1] if i else ";"
        if word == program and (before in ("{", "!", "then", "else") or before[0] in ";&|"):
            end = next((j for j in range(i + 1, len(words)) if words[j][0] in ";&|<>(){}"), None)
            calls.append(words[i + 1 : end])
    return calls


def fake_programs(directory, programs):
    """Shell scripts that log `NAME ARGS` to $FAKE_LOG, then run their body."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in programs.items():
        path = directory / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "$FAKE_LOG"\n{body}\n')
        path.chmod(0o755)


def python_argv(command):
    words = shlex.split(command)
    start = words.index("~/xlmr-venv/bin/python")
    end = next(i for i in range(start, len(words)) if words[i] in (">", "2>&1", "|"))
    return words[start + 1 : end]


def test_help_and_no_arguments_print_usage(launcher):
    for args in [(), ("help",), ("--help",)]:
        done, calls = launcher(*args)
        assert done.returncode == 0 and not calls
        for command in ("create", "setup", "run", "stop", "status", "fetch", "delete"):
            assert f"\n  {command} " in done.stdout


def test_create_pod_slice_on_spot(launcher, tmp_path):
    done, calls = launcher("create", "--accelerator", "v4-32", "--spot")
    assert done.returncode == 0, done.stderr
    startup = tmp_path / f"xlmr-flax-{NAME}-startup.sh"
    assert calls == [[
        "compute", "tpus", "queued-resources", "create", NAME, f"--node-id={NAME}",
        f"--zone={ZONE}", "--accelerator-type=v4-32", "--runtime-version=tpu-ubuntu2204-base",
        "--spot", f"--metadata-from-file=startup-script={startup}",
    ]]  # fmt: skip
    # At every boot the startup script resumes the run that `run` left on the worker.
    script = startup.read_text()
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
    assert 'bash "$home/xlmr-flax-autostart.sh"' in script
    # Without a bucket there is nothing to remount: no startup script.
    _, calls = launcher("create", env={"XLMR_TPU_BUCKET": None})
    assert not [a for a in calls[0] if a.startswith("--metadata")]


def test_create_on_demand_from_environment(launcher, tmp_path):
    env = {"XLMR_TPU_PROJECT": "my-project", "XLMR_TPU_ACCELERATOR": "v5litepod-16"}
    done, calls = launcher("create", "--", "--reserved", env=env)
    assert done.returncode == 0, done.stderr
    assert calls == [[
        "compute", "tpus", "queued-resources", "create", NAME, f"--node-id={NAME}",
        f"--zone={ZONE}", "--project=my-project", "--accelerator-type=v5litepod-16",
        "--runtime-version=v2-alpha-tpuv5-lite",
        f"--metadata-from-file=startup-script={tmp_path}/xlmr-flax-{NAME}-startup.sh", "--reserved",
    ]]  # fmt: skip
    # A flag overrides its variable: XLMR_TPU_SPOT=1 with --on-demand asks for on-demand.
    _, calls = launcher("create", "--on-demand", env={"XLMR_TPU_SPOT": "1"})
    assert "--spot" not in calls[0]
    _, calls = launcher("create", env={"XLMR_TPU_SPOT": "1"})
    assert "--spot" in calls[0]
    _, calls = launcher("create", "--accelerator=v6e-8", "--runtime=my-runtime")
    assert "--runtime-version=my-runtime" in calls[0] and "--accelerator-type=v6e-8" in calls[0]


def test_setup_uploads_the_commit_and_installs_the_lock_file_on_every_worker(launcher, tmp_path):
    done, calls = launcher("setup")
    assert done.returncode == 0, done.stderr
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    archive = tmp_path / f"xlmr-flax-{NAME}.tar.gz"
    assert calls[0] == [
        "compute", "tpus", "tpu-vm", "scp", str(archive), f"{NAME}:xlmr-flax.tar.gz",
        f"--zone={ZONE}", "--worker=all",
    ]  # fmt: skip
    assert calls[1][4:6] == [NAME, f"--zone={ZONE}"] and "--worker=all" in calls[1]
    command = remote_command(calls[1])
    assert (
        "rm -rf ~/xlmr-flax && mkdir -p ~/xlmr-flax && tar -xzf ~/xlmr-flax.tar.gz -C ~/xlmr-flax"
        in command
    )
    assert f"echo {commit} > ~/xlmr-flax/COMMIT" in command  # the manifests name it
    assert "python3.11 -m venv ~/xlmr-venv" in command
    assert "~/xlmr-venv/bin/pip install -q -r ~/xlmr-flax/requirements-tpu.lock" in command
    assert "~/xlmr-venv/bin/pip install -q --no-deps -e ~/xlmr-flax" in command
    assert program_calls(command, "gcsfuse") == [[*GCSFUSE_OPTIONS, "my-bucket", MOUNT]]
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    committed = subprocess.run(["git", "-C", ROOT, "ls-tree", "-r", "--name-only", "HEAD"],
                               capture_output=True, text=True).stdout.split()  # fmt: skip
    assert {"launch_tpu.sh", "requirements-tpu.lock", "configs/xtreme_r_sequencing.py"} <= names
    assert names >= set(committed) and not [
        n for n in names if n.startswith(("runs/", "download/"))
    ]


def test_setup_from_git_with_data(launcher):
    repo = "https://example.com/lab/xlmr-flax.git"
    done, calls = launcher("setup", "--repo", repo, "--ref", "v1.2", "--data", "gs://b/raw/")
    assert done.returncode == 0, done.stderr
    (call,) = calls  # nothing copied from here
    command = remote_command(call)
    assert f"git clone --quiet {repo} ~/xlmr-flax" in command
    assert "git -C ~/xlmr-flax checkout --quiet --detach v1.2" in command
    assert "gcloud storage rsync --recursive gs://b/raw ~/xlmr-flax/download" in command
    done, _ = launcher("setup", "--data", "/local/raw")
    assert done.returncode == 2 and "--data must be a gs:// folder" in done.stderr


def test_setup_mounts_the_bucket_of_the_workdir(launcher):
    def mounts(*args, env=None):
        done, calls = launcher("setup", "--repo", "https://example.com/r.git", *args, env=env)
        assert done.returncode == 0, done.stderr
        command = remote_command(calls[-1])
        (mount,) = program_calls(command, "gcsfuse")
        assert f"mountpoint -q {mount[-1]} ||" in command  # mounts only what is not mounted
        return mount[-2:]

    assert mounts() == ["my-bucket", MOUNT]
    assert mounts("--bucket", "gs://other/") == ["other", "/mnt/gcs/other"]
    # The workdir's own bucket, also without --bucket; the workdir wins over --bucket.
    env = {"XLMR_TPU_WORKDIR": "gs://study-bucket/x/y", "XLMR_TPU_BUCKET": None}
    assert mounts(env=env) == ["study-bucket", "/mnt/gcs/study-bucket"]
    assert mounts("--workdir", "gs://b/w") == ["b", "/mnt/gcs/b"]


def test_setup_script_installs_gcsfuse_and_mounts_once_on_a_stand_in_worker(launcher, tmp_path):
    """setup's remote script, run here twice: the second run installs and mounts nothing."""
    if shutil.which("gcsfuse", path="/usr/bin:/bin"):
        pytest.skip("gcsfuse is installed here: the first run would not install it")
    done, calls = launcher("setup")
    assert done.returncode == 0, done.stderr
    script = remote_command(calls[-1])
    worker = tmp_path / "worker"
    worker.mkdir()
    shutil.copy(tmp_path / f"xlmr-flax-{NAME}.tar.gz", worker / "xlmr-flax.tar.gz")  # the scp
    bin_dir, package = tmp_path / "worker-bin", tmp_path / "gcsfuse-package"
    fake_programs(package, {"gcsfuse": 'touch "$HOME/mounted"'})
    fake_programs(bin_dir, {
        "python3.11": 'mkdir -p "$3/bin" && cp "$(dirname "$0")/pip" "$3/bin/pip"',
        "pip": "",
        "lsb_release": 'test "$*" = "-c -s" && echo noble',  # the image's own codename
        # sudo runs nothing; `tee` keeps what it is given, `apt-get install gcsfuse` installs it.
        "sudo": f"""case "$1" in tee) cat > "$HOME/tee-$(basename "$2")" ;; esac
case "$*" in *"install -y -qq gcsfuse") cp {package}/gcsfuse "$(dirname "$0")/" ;; esac""",
        "mountpoint": f'test "$*" = "-q {MOUNT}" && test -f "$HOME/mounted"',
    })  # fmt: skip
    log = tmp_path / "worker.log"
    env = {"HOME": str(worker), "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": str(log)}

    def on_worker():
        log.unlink(missing_ok=True)
        done = subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.endswith(f": ready, gs://my-bucket mounted at {MOUNT}\n")
        return log.read_text().splitlines()

    ran = on_worker()
    assert (worker / "xlmr-flax" / "launch_tpu.sh").exists()
    apt_list = (worker / "tee-gcsfuse.list").read_text()
    assert apt_list == (
        "deb [signed-by=/usr/share/keyrings/cloud.google.asc] "
        "https://packages.cloud.google.com/apt gcsfuse-noble main\n"
    )
    key = "/usr/share/keyrings/cloud.google.asc"
    user = f"{os.getuid()}:{os.getgid()}"
    sudo = [line for line in ran if line.startswith("sudo ")]
    assert sudo == [
        "sudo tee /etc/apt/sources.list.d/gcsfuse.list",
        f"sudo curl -fsSL -o {key} https://packages.cloud.google.com/apt/doc/apt-key.gpg",
        "sudo apt-get -o DPkg::Lock::Timeout=600 update -qq",
        "sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq gcsfuse",
        f"sudo umount {MOUNT}",  # a stale mount of a gcsfuse that died
        f"sudo mkdir -p {MOUNT}",
        f"sudo chown {user} {MOUNT}",
    ]
    mount = " ".join(["gcsfuse", *GCSFUSE_OPTIONS, "my-bucket", MOUNT])
    assert ran[ran.index(f"sudo chown {user} {MOUNT}") + 1] == mount  # as the user, not root
    # Again: gcsfuse is installed and the bucket mounted, so neither happens twice.
    again = on_worker()
    assert f"mountpoint -q {MOUNT}" in again
    assert not [line for line in again if line.startswith(("sudo", "gcsfuse"))], again


def test_run_starts_the_same_command_on_every_worker(launcher):
    config = "configs/xtreme_r_sequencing.py:tasks=mnli,squad_v2,paths=mnli>squad_v2"
    done, calls = launcher("run", "--config", config, "--shard", "1/3", "--", "--nodry_run")
    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert "--worker=all" in call
    command = remote_command(call)
    # The workdir gs://my-bucket/runs/... as the workers see it: in the mounted bucket.
    assert python_argv(command) == [
        "-m", "train", "--config", config, "--workdir",
        f"{MOUNT}/runs/xtreme_r_sequencing", "--shard", "1/3", "--nodry_run",
    ]  # fmt: skip
    assert "nohup" in command and "~/xlmr-flax-run.pid" in command
    # Nothing starts unless the bucket is mounted (setup mounts it).
    assert command.startswith(f"if ! mountpoint -q {MOUNT}; then ")
    assert "run ./launch_tpu.sh setup first" in command

    env = {"XLMR_TPU_WORKDIR": "gs://other/study/", "XLMR_TPU_BUCKET": None}
    _, calls = launcher("run", "--foreground", "--config=configs/smoke.py", env=env)
    command = remote_command(calls[0])
    assert python_argv(command) == [
        "-m", "train", "--config", "configs/smoke.py", "--workdir", "/mnt/gcs/other/study"
    ]  # fmt: skip
    assert "| tee ~/xlmr-flax-run.log" in command and "nohup" not in command
    assert command.startswith("if ! mountpoint -q /mnt/gcs/other; then ")

    _, calls = launcher("run", "--config", "configs/smoke.py", "--workdir", "gs://b/x/y")
    command = remote_command(calls[0])
    assert python_argv(command)[-2:] == ["--workdir", "/mnt/gcs/b/x/y"]
    assert command.startswith("if ! mountpoint -q /mnt/gcs/b; then ")


def stand_in_worker(tmp_path, python_body):
    """A worker's home with the launcher, a fake Python and fake programs; returns
    (home, environment, mount folder). The bucket "mounts" under tmp_path/mnt."""
    worker = tmp_path / "worker"
    (worker / "xlmr-flax").mkdir(parents=True)
    shutil.copy(SCRIPT, worker / "xlmr-flax" / "launch_tpu.sh")
    (worker / "xlmr-venv" / "bin").mkdir(parents=True)
    python = worker / "xlmr-venv" / "bin" / "python"
    python.write_text(f"#!/bin/sh\n{python_body}\n")
    python.chmod(0o755)
    mount = tmp_path / "mnt" / "my-bucket"
    # `mountpoint` says yes for the workdir's bucket once "setup" has made $HOME/mounted;
    # the metadata server answers from $HOME/metadata/KEY (none: not a TPU VM).
    bin_dir = tmp_path / "worker-bin"
    fake_programs(bin_dir, {
        "mountpoint": f'test "$*" = "-q {mount}" && test -f "$HOME/mounted"',
        "curl": 'key="${6##*/}"; test -f "$HOME/metadata/$key" && cat "$HOME/metadata/$key"',
    })  # fmt: skip
    env = {"HOME": str(worker), "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_LOG": os.devnull,
           "XLMR_TPU_HEARTBEAT": "1"}  # fmt: skip
    return worker, env, mount


def on_worker(command, env, timeout=30):
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, what, seconds=20.0):
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_run_and_stop_scripts_work_on_a_stand_in_worker(launcher, tmp_path):
    """The remote scripts, run here with HOME as the worker's home and a fake Python."""
    worker, env, mount = stand_in_worker(
        tmp_path, 'printf "%s\\n" "$@" > "$HOME/argv"\nenv > "$HOME/env"\nexec sleep 30'
    )
    root = {"XLMR_TPU_MOUNT_ROOT": str(tmp_path / "mnt"), "XLMR_TPU_RUN_ID": "r1"}
    config = "configs/xtreme_r_sequencing.py:tasks=mnli,squad_v2"
    _, calls = launcher("run", "--config", config, "--shard", "0/2", env=root)
    start = remote_command(calls[0])
    _, calls = launcher("stop")
    stop = remote_command(calls[0])

    unmounted = on_worker(start, env)
    assert unmounted.returncode == 1 and not unmounted.stdout
    assert f"gs://my-bucket is not mounted at {mount}: run ./launch_tpu.sh setup first" in (
        unmounted.stderr
    )
    assert not (worker / "xlmr-flax-run.pid").exists() and not (worker / "argv").exists()
    (worker / "mounted").touch()

    pid = None
    try:
        started = on_worker(start, env)
        assert started.returncode == 0 and "started run r1" in started.stdout, started.stderr
        pid = int((worker / "xlmr-flax-run.pid").read_text())
        argv = worker / "argv"
        wait_for(lambda: argv.exists() and argv.read_text().endswith("0/2\n"), "the run")
        assert argv.read_text().splitlines() == [
            "-m", "train", "--config", config, "--workdir",
            f"{mount}/runs/xtreme_r_sequencing", "--shard", "0/2",
        ]  # fmt: skip
        assert "XLMR_TPU_WORKERS=1\n" in (worker / "env").read_text()  # one host: no peers
        # The log and a heartbeat go to the bucket, by run.
        logs = mount / "runs" / "xtreme_r_sequencing" / "logs" / "r1"
        wait_for(lambda: (logs / "worker-0.heartbeat").exists(), "the heartbeat")
        wait_for(lambda: (logs / "worker-0.log").exists(), "the log copy")
        assert "=== run r1: worker 0 of 1" in (logs / "worker-0.log").read_text()
        # What the startup script runs at boot: the same start, after mounting the bucket.
        autostart = (worker / "xlmr-flax-autostart.sh").read_text()
        assert "gcsfuse" in autostart and "launch_tpu.sh worker" in autostart
        again = on_worker(start, env)  # a second start is refused while the first runs
        assert again.returncode == 1 and "already going" in again.stderr
        stopped = on_worker(stop, env)
        assert "stopped" in stopped.stdout, stopped.stderr

        def gone():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, "the run to stop")
        pid = None
        assert not (worker / "xlmr-flax-run.pid").exists()
        assert not (worker / "xlmr-flax-autostart.sh").exists()  # stopped: no resume at boot
        assert "no run" in on_worker(stop, env).stdout
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def worker_verb(tmp_path, python_body, *options, metadata=None):
    """Runs `launch_tpu.sh worker` on a stand-in TPU VM; returns (process, log folder)."""
    worker, env, _ = stand_in_worker(tmp_path, python_body)
    for key, value in (metadata or {}).items():
        (worker / "metadata").mkdir(exist_ok=True)
        (worker / "metadata" / key).write_text(value)
    logs = tmp_path / "logs"
    command = ["bash", str(worker / "xlmr-flax" / "launch_tpu.sh"), "worker", "--log-dir",
               str(logs), "--run-id", "r1", *options, "--",
               str(worker / "xlmr-venv" / "bin" / "python"), "-m", "train"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    return done, logs / "r1", worker


def test_a_pod_worker_tells_jax_its_slice_and_records_its_exit_code(tmp_path):
    """Worker 2 of a 4-host slice (from the metadata server, as on a TPU VM)."""
    metadata = {"agent-worker-number": "2", "worker-network-endpoints": "a,b,c,d"}
    done, logs, worker = worker_verb(tmp_path, 'env > "$HOME/env"; echo trained', metadata=metadata)
    assert done.returncode == 0, done.stderr
    assert "XLMR_TPU_WORKERS=4\n" in (worker / "env").read_text()  # jax.distributed starts
    assert (logs / "worker-2.exit").read_text() == "0\n"
    # Its last heartbeat says it exited: watch no longer waits for it to beat.
    index, epoch, _, state = (logs / "worker-2.heartbeat").read_text().split()
    assert index == "2" and state == "exited" and abs(int(epoch) - time.time()) < 60
    assert "trained" in (logs / "worker-2.log").read_text()
    assert "=== exit 0" in (worker / "xlmr-flax-run.log").read_text()


def test_the_host_layout_runs_one_shard_per_host_on_its_own_chips(tmp_path):
    metadata = {"agent-worker-number": "3", "worker-network-endpoints": "a,b,c,d"}
    done, _, worker = worker_verb(
        tmp_path, 'printf "%s\\n" "$@" > "$HOME/argv"; env > "$HOME/env"',
        "--layout", "host", "--shard", "1/2", metadata=metadata,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (worker / "argv").read_text().split()[-2:] == ["--shard", "7/8"]  # 1 * 4 + 3 of 2 * 4
    env = (worker / "env").read_text()
    for variable in ("XLMR_TPU_WORKERS=1", "TPU_PROCESS_BOUNDS=1,1,1",
                     "TPU_CHIPS_PER_PROCESS_BOUNDS=2,2,1", "TPU_VISIBLE_CHIPS=0,1,2,3"):  # fmt: skip
        assert variable + "\n" in env


def test_a_worker_stops_when_another_worker_of_its_run_failed(tmp_path):
    """All or nothing: the others would wait for the failed one in every collective."""
    (tmp_path / "logs" / "r1").mkdir(parents=True)
    (tmp_path / "logs" / "r1" / "worker-1.exit").write_text("1\n")
    done, logs, worker = worker_verb(tmp_path, "exec sleep 30")
    assert done.returncode != 0
    assert (logs / "worker-0.exit").read_text() != "0\n"
    assert "worker-1.exit says a worker failed" in (worker / "xlmr-flax-run.log").read_text()


def test_status_fetch_and_delete(launcher, tmp_path):
    done, calls = launcher("status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ACTIVE")
    assert calls[0] == [
        "compute", "tpus", "queued-resources", "describe", NAME, f"--zone={ZONE}",
        "--format=value(state.state)",
    ]  # fmt: skip
    assert "--worker=0" in calls[1] and "tail -n 5 ~/xlmr-flax-run.log" in remote_command(calls[1])
    assert len(calls) == 2
    _, calls = launcher("status", "--config", "configs/continued_mlm.py:tasks=mnli")
    plan = remote_command(calls[2])
    assert python_argv(plan)[-3:] == ["--workdir", f"{MOUNT}/runs/continued_mlm", "--dry-run"]
    assert plan.startswith(f"if ! mountpoint -q {MOUNT}; then ")  # no plan from an empty folder

    dest = tmp_path / "out"
    done, calls = launcher("fetch", "--config", "configs/multitask.py", "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    source = "gs://my-bucket/runs/multitask"
    assert calls == [
        ["storage", "cp", f"{source}/results.jsonl", f"{dest}/results.jsonl"],
        ["storage", "rsync", "--recursive", f"{source}/report", f"{dest}/report"],
        ["storage", "rsync", "--recursive", f"{source}/logs", f"{dest}/logs"],  # every worker's
    ]
    assert dest.is_dir()
    _, calls = launcher("fetch", "--workdir", "gs://b/w")
    assert calls[0][2:] == ["gs://b/w/results.jsonl", "results/w/results.jsonl"]

    done, calls = launcher("delete", "--project", "p")
    assert done.returncode == 0, done.stderr
    assert calls == [[
        "compute", "tpus", "queued-resources", "delete", NAME, f"--zone={ZONE}", "--project=p",
        "--force", "--quiet",
    ]]  # fmt: skip


def test_stop_runs_on_every_worker(launcher):
    done, calls = launcher("stop")
    assert done.returncode == 0 and "--worker=all" in calls[0]
    assert "kill -9" in remote_command(calls[0])


@pytest.mark.parametrize("args", [
    ("create", "--accelerator", "v4-32", "--spot"),
    ("setup",),
    ("setup", "--repo", "https://example.com/r.git", "--data", "gs://b/raw"),
    ("run", "--config", "configs/xtreme_r_sequencing.py:tasks=mnli,squad_v2,order=2", "--shard", "0/2", "--", "--nodry_run"),
    ("stop",),
    ("status", "--config", "configs/smoke.py"),
    ("fetch", "--workdir", "gs://b/w", "--dest", "fetched"),
    ("delete",),
])  # fmt: skip
def test_dry_run_prints_exactly_what_a_run_calls_and_runs_nothing(launcher, tmp_path, args):
    done, calls = launcher("--dry-run", *args)  # options may come before the command
    assert done.returncode == 0, done.stderr
    assert not calls
    lines = [shlex.split(line) for line in done.stdout.splitlines()]
    assert all(lines)
    assert not list(tmp_path.glob("*.tar.gz")) and not (tmp_path / "fetched").exists()
    # The same through the environment, and then for real against the fake gcloud.
    same, _ = launcher(*args, env={"XLMR_TPU_DRY_RUN": "1"})
    assert same.stdout == done.stdout
    real, calls = launcher(*args)
    assert real.returncode == 0, real.stderr
    assert [line[1:] for line in lines if line[0] == "gcloud"] == calls
    assert all(line[0] in ("gcloud", "git", "mkdir") for line in lines)


def test_missing_gcloud_is_reported(launcher, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in [("create",), ("run", "--config", "configs/smoke.py"), ("delete",), ("fetch", "--workdir", "gs://b/w")]:  # fmt: skip
        done, calls = launcher(*args, path=str(empty))
        assert done.returncode == 2 and not calls
        assert "gcloud is not on PATH" in done.stderr and "--dry-run" in done.stderr
    done, _ = launcher("delete", "--dry-run", path=str(empty))  # a dry run needs no gcloud
    assert done.returncode == 0 and done.stdout.startswith("gcloud compute tpus")


@pytest.mark.parametrize("args,unset,message", [
    (("create",), "XLMR_TPU_NAME", "XLMR_TPU_NAME is not set: export XLMR_TPU_NAME=... or pass --name NAME"),
    (("delete", "--dry-run"), "XLMR_TPU_ZONE", "XLMR_TPU_ZONE is not set: export XLMR_TPU_ZONE=... or pass --zone ZONE"),
    (("run", "--config", "configs/smoke.py"), "XLMR_TPU_BUCKET", "XLMR_TPU_BUCKET is not set: export XLMR_TPU_BUCKET=... or pass --bucket"),
    (("setup",), "XLMR_TPU_BUCKET", "XLMR_TPU_BUCKET is not set: export XLMR_TPU_BUCKET=... or pass --bucket BUCKET"),
    (("setup", "--workdir", "/local/dir"), None, "the workdir must be a gs:// URL"),
    (("setup", "--bucket", "My_Bucket"), None, "not a Cloud Storage bucket name: 'My_Bucket'"),
    (("run", "--config", "c.py", "--workdir", "gs:///x"), None, "not a Cloud Storage bucket name: ''"),
    (("run",), None, "no config: pass --config"),
    (("fetch",), None, "no workdir: pass --config"),
    (("run", "--config", "c.py", "--workdir", "/local/dir"), None, "must be a gs:// URL"),
    (("run", "--config", "c.py", "--shard", "1-2"), None, "--shard 1-2: expected I/N"),
    (("create", "--accelerator", "tpu9-8"), None, "no default runtime for accelerator tpu9-8"),
    (("create", "--zone"), None, "--zone needs a value"),
    (("create", "--bogus"), None, "unknown option --bogus"),
    (("launch",), None, "unknown command launch"),
    (("delete", "--", "--async"), None, "arguments after -- go to `create`"),
])  # fmt: skip
def test_errors_name_what_is_missing(launcher, args, unset, message):
    done, calls = launcher(*args, env={unset: None} if unset else None)
    assert done.returncode == 2 and not calls
    assert message in done.stderr


# ---------------------------------------------------------------------------------
# Unattended runs: `watch` against a fake gcloud that plays a queued resource's life
# ---------------------------------------------------------------------------------

SIMULATED_GCLOUD = f"""#!{sys.executable}
import glob, json, os, re, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")


def pop(name, default):
    # The next line of a script file; its last line stays.
    path = os.environ[name]
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    if len(lines) > 1:
        open(path, "w").write("\\n".join(lines[1:]) + "\\n")
    return lines[0] if lines else default


bucket = os.environ["FAKE_BUCKET"]
if "describe" in args:
    state = pop("FAKE_STATES", "ACTIVE")
    if state == "NOT_FOUND":
        sys.exit("ERROR: NOT_FOUND")
    print(state)
elif args[:2] == ["storage", "cat"]:
    files = sorted(glob.glob(os.path.join(bucket, args[2].removeprefix("gs://"))))
    if not files:
        sys.exit("ERROR: no URLs matched")
    for f in files:
        print(open(f).read(), end="")
elif args[:4] == ["compute", "tpus", "tpu-vm", "ssh"]:
    command = next(a for a in args if a.startswith("--command="))
    if "launch_tpu.sh worker" in command:  # a run starts: how it will end, per worker
        outcome = pop("FAKE_RUNS", "")
        if outcome == "fail-start":
            sys.exit("worker 2: a run is already going")
        logs = re.search(r"--log-dir (\\S+)", command)[1].removeprefix(os.environ["FAKE_MOUNT_ROOT"])
        run = re.search(r"--run-id (\\S+)", command)[1]
        folder = os.path.join(bucket, logs.lstrip("/"), run)
        os.makedirs(folder, exist_ok=True)
        if outcome == "hang":  # every worker beat once, an hour ago, and then nothing
            for worker in range(4):
                beat = f"{{worker}} {{int(time.time()) - 3600}} an-hour-ago alive\\n"
                open(os.path.join(folder, f"worker-{{worker}}.heartbeat"), "w").write(beat)
            outcome = ""
        for worker, code in enumerate(outcome.split()):
            open(os.path.join(folder, f"worker-{{worker}}.exit"), "w").write(code + "\\n")
"""


@pytest.fixture
def supervised(tmp_path, launcher):
    """watch(states, runs, *args) -> (process, gcloud calls): `states` are what describe
    answers in turn, `runs` how each started run ends (exit codes per worker, "" for
    still running, "fail-start" for a worker that refuses to start)."""
    (tmp_path / "bin" / "gcloud").write_text(SIMULATED_GCLOUD)

    def watch(states, runs, *args, command="watch"):
        (tmp_path / "states").write_text("\n".join(states) + "\n")
        (tmp_path / "runs").write_text("\n".join(runs) + "\n")
        env = {
            "FAKE_STATES": str(tmp_path / "states"), "FAKE_RUNS": str(tmp_path / "runs"),
            "FAKE_BUCKET": str(tmp_path / "bucket"), "FAKE_MOUNT_ROOT": "/mnt/gcs",
            "XLMR_TPU_POLL": "0", "XLMR_TPU_BACKOFF": "0", "XLMR_TPU_ACCELERATOR": "v4-32",
        }  # fmt: skip
        return launcher(command, "--config", "configs/smoke.py", *args, env=env)

    return watch


def verbs(calls):
    """What each gcloud call did: create, delete, describe, setup, run, stop, cat, scp."""
    named = []
    for call in calls:
        text = " ".join(call)
        if "tpu-vm ssh" in text:
            name = (
                "run"
                if "launch_tpu.sh worker" in text
                else "stop"
                if "kill -9" in text
                else "setup"
            )
            named.append(name)
        elif call[:2] == ["storage", "cat"]:
            named.append("cat")
        else:
            named.append(call[3] if call[2] in ("queued-resources", "tpu-vm") else call[1])
    return [v for v in named if v != "describe"]


def test_watch_waits_for_the_queue_runs_the_study_and_deletes_the_slice(supervised):
    done, calls = supervised(
        ["NOT_FOUND", "WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"], ["0 0 0 0"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert verbs(calls) == ["create", "scp", "setup", "run", "cat", "delete"]
    assert "is WAITING_FOR_RESOURCES" in done.stdout and "the study is done" in done.stdout
    run = next(c for c in calls if "launch_tpu.sh worker" in " ".join(c))
    assert "--run-id r0-0" in " ".join(run)
    # --keep leaves the slice.
    done, calls = supervised(["ACTIVE"], ["0 0 0 0"], "--keep")
    assert done.returncode == 0 and "delete" not in verbs(calls)


def test_watch_recreates_a_preempted_slice_and_resumes_the_run(supervised):
    states = ["ACTIVE", "ACTIVE", "SUSPENDED", "DELETING", "NOT_FOUND", "WAITING_FOR_RESOURCES",
              "ACTIVE"]  # fmt: skip
    done, calls = supervised(states, ["", "0 0 0 0"], "--spot")
    assert done.returncode == 0, done.stdout + done.stderr
    assert verbs(calls) == [
        "scp", "setup", "run", "cat", "cat",  # the first run, alive, then the slice is taken back
        "delete", "create", "scp", "setup", "run", "cat", "delete",
    ]  # fmt: skip
    create = next(c for c in calls if c[:4] == ["compute", "tpus", "queued-resources", "create"])
    assert "--spot" in create and "--accelerator-type=v4-32" in create
    assert "was SUSPENDED; recovery 1 of 10" in done.stdout


def test_watch_reruns_after_a_worker_failed_and_every_worker_stopped(supervised):
    done, calls = supervised(["ACTIVE"], ["1 137 137 137", "0 0 0 0"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert verbs(calls) == ["scp", "setup", "run", "cat", "stop", "run", "cat", "delete"]
    runs = [" ".join(c) for c in calls if "launch_tpu.sh worker" in " ".join(c)]
    assert "--run-id r0-0" in runs[0] and "--run-id r0-1" in runs[1]
    assert "run r0-0 failed on 4 worker(s)" in done.stdout


def test_watch_restarts_a_run_whose_workers_fell_silent(supervised):
    """A hung collective, or a dead VM in a slice still ACTIVE: no exit code ever comes."""
    done, calls = supervised(["ACTIVE"], ["hang", "0 0 0 0"])
    assert done.returncode == 0, done.stdout + done.stderr
    # exit codes, then heartbeats: silent for an hour, over the 30 minutes allowed
    assert verbs(calls) == ["scp", "setup", "run", "cat", "cat", "stop", "run", "cat", "delete"]
    assert re.search(r"run r0-0: a worker has been silent for 36\d\ds; recovery 1", done.stdout)


def test_watch_gives_up_after_the_maximum_number_of_recoveries(supervised):
    done, calls = supervised(["FAILED"], [], "--max-restarts", "2")
    assert done.returncode == 1
    assert verbs(calls) == ["delete", "delete", "delete"]
    assert "giving up after 2 recoveries" in done.stdout


def test_run_is_all_or_nothing_when_a_worker_refuses_to_start(supervised):
    done, calls = supervised([], ["fail-start"], command="run")
    assert done.returncode == 1
    assert verbs(calls) == ["run", "stop"]
    assert "a worker did not start run r0; stopping it on every worker" in done.stderr
    stop = remote_command(calls[-1])
    assert "fuser -k -9" in stop  # leftover holders of the TPU chips go too
