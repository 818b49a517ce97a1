"""launch_tpu.sh against fake `ray` and `gcloud` programs that record their arguments
(no cloud, no network): each command is Ray's or gcloud's own, and `--dry-run` prints
exactly what a real run executes."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from configs.cluster import render

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "launch_tpu.sh")
ENV_PREFIX = 'export RAY_AUTH_MODE=token PATH="$HOME/venv/bin:$PATH"; cd ~/xlmr-flax && '
FAKE = f"""#!{sys.executable}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
if sys.argv[1:3] == ["get-auth-token", "--generate"]:
    path = os.path.expanduser("~/.ray/auth_token")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("secret-token")
    print("secret-token")
if sys.argv[1:4] == ["config", "get-value", "project"]:
    print("my-project")
"""


@pytest.fixture
def launcher(tmp_path):
    """launch(*args, env=...) -> (completed process, recorded calls, cluster folder)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for program in ("ray", "gcloud"):
        (fake_bin / program).write_text(FAKE)
        (fake_bin / program).chmod(0o755)
    log = tmp_path / "calls.jsonl"
    cluster_dir = tmp_path / "cluster"

    def launch(*args, env=None):
        environment = {
            "PATH": f"{fake_bin}:/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "FAKE_LOG": str(log),
            "XLMR_TPU_PYTHON": sys.executable,
            "XLMR_TPU_CLUSTER_DIR": str(cluster_dir),
            "XLMR_TPU_ZONE": "us-central2-b",
            "XLMR_TPU_BUCKET": "my-bucket",
        }
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        done = subprocess.run(
            ["bash", SCRIPT, *args], env=environment, capture_output=True, text=True, timeout=120
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return done, calls, cluster_dir

    return launch


def head_commands(call):
    """The command words a `ray exec CLUSTER 'ENV; cd ~/xlmr-flax && CMD'` runs on the head."""
    assert call[:2] == ["ray", "exec"] and call[3].startswith(ENV_PREFIX), call
    return shlex.split(call[3][len(ENV_PREFIX) :])


def test_help_lists_rays_commands_and_the_old_supervisor_is_gone(launcher):
    done, calls, _ = launcher("help")
    assert done.returncode == 0 and calls == []
    for command in ("up", "submit", "status", "logs", "fetch", "down"):
        assert f"\n  {command} " in done.stdout
    for gone in ("watch", "create", "setup", "delete"):
        done, _, _ = launcher(gone)
        assert done.returncode == 2
        assert f"unknown command {gone}" in done.stderr


def test_up_dry_run_prints_the_exact_commands(launcher):
    done, calls, cluster = launcher("up", "--dry-run", "--accelerators", "v4-8,v4-32",
                                    env={"XLMR_TPU_PROJECT": "p"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert calls == []  # nothing ran
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        f"rm -rf {cluster}/src",
        f"mkdir -p {cluster}/src",
        f"git -C {ROOT} archive {commit} | tar -x -C {cluster}/src",
        f"echo {commit} > {cluster}/src/COMMIT",
    ]
    assert lines[4] == "ray get-auth-token --generate > /dev/null"  # no token yet
    assert shlex.split(lines[5])[1:] == [
        f"{ROOT}/configs/cluster/render.py", "--name", "xlmr", "--project", "p",
        "--zone", "us-central2-b", "--bucket", "my-bucket", "--source", f"{cluster}/src",
        "--token", f"{cluster.parent}/home/.ray/auth_token",
        "--accelerators", "v4-8,v4-32", "--ssh-user", "ubuntu", "--out", f"{cluster}/cluster.yaml",
    ]  # fmt: skip
    assert lines[6:] == [f"ray up --yes {cluster}/cluster.yaml"]


def test_up_stages_the_commit_renders_a_valid_cluster_and_calls_ray_up(launcher):
    done, calls, cluster = launcher("up", "--accelerators", "v5litepod-16", "--on-demand")
    assert done.returncode == 0, done.stderr
    assert "secret-token" not in done.stdout + done.stderr  # the token never shows
    assert calls == [
        ["gcloud", "config", "get-value", "project"],
        ["ray", "get-auth-token", "--generate"],
        ["ray", "up", "--yes", f"{cluster}/cluster.yaml"],
    ]
    source = cluster / "src"
    assert (source / "setup.py").exists() and (source / "requirements-tpu.lock").exists()
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert (source / "COMMIT").read_text().strip() == head
    config = yaml.safe_load((cluster / "cluster.yaml").read_text())
    render.validate(config)  # Ray's own checks
    assert config["provider"]["project_id"] == "my-project"  # gcloud's configured project
    assert set(config["available_node_types"]) == {"head", "tpu_v5litepod_16"}
    assert (
        "schedulingConfig" not in config["available_node_types"]["tpu_v5litepod_16"]["node_config"]
    )
    assert config["file_mounts"]["~/xlmr-flax"] == str(source)


def test_a_bad_setting_stops_up_before_ray_with_one_line(launcher):
    done, calls, _ = launcher("up", "--accelerators", "v9-8", env={"XLMR_TPU_PROJECT": "p"})
    assert done.returncode == 2
    assert ["ray", "up"] not in [c[:2] for c in calls]
    assert done.stderr.strip().splitlines()[-1].startswith("render: --accelerators v9-8: expected")
    done, calls, _ = launcher("up", env={"XLMR_TPU_ZONE": None})
    assert done.returncode == 2 and calls == []
    assert "XLMR_TPU_ZONE is not set: export XLMR_TPU_ZONE=... or pass --zone ZONE" in done.stderr


def test_submit_sends_the_study_as_a_ray_job_on_the_head(launcher):
    config = "configs/xtreme_r_sequencing.py:seeds=1,targets=xnli"
    done, calls, cluster = launcher("submit", "--dry-run", "--config", config, "--", "--mfu", "0.3")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    call = shlex.split(line)
    assert call[:3] == ["ray", "exec", f"{cluster}/cluster.yaml"]
    words = head_commands(call)
    assert words[:7] == ["ray", "job", "submit", "--address", "http://127.0.0.1:8265",
                         "--submission-id", words[6]]  # fmt: skip
    assert words[6].startswith("xlmr-") and words[7:9] == ["--no-wait", "--"]
    assert words[9] == (
        "cd ~/xlmr-flax && python -m train --config "
        f"{config} --workdir /mnt/gcs/my-bucket/runs/xtreme_r_sequencing "
        "--executor ray --ray-address auto --layout chip --topology v4-8 --mfu 0.3"
    )
    # Run for real, the job's id is kept for `logs`.
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text("cluster_name: xlmr\n")
    done, calls, _ = launcher("submit", "--config", config, "--workdir", "gs://my-bucket/x/y")
    assert done.returncode == 0, done.stderr
    (call,) = calls
    job = head_commands(call)[6]
    assert "--workdir /mnt/gcs/my-bucket/x/y " in head_commands(call)[9]
    assert (cluster / "jobs").read_text().split() == [job]
    done, calls, _ = launcher("logs", "--follow")
    assert head_commands(calls[0]) == ["ray", "job", "logs", "--address", "http://127.0.0.1:8265",
                                       "--follow", job]  # fmt: skip


def test_status_shows_rays_view_and_the_studys_counts(launcher):
    done, _, _ = launcher("status", "--dry-run", "--config", "configs/smoke.py")
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line) for line in done.stdout.splitlines()]
    assert head_commands(lines[0]) == ["ray", "status"]
    assert head_commands(lines[1]) == ["ray", "job", "list", "--address", "http://127.0.0.1:8265"]
    assert head_commands(lines[2]) == [
        "python", "-m", "train", "--config", "configs/smoke.py",
        "--workdir", "/mnt/gcs/my-bucket/runs/smoke", "--dry-run", "|", "tail", "-n", "1",
    ]  # fmt: skip


def test_fetch_copies_results_and_report_from_the_bucket(launcher, tmp_path):
    dest = tmp_path / "out"
    done, calls, _ = launcher(
        "fetch", "--workdir", "gs://my-bucket/runs/order", "--dest", str(dest)
    )
    assert done.returncode == 0, done.stderr
    assert calls == [
        ["gcloud", "storage", "cp", "gs://my-bucket/runs/order/results.jsonl",
         f"{dest}/results.jsonl"],
        ["gcloud", "storage", "rsync", "--recursive", "gs://my-bucket/runs/order/report",
         f"{dest}/report"],
    ]  # fmt: skip
    done, _, _ = launcher("fetch", "--workdir", "my-bucket/runs/order")
    assert done.returncode == 2 and "expected gs://BUCKET/PATH" in done.stderr


def test_down_is_ray_down_and_needs_the_cluster_up_wrote(launcher):
    done, calls, cluster = launcher("down")
    assert done.returncode == 2 and calls == []
    assert f"no cluster xlmr here ({cluster}/cluster.yaml is missing)" in done.stderr
    done, calls, cluster = launcher("down", "--dry-run")
    assert done.stdout == f"ray down --yes {cluster}/cluster.yaml\n" and calls == []
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text("cluster_name: xlmr\n")
    done, calls, _ = launcher("down")
    assert calls == [["ray", "down", "--yes", f"{cluster}/cluster.yaml"]]


def test_missing_programs_and_misplaced_arguments_are_one_line_errors(launcher, tmp_path):
    done, _, _ = launcher("down", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert 'ray is not on PATH: pip install "ray[default]==2.60.0"' in done.stderr
    done, _, _ = launcher("down", "--", "--mfu", "0.3")
    assert done.returncode == 2 and "go to `submit` (python -m train) only" in done.stderr
    done, _, _ = launcher("submit", "--dry-run")
    assert done.returncode == 2 and "submit needs --config" in done.stderr


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_docs_use_only_the_launchers_commands_and_flags_and_real_anchors(launcher):
    usage = launcher("help")[0].stdout
    docs = {}
    for name in ("docs/tpu.md", "README.md"):
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            docs[name] = f.read()
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", docs["docs/tpu.md"], re.M)}
    for name, text in docs.items():
        for line in re.findall(r"\./launch_tpu\.sh [^\n`]*", text):
            words = line.split()
            assert f"\n  {words[1]} " in usage, (name, line)
            for flag in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
                assert f"{flag} " in usage or f"{flag}\n" in usage, (name, flag)
        for anchor in re.findall(r"\((?:docs/)?tpu\.md#([^)]+)\)", text):
            assert anchor in anchors, (name, anchor)
    for anchor in re.findall(r"\]\(#([^)]+)\)", docs["docs/tpu.md"]):
        assert anchor in anchors, anchor
