"""launch_tpu.sh against fake `ray` and `gcloud` programs that record their arguments
and answer as the real ones do (no cloud, no network): each command is Ray's or gcloud's
own, `--dry-run` prints exactly what a real run executes, `up` makes the cluster's
network and refuses to restart Ray under a running study, `status` deletes the
cluster's preempted TPU VMs."""

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
if name == "gcloud" and "describe" in sys.argv and os.environ.get("FAKE_MISSING"):
    sys.exit(1)  # gcloud's answer for a resource that does not exist
if sys.argv[1:5] == ["compute", "tpus", "tpu-vm", "list"]:
    print(os.environ.get("FAKE_TPU_VMS", "[]"))
if sys.argv[1:2] == ["get-head-ip"]:
    if not os.environ.get("FAKE_HEAD"):
        sys.exit("RuntimeError: Head node of cluster (xlmr) not found!")
    print("10.130.0.2")
if sys.argv[1:2] == ["exec"] and "ray list jobs" in sys.argv[3]:
    print("Loaded cached provider configuration")
    print(os.environ.get("FAKE_JOBS", "[]"))
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
    for command in ("up", "submit", "status", "logs", "stop", "fetch", "down"):
        assert f"\n  {command} " in done.stdout
    for gone in ("watch", "create", "setup", "delete"):
        done, _, _ = launcher(gone)
        assert done.returncode == 2
        assert f"unknown command {gone}" in done.stderr


NETWORK = "xlmr-ray-us-central2"
# What `up` makes when missing, after `describe` finds nothing: (describe, create) words.
NETWORK_PARTS = [
    (["compute", "networks", "describe", NETWORK, "--project=p"],
     ["compute", "networks", "create", NETWORK, "--project=p", "--subnet-mode=custom"]),
    (["compute", "networks", "subnets", "describe", NETWORK, "--project=p", "--region=us-central2"],
     ["compute", "networks", "subnets", "create", NETWORK, "--project=p", "--region=us-central2",
      f"--network={NETWORK}", "--range=10.130.0.0/20", "--enable-private-ip-google-access"]),
    (["compute", "firewall-rules", "describe", f"{NETWORK}-iap-ssh", "--project=p"],
     ["compute", "firewall-rules", "create", f"{NETWORK}-iap-ssh", "--project=p",
      f"--network={NETWORK}", "--direction=INGRESS", "--action=allow", "--rules=tcp:22",
      "--source-ranges=35.235.240.0/20"]),
    (["compute", "firewall-rules", "describe", f"{NETWORK}-xlmr", "--project=p"],
     ["compute", "firewall-rules", "create", f"{NETWORK}-xlmr", "--project=p",
      f"--network={NETWORK}", "--direction=INGRESS", "--action=allow", "--rules=all",
      "--source-tags=ray-xlmr", "--target-tags=ray-xlmr"]),
    (["compute", "routers", "describe", NETWORK, "--project=p", "--region=us-central2"],
     ["compute", "routers", "create", NETWORK, "--project=p", "--region=us-central2",
      f"--network={NETWORK}"]),
    (["compute", "routers", "nats", "describe", NETWORK, "--project=p", f"--router={NETWORK}",
      "--region=us-central2"],
     ["compute", "routers", "nats", "create", NETWORK, "--project=p", f"--router={NETWORK}",
      "--region=us-central2", "--auto-allocate-nat-external-ips", "--nat-all-subnet-ip-ranges"]),
]  # fmt: skip


def test_up_dry_run_prints_the_exact_commands(launcher):
    done, calls, cluster = launcher("up", "--dry-run", "--accelerators", "v6e-8",
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
    assert shlex.split(lines[5]) == [
        "env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "configs.cluster.render",
        "--name", "xlmr", "--project", "p",
        "--zone", "us-central2-b", "--bucket", "my-bucket", "--source", f"{cluster}/src",
        "--token", f"{cluster.parent}/home/.ray/auth_token",
        "--accelerators", "v6e-8", "--ssh-user", "ubuntu", "--out", f"{cluster}/cluster.yaml",
    ]  # fmt: skip
    assert [shlex.split(line) for line in lines[6:12]] == [
        ["gcloud", *describe, ">/dev/null", "2>&1", "||", "gcloud", *create]
        for describe, create in NETWORK_PARTS
    ]
    assert lines[12:] == [f"ray up --yes {cluster}/cluster.yaml"]


def test_up_stages_the_commit_makes_the_network_renders_a_valid_cluster_and_calls_ray_up(
    launcher,
):
    """Missing, the region's network, its subnet, SSH from IAP, NAT and the cluster's
    own rule are created; the rule admits exactly the tag every node of the cluster
    carries, on the network they are on."""
    done, calls, cluster = launcher("up", "--accelerators", "v6e-8", "--on-demand",
                                    env={"FAKE_MISSING": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "secret-token" not in done.stdout + done.stderr  # the token never shows
    assert calls == [
        ["gcloud", "config", "get-value", "project"],
        ["ray", "get-auth-token", "--generate"],
        *[["gcloud", *[w.replace("=p", "=my-project") for w in part]]
          for pair in NETWORK_PARTS for part in pair],
        ["ray", "up", "--yes", f"{cluster}/cluster.yaml"],
    ]  # fmt: skip
    source = cluster / "src"
    assert (source / "setup.py").exists() and (source / "requirements-tpu.lock").exists()
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert (source / "COMMIT").read_text().strip() == head
    config = yaml.safe_load((cluster / "cluster.yaml").read_text())
    render.validate(config)  # Ray's own checks
    assert config["provider"]["project_id"] == "my-project"  # gcloud's configured project
    assert set(config["available_node_types"]) == {"head", "tpu_v6e_8"}
    tpu = config["available_node_types"]["tpu_v6e_8"]["node_config"]
    assert "schedulingConfig" not in tpu
    assert config["file_mounts"]["~/xlmr-flax"] == str(source)
    head = config["available_node_types"]["head"]["node_config"]
    assert head["tags"]["items"] == tpu["tags"] == ["ray-xlmr"]
    network = f"projects/my-project/global/networks/{NETWORK}"
    assert head["networkInterfaces"][0]["network"] == tpu["networkConfig"]["network"] == network


def test_a_bad_setting_stops_up_before_gcloud_and_ray_with_one_line(launcher):
    """Here a pod slice; render's every refusal (tests/test_cluster_config.py) stops `up`."""
    done, calls, _ = launcher("up", "--accelerators", "v4-32", env={"XLMR_TPU_PROJECT": "p"})
    assert done.returncode == 2
    assert [c for c in calls if c[0] == "gcloud" or c[:2] == ["ray", "up"]] == []
    assert done.stderr.strip().splitlines()[-1] == (
        "render: --accelerators v4-32: v4-32 spans several hosts; the autoscaled pool holds "
        "single-host TPU types only while stages are laid out per host or per chip: expected "
        "some of ['v4-8', 'v5litepod-8', 'v6e-8']"
    )
    done, calls, _ = launcher("up", env={"XLMR_TPU_ZONE": None})
    assert done.returncode == 2 and calls == []
    assert "XLMR_TPU_ZONE is not set: export XLMR_TPU_ZONE=... or pass --zone ZONE" in done.stderr


def test_up_on_a_cluster_running_a_study_is_refused_and_says_what_to_do(launcher):
    """`ray up` restarts Ray on a live head, killing the driver; `--no-restart` would
    still put a new commit under the study. So: refused while a job is live."""
    cluster = launcher("help")[2]
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text("cluster_name: xlmr\n")
    live = json.dumps([
        {"type": "SUBMISSION", "job_id": "02000000", "submission_id": "xlmr-20261207-101500",
         "driver_info": None, "status": "RUNNING", "entrypoint": "cd ~/xlmr-flax && python -m train"},
        {"type": "DRIVER", "job_id": "03000000", "submission_id": "xlmr-20261207-101500",
         "status": "RUNNING", "entrypoint": "python -m train"},
    ], indent=4)  # as `ray list jobs --format json` prints them  # fmt: skip
    env = {"XLMR_TPU_PROJECT": "p", "FAKE_HEAD": "1", "FAKE_JOBS": live}
    done, calls, _ = launcher("up", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line == (
        "launch_tpu.sh: cluster xlmr is running study job xlmr-20261207-101500: `up` would "
        "restart Ray under it; wait for it (./launch_tpu.sh logs --name xlmr --follow) or stop "
        "it first (./launch_tpu.sh stop --name xlmr), or make another cluster (--name)"
    )
    assert calls[:2] == [["ray", "get-head-ip", f"{cluster}/cluster.yaml"],
                         ["ray", "exec", f"{cluster}/cluster.yaml", calls[1][3]]]  # fmt: skip
    assert shlex.split(calls[1][3].split("; ", 1)[1]) == [
        "ray", "list", "jobs", "--filter", "status!=SUCCEEDED", "--filter", "status!=FAILED",
        "--filter", "status!=STOPPED", "--format", "json",
    ]  # fmt: skip
    assert len(calls) == 2  # nothing staged, rendered, created or started
    done, calls, _ = launcher("up", env={**env, "FAKE_JOBS": "[]"})  # no live job: up goes on
    assert done.returncode == 0, done.stderr
    assert calls[-1] == ["ray", "up", "--yes", f"{cluster}/cluster.yaml"]


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
    done, _, cluster = launcher("status", "--dry-run", "--config", "configs/smoke.py")
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line) for line in done.stdout.splitlines()]
    assert lines[0] == [  # no cluster file here to list from: the command, printed
        "env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "configs.cluster.preempted",
        "--cluster-config", f"{cluster}/cluster.yaml", "--via", "gcloud",
    ]  # fmt: skip
    assert head_commands(lines[1]) == ["ray", "status"]
    assert head_commands(lines[2]) == ["ray", "job", "list", "--address", "http://127.0.0.1:8265"]
    assert head_commands(lines[3]) == [
        "python", "-m", "train", "--config", "configs/smoke.py",
        "--workdir", "/mnt/gcs/my-bucket/runs/smoke", "--dry-run", "|", "tail", "-n", "1",
    ]  # fmt: skip


def test_status_deletes_the_clusters_preempted_vms_and_dry_run_only_lists_them(launcher):
    """Ray counts a PREEMPTED TPU VM as gone and never deletes it; `status` does, for
    this cluster's workers only (tests/test_cluster_config.py has the whole selection)."""
    from tests.test_cluster_config import tpu_vm

    cluster = launcher("help")[2]
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text(yaml.safe_dump({"cluster_name": "xlmr", "provider": {
        "type": "gcp", "project_id": "my-project", "availability_zone": "us-central2-b"}}))  # fmt: skip
    vms = json.dumps([tpu_vm("xlmr", "PREEMPTED", "0000000a"), tpu_vm("xlmr", "READY", "00000001"),
                      tpu_vm("xlmr2", "PREEMPTED", "00000002")])  # fmt: skip
    where = ["--zone=us-central2-b", "--project=my-project"]
    listing = ["gcloud", "compute", "tpus", "tpu-vm", "list", *where, "--format=json"]
    delete = ["gcloud", "compute", "tpus", "tpu-vm", "delete", "ray-xlmr-worker-0000000a-tpu",
              *where, "--quiet", "--async"]  # fmt: skip
    done, calls, _ = launcher("status", env={"FAKE_TPU_VMS": vms})
    assert done.returncode == 0, done.stderr
    assert calls[:2] == [listing, delete] and [c[:2] for c in calls[2:]] == [["ray", "exec"]] * 2
    assert done.stdout.startswith("deleting ray-xlmr-worker-0000000a-tpu (v4-8, PREEMPTED)\n")
    done, calls, _ = launcher("status", "--dry-run", env={"FAKE_TPU_VMS": vms})
    assert done.returncode == 0, done.stderr
    assert calls == [listing]  # read only
    assert done.stdout.splitlines()[0] == (
        "would delete ray-xlmr-worker-0000000a-tpu (v4-8, PREEMPTED): " + shlex.join(delete)
    )


def test_submit_refuses_a_topology_of_another_generation_than_the_clusters(launcher, tmp_path):
    cluster = launcher("help")[2]
    cluster.mkdir(parents=True)
    (tmp_path / "token").write_text("t")
    values = render.settings("xlmr", "p", "us-central2-b", "my-bucket", ROOT,
                             str(tmp_path / "token"), "ubuntu")  # fmt: skip
    (cluster / "cluster.yaml").write_text(yaml.safe_dump(render.render(values, ["v4-8"])))
    config = "configs/xtreme_r_sequencing.py"
    done, calls, _ = launcher("submit", "--config", config, "--", "--topology", "v6e-8")
    assert done.returncode == 2 and calls == []
    assert done.stderr.strip() == (
        f"node_types: --topology v6e-8: TPU generation v6e, but {cluster}/cluster.yaml offers "
        "v4-8 (v4): a study runs on its cluster's generation"
    )
    done, calls, _ = launcher("submit", "--config", config, "--", "--topology=v4-32")
    assert done.returncode == 0 and "--topology=v4-32" in head_commands(calls[0])[9]


def test_stop_ends_the_last_study_job_on_the_head(launcher):
    cluster = launcher("help")[2]
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text("cluster_name: xlmr\n")
    (cluster / "jobs").write_text("xlmr-20261207-101500\n")
    done, calls, _ = launcher("stop")
    assert done.returncode == 0, done.stderr
    assert [head_commands(call) for call in calls] == [
        ["ray", "job", "stop", "--address", "http://127.0.0.1:8265", "xlmr-20261207-101500"]
    ]


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


def test_down_is_ray_down_then_the_preempted_vms_and_needs_the_cluster_up_wrote(launcher):
    done, calls, cluster = launcher("down")
    assert done.returncode == 2 and calls == []
    assert f"no cluster xlmr here ({cluster}/cluster.yaml is missing)" in done.stderr
    done, calls, cluster = launcher("down", "--dry-run")
    assert done.stdout.splitlines() == [
        f"ray down --yes {cluster}/cluster.yaml",
        f"env PYTHONPATH={ROOT} {sys.executable} -m configs.cluster.preempted --cluster-config "
        f"{cluster}/cluster.yaml --via gcloud",
    ]
    assert calls == []
    cluster.mkdir(parents=True)
    (cluster / "cluster.yaml").write_text(yaml.safe_dump({"cluster_name": "xlmr", "provider": {
        "type": "gcp", "project_id": "my-project", "availability_zone": "us-central2-b"}}))  # fmt: skip
    done, calls, _ = launcher("down")
    assert done.returncode == 0, done.stderr
    assert calls == [  # then the preempted VMs `ray down` leaves (none here)
        ["ray", "down", "--yes", f"{cluster}/cluster.yaml"],
        ["gcloud", "compute", "tpus", "tpu-vm", "list", "--zone=us-central2-b",
         "--project=my-project", "--format=json"],
    ]  # fmt: skip


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
