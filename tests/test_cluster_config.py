"""The Ray cluster of spot TPU VMs (configs/cluster/tpu.yaml) passes the checks Ray ships,
and keeps what docs/tpu.md promises: spot single-host TPU workers of one generation from
zero, an on-demand head, no public address, the cluster's own network and tag, token
authentication, the job API on the head's loopback and every other Ray port pinned, the
lock file installed exactly, the bucket mounted on every host, and the cluster's
preempted TPU VMs deleted (configs/cluster/preempted.py, through googleapiclient's own
TPU client over a mock HTTP connection, and a stand-in gcloud, both answering in the
documented Node format)."""

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from configs.cluster import node_types, preempted, render

TYPES = ["v4-8", "v5litepod-8", "v6e-8"]


@pytest.fixture
def values(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "token").write_text("t")
    return render.settings("xlmr", "my-project", "us-central2-b", "my-bucket",
                           str(tmp_path / "src"), str(tmp_path / "token"), "ubuntu")  # fmt: skip


def test_the_template_renders_to_a_config_ray_accepts(values):
    assert render.accelerators(render.render(values)) == TYPES
    for accelerator in TYPES:
        config = render.render(values, [accelerator])
        render.validate(config)
        assert render.accelerators(config) == [accelerator]
    assert config["provider"] == {"type": "gcp", "project_id": "my-project", "region": "us-central2",
                                  "availability_zone": "us-central2-b", "use_internal_ips": True}  # fmt: skip
    assert "{{" not in yaml.safe_dump(config)


def test_tpu_workers_are_spot_single_hosts_from_zero_on_the_clusters_network(values):
    types = render.render(values)["available_node_types"]
    chips = {"v4-8": 4, "v5litepod-8": 8, "v6e-8": 8}
    runtimes = {"v4": "tpu-ubuntu2204-base", "v5litepod": "v2-alpha-tpuv5-lite",
                "v6e": "v2-alpha-tpuv6e"}  # fmt: skip
    for accelerator in TYPES:
        node = types[render.node_type_name(accelerator)]
        config = node["node_config"]
        assert node["min_workers"] == 0 and node["resources"] == {"TPU": chips[accelerator]}
        assert node_types.hosts(accelerator) == 1
        assert config["schedulingConfig"] == {"spot": True}
        assert config["runtimeVersion"] == runtimes[accelerator.split("-")[0]]
        assert config["networkConfig"] == {
            "network": "projects/my-project/global/networks/xlmr-ray-us-central2",
            "subnetwork": "projects/my-project/regions/us-central2/subnetworks/xlmr-ray-us-central2",
            "enableExternalIps": False,
        }
        assert config["tags"] == ["ray-xlmr"]  # what the cluster's firewall rule admits
        assert config["serviceAccount"]["email"] == "xlmr-worker@my-project.iam.gserviceaccount.com"


def test_the_head_is_on_demand_private_on_the_clusters_network_and_its_own_account(values):
    head = render.render(values)["available_node_types"]["head"]["node_config"]
    assert "scheduling" not in head  # not preemptible
    assert head["networkInterfaces"] == [{  # no accessConfigs: no public address
        "network": "projects/my-project/global/networks/xlmr-ray-us-central2",
        "subnetwork": "projects/my-project/regions/us-central2/subnetworks/xlmr-ray-us-central2",
    }]  # fmt: skip
    assert head["tags"] == {"items": ["ray-xlmr"]}
    assert head["serviceAccounts"][0]["email"] == "xlmr-head@my-project.iam.gserviceaccount.com"


def flags(command):
    return dict(re.findall(r"--([a-z-]+)=(\S+)", command))


def test_ray_runs_with_token_authentication_a_loopback_job_api_and_pinned_ports(values):
    config = render.render(values)
    head, worker = config["head_start_ray_commands"][1], config["worker_start_ray_commands"][-1]
    for command in (head, worker):
        assert "RAY_AUTH_MODE=token" in command and "--disable-usage-stats" in command
    node_ports = {"object-manager-port": "8076", "node-manager-port": "8077",
                  "dashboard-agent-grpc-port": "8078", "dashboard-agent-listen-port": "52365",
                  "runtime-env-agent-port": "8079", "metrics-export-port": "8080",
                  "min-worker-port": "10002", "max-worker-port": "19999"}  # fmt: skip
    assert flags(head) == {**node_ports, "port": "6379", "ray-client-server-port": "10001",
                           "include-dashboard": "true", "dashboard-host": "127.0.0.1",
                           "dashboard-port": "8265",
                           "autoscaling-config": "~/ray_bootstrap_config.yaml"}  # fmt: skip
    assert flags(worker) == {**node_ports, "address": "$RAY_HEAD_IP:6379"}
    assert "0.0.0.0" not in yaml.safe_dump(config)
    assert config["file_mounts"]["~/.ray/auth_token"] == values["token"]
    assert config["auth"]["ssh_proxy_command"].startswith("gcloud compute start-iap-tunnel %h %p")


def test_every_node_installs_the_lock_exactly_then_the_commit_and_mounts_the_bucket(values):
    config = render.render(values)
    setup = config["setup_commands"]
    lock = next(i for i, c in enumerate(setup) if "requirements-tpu.lock" in c)
    assert "--no-deps -r ~/xlmr-flax/requirements-tpu.lock" in setup[lock]
    assert "pip check" in setup[lock]
    assert setup[lock + 1] == "~/venv/bin/pip install --quiet --no-deps --editable ~/xlmr-flax"
    assert config["file_mounts"]["~/xlmr-flax"] == values["source"]
    (mount,) = [c for c in setup if "gcsfuse --implicit-dirs" in c]
    assert re.search(r"gcsfuse .*--metadata-cache-ttl-secs=0 my-bucket /mnt/gcs/my-bucket", mount)


def test_only_the_accelerators_asked_for_and_on_demand_if_asked(values):
    config = render.render(values, ["v6e-8"], spot=False)
    render.validate(config)
    assert set(config["available_node_types"]) == {"head", "tpu_v6e_8"}
    assert "schedulingConfig" not in config["available_node_types"]["tpu_v6e_8"]["node_config"]
    with pytest.raises(ValueError, match=r"--accelerators v3-8: v3-8 not offered: expected some "
                                         r"of \['v4-8'"):  # fmt: skip
        render.render(values, ["v3-8"])


@pytest.mark.parametrize(
    "wanted, message",
    [
        (["v4-8", "v4-32"], "--accelerators v4-8,v4-32: v4-32 spans several hosts; the autoscaled "
         "pool holds single-host TPU types only"),
        (["v5litepod-16"], "--accelerators v5litepod-16: v5litepod-16 spans several hosts"),
        (["v4-8", "v6e-8"], "--accelerators v4-8,v6e-8: v4-8 (v4), v6e-8 (v6e) mix TPU "
         "generations v4, v6e; a study runs on one generation"),
        ([], "--accelerators is empty: expected some of ['v4-8', 'v5litepod-8', 'v6e-8']"),
    ],
)  # fmt: skip
def test_a_pod_slice_or_a_mix_of_generations_is_refused_in_one_line(values, wanted, message):
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        render.render(values, wanted)
    assert "\n" not in str(refused.value)


def test_the_node_types_the_planner_reads_and_the_topology_they_accept(values, tmp_path):
    assert [(t.name, t.accelerator, t.generation, t.hosts, t.chips_per_host, t.spot)
            for t in node_types.tpu_node_types()] == [
        ("tpu_v4_8", "v4-8", "v4", 1, 4, True),
        ("tpu_v5litepod_8", "v5litepod-8", "v5litepod", 1, 8, True),
        ("tpu_v6e_8", "v6e-8", "v6e", 1, 8, True),
    ]  # fmt: skip
    rendered = tmp_path / "cluster.yaml"
    rendered.write_text(yaml.safe_dump(render.render(values, ["v5litepod-8"], spot=False)))
    (only,) = node_types.tpu_node_types(str(rendered))
    assert (only.accelerator, only.max_workers, only.spot) == ("v5litepod-8", 8, False)
    for topology in ("v5litepod-16", "v5e-8", "v5litepod-256"):  # any size of the generation
        node_types.check_topology(topology, [only], "cluster.yaml")
    with pytest.raises(ValueError, match=re.escape(
            "--topology v4-32: TPU generation v4, but cluster.yaml offers v5litepod-8 "
            "(v5litepod): a study runs on its cluster's generation")):  # fmt: skip
        node_types.check_topology("v4-32", [only], "cluster.yaml")
    assert node_types.main([str(rendered), "--topology", "v5e-16"]) == 0
    assert node_types.main([str(rendered), "--topology", "v5e-16,v6e-8"]) == 2


def test_os_login_uses_your_own_key(values, tmp_path):
    config = render.render(dict(values, ssh_user="me_example_com"), ["v4-8"],
                           ssh_key=str(tmp_path / "k"))  # fmt: skip
    assert config["auth"]["ssh_user"] == "me_example_com"
    assert config["auth"]["ssh_private_key"] == str(tmp_path / "k")
    render.validate(config)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("head_node_type"), "You must specify `head_node_type`"),
        (lambda c: c.update(max_worker=3), "Additional properties are not allowed"),
        (lambda c: c["available_node_types"]["tpu_v4_8"].update(resources={"TPU": 8}),
         "tpu_v4_8: resources TPU must be 4, the chips of one v4-8 host"),
        (lambda c: c["available_node_types"]["tpu_v4_8"]["node_config"].update(
            acceleratorType="v4_8"), "tpu_v4_8: acceleratorType 'v4_8' is not a TPU type Ray knows"),
        (lambda c: c["available_node_types"]["tpu_v4_8"]["node_config"].update(
            acceleratorType="v4-32"), "cluster config: v4-32 (tpu_v4_8) spans 4 hosts"),
        (lambda c: c["available_node_types"].update(
            tpu_v6e_8=copy.deepcopy(c["available_node_types"]["tpu_v4_8"]) | {"resources": {
                "TPU": 8}, "node_config": {"acceleratorType": "v6e-8"}}),
         "cluster config: v4-8 (v4), v6e-8 (v6e) mix TPU generations v4, v6e"),
    ],
)  # fmt: skip
def test_validation_catches_what_ray_would_refuse_and_what_the_study_cannot_use(
    values, change, message
):
    config = copy.deepcopy(render.render(values, ["v4-8"]))
    change(config)
    with pytest.raises(ValueError, match=re.escape(message)):
        render.validate(config)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "XLMR_1", "--name 'XLMR_1': expected lower-case letters"),
        ("bucket", "gs://b", "--bucket 'gs://b': expected lower-case letters"),
        ("zone", "us-central2", "--zone 'us-central2': expected a zone such as us-central2-b"),
        ("source", "/nonexistent/src", "--source /nonexistent/src: no such file or folder"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_flag(tmp_path, field, value, message):
    (tmp_path / "t").write_text("t")
    args = {"name": "xlmr", "project": "p", "zone": "us-central2-b", "bucket": "my-b",
            "source": str(tmp_path), "token": str(tmp_path / "t"), "ssh_user": "ubuntu"}  # fmt: skip
    args[field] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        render.settings(**args)


def test_a_placeholder_without_a_value_is_named(values, tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text("cluster_name: '{{cluster}}'\nmax_workers: {{max}}\n")
    with pytest.raises(ValueError, match=r"t.yaml: no value for max"):
        render.render(values, template=str(template))


def test_every_command_of_the_nodes_is_valid_shell(values):
    config = render.render(values)
    for key in ("setup_commands", "head_start_ray_commands", "worker_start_ray_commands"):
        for command in config[key]:
            checked = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
            assert checked.returncode == 0, (key, command, checked.stderr)


FAKE_PROGRAM = f"""#!{sys.executable}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
if name == "python3.11" and sys.argv[1:3] == ["-m", "venv"]:
    os.makedirs(os.path.join(sys.argv[3], "bin"))
    for tool in ("pip", "python", "ray"):
        path = os.path.join(sys.argv[3], "bin", tool)
        with open(__file__) as me, open(path, "w") as copy:
            copy.write(me.read())
        os.chmod(path, 0o755)
if name == "mountpoint":
    sys.exit(0 if os.environ.get("FAKE_MOUNTED") else 1)
"""


def test_the_setup_runs_in_order_and_again_changes_nothing(values, tmp_path):
    """On a stand-in node whose image has Python 3.11 and gcsfuse: the venv gets the
    lock exactly, then the commit; the bucket is mounted. A second run (Ray reruns
    setup at every restart) creates and mounts nothing new."""
    home, fake = tmp_path / "home", tmp_path / "bin"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("t")
    fake.mkdir()
    for program in ("python3.11", "gcsfuse", "mountpoint", "fusermount", "sudo"):
        (fake / program).write_text(FAKE_PROGRAM)
        (fake / program).chmod(0o755)
    log = tmp_path / "calls.jsonl"
    env = {"HOME": str(home), "PATH": f"{fake}:/usr/bin:/bin", "FAKE_LOG": str(log),
           "USER": "ray"}  # fmt: skip

    def setup(**extra):
        for command in render.render(values)["setup_commands"]:
            done = subprocess.run(["bash", "-c", command], env=dict(env, **extra), text=True,
                                  capture_output=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, (command, done.stderr)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        log.unlink()
        return calls

    venv = f"{home}/venv"
    assert setup() == [
        ["python3.11", "-m", "venv", venv],
        ["pip", "install", "--quiet", "--no-deps", "-r", f"{home}/xlmr-flax/requirements-tpu.lock"],
        ["pip", "check"],
        ["pip", "install", "--quiet", "--no-deps", "--editable", f"{home}/xlmr-flax"],
        ["mountpoint", "-q", "/mnt/gcs/my-bucket"],
        ["fusermount", "-u", "/mnt/gcs/my-bucket"],
        ["sudo", "mkdir", "-p", "/mnt/gcs/my-bucket"],
        ["sudo", "chown", "ray", "/mnt/gcs/my-bucket"],
        ["gcsfuse", "--implicit-dirs", "--rename-dir-limit=1000000", "--metadata-cache-ttl-secs=0",
         "my-bucket", "/mnt/gcs/my-bucket"],
    ]  # fmt: skip
    assert (home / ".ray" / "auth_token").stat().st_mode & 0o777 == 0o600
    again = setup(FAKE_MOUNTED="1")
    assert ["python3.11", "-m", "venv", venv] not in again
    assert [c[0] for c in again if c[0] in ("gcsfuse", "sudo")] == []


def tpu_vm(cluster, state, suffix, name=None, labels=None, accelerator="v4-8"):
    """A TPU VM as the Cloud TPU API (v2) and `gcloud compute tpus tpu-vm list
    --format=json` describe it, labelled as Ray's GCP provider labels its workers."""
    name = name or f"ray-{cluster}-worker-{suffix}-tpu"
    ray_labels = {"ray-cluster-name": cluster, "ray-node-name": f"ray-{cluster}-worker",
                  "ray-node-type": "worker", "ray-user-node-type": "tpu_v4_8",
                  "ray-node-status": "up-to-date", "ray-launch-config": "4f0c2a9e"}  # fmt: skip
    return {
        "name": f"projects/my-project/locations/us-central2-b/nodes/{name}",
        "acceleratorType": accelerator,
        "state": state,
        "runtimeVersion": "tpu-ubuntu2204-base",
        "cidrBlock": "10.130.0.0/20",
        "networkEndpoints": [{"ipAddress": "10.130.0.7", "port": 8470}],
        "health": "HEALTHY",
        "labels": ray_labels if labels is None else labels,
        "schedulingConfig": {"spot": True},
        "createTime": "2026-12-07T09:00:00.000000Z",
        "apiVersion": "V2_ALPHA1",
        "tags": [f"ray-{cluster}"],
    }


# Two pages of the zone's TPU VMs: the stale ones of cluster xlmr are a, b and c.
FLEET = [
    [
        tpu_vm("xlmr", "PREEMPTED", "0000000a"),
        tpu_vm("xlmr", "READY", "00000001"),
        tpu_vm("xlmr", "CREATING", "00000002"),
        tpu_vm("xlmr", "TERMINATED", "0000000b"),
        tpu_vm("xlmr", "STOPPED", "00000003"),
        tpu_vm("xlmr", "DELETING", "00000004"),
        tpu_vm("xlmr2", "PREEMPTED", "00000005"),  # another cluster's
        tpu_vm("xlmr", "PREEMPTED", "", name="notebook-tpu"),  # not one Ray made
        tpu_vm("xlmr", "PREEMPTED", "00000006", labels={}),  # unlabelled
    ],
    [tpu_vm("xlmr", "PREEMPTED", "0000000c", accelerator="v4-8")],
]
STALE = ["ray-xlmr-worker-0000000a-tpu", "ray-xlmr-worker-0000000b-tpu",
         "ray-xlmr-worker-0000000c-tpu"]  # fmt: skip


def tpu_api(*answers):
    """googleapiclient's own `tpu` v2alpha1 client (its bundled discovery document: no
    network), answering each request in turn with (HTTP status, JSON body); the requests
    it sent are in `.requests` as (method, URL)."""
    from googleapiclient import discovery
    from googleapiclient.http import HttpMockSequence

    http = HttpMockSequence([({"status": str(code)}, json.dumps(body)) for code, body in answers])
    tpu = discovery.build("tpu", "v2alpha1", http=http, static_discovery=True)
    tpu.requests = lambda: [(method, uri) for uri, method, *_ in http.request_sequence]
    return tpu


NODES_URL = "https://tpu.googleapis.com/v2alpha1/projects/my-project/locations/us-central2-b/nodes"
# ListNodesResponse pages, then an Operation for each delete.
LISTED = [(200, {"nodes": FLEET[0], "nextPageToken": "p2"}), (200, {"nodes": FLEET[1]})]
OPERATION = (200, {"name": "projects/my-project/locations/us-central2-b/operations/op-1",
                   "metadata": {"verb": "delete"}, "done": False})  # fmt: skip


def test_only_the_clusters_preempted_or_terminated_workers_are_deleted_through_the_api():
    tpu = tpu_api(*LISTED, *LISTED, *[OPERATION] * 3)
    client = preempted.TpuApi(tpu, "my-project", "us-central2-b")
    lines = []
    assert preempted.sweep(client, "xlmr", dry_run=True, say=lines.append) == STALE
    assert tpu.requests() == [("GET", f"{NODES_URL}?alt=json"),
                              ("GET", f"{NODES_URL}?pageToken=p2&alt=json")]  # fmt: skip
    assert lines[0] == (
        "would delete ray-xlmr-worker-0000000a-tpu (v4-8, PREEMPTED): DELETE "
        "projects/my-project/locations/us-central2-b/nodes/ray-xlmr-worker-0000000a-tpu"
    )
    assert preempted.sweep(client, "xlmr", dry_run=False, say=lines.append) == STALE
    assert tpu.requests()[4:] == [("DELETE", f"{NODES_URL}/{name}?alt=json") for name in STALE]


def test_the_same_selection_through_gcloud_issues_its_documented_commands():
    calls = []

    def run(command, **options):
        calls.append(command)
        stdout = json.dumps([n for page in FLEET for n in page]) if "list" in command else ""
        return subprocess.CompletedProcess(command, 0, stdout=stdout)

    client = preempted.Gcloud("my-project", "us-central2-b", run=run)
    assert preempted.sweep(client, "xlmr", dry_run=False, say=lambda line: None) == STALE
    where = ["--zone=us-central2-b", "--project=my-project"]
    assert calls == [
        ["gcloud", "compute", "tpus", "tpu-vm", "list", *where, "--format=json"],
        *[["gcloud", "compute", "tpus", "tpu-vm", "delete", n, *where, "--quiet", "--async"]
          for n in STALE],
    ]  # fmt: skip


def test_the_loop_on_the_head_outlives_a_failed_call_and_a_bad_file_is_one_line(
    tmp_path, monkeypatch, capsys
):
    rendered = tmp_path / "cluster.yaml"
    rendered.write_text(yaml.safe_dump({"cluster_name": "xlmr", "provider": {
        "type": "gcp", "project_id": "my-project", "availability_zone": "us-central2-b"}}))  # fmt: skip
    unavailable = (503, {"error": {"code": 503, "message": "The service is unavailable."}})
    tpu = tpu_api(unavailable, *LISTED, *[OPERATION] * 3)

    class Stop(BaseException):
        pass

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop

    client = preempted.TpuApi(tpu, "my-project", "us-central2-b")
    monkeypatch.setattr(preempted.TpuApi, "from_provider", classmethod(lambda cls, p: client))
    monkeypatch.setattr(preempted.time, "sleep", sleep)
    with pytest.raises(Stop):
        preempted.main(["--cluster-config", str(rendered), "--interval", "300"])
    out = capsys.readouterr().out.splitlines()
    assert sleeps == [300, 300] and [m for m, _ in tpu.requests()] == ["GET"] * 3 + ["DELETE"] * 3
    assert out[0].endswith(f'preempted: HttpError: <HttpError 503 when requesting {NODES_URL}'
                           '?alt=json returned "The service is unavailable.". Details: "The '
                           'service is unavailable.">; again in 300 s')  # fmt: skip
    assert re.fullmatch(r"\S+Z deleting ray-xlmr-worker-0000000a-tpu \(v4-8, PREEMPTED\)", out[1])
    rendered.write_text("cluster_name: xlmr\n")
    assert preempted.main(["--cluster-config", str(rendered)]) == 2
    assert capsys.readouterr().err == (
        f"preempted: {rendered}: no provider.project_id: expected a rendered cluster file\n"
    )


def test_the_heads_start_commands_run_the_loop_once_replacing_an_earlier_one(values, tmp_path):
    """The head's last start command on a stand-in head: the loop starts in the
    background with the bootstrap config; a restart replaces it, never adds one."""
    home = tmp_path / "home"
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "xlmr-flax").mkdir()
    log = tmp_path / "started.jsonl"
    python = home / "venv" / "bin" / "python"
    python.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n"
                      f"with open({str(log)!r}, 'a') as f:\n"
                      "    f.write(json.dumps([os.getpid(), os.getcwd(), *sys.argv[1:]]) + '\\n')\n"
                      "time.sleep(120)\n")  # fmt: skip
    python.chmod(0o755)
    command = render.render(values)["head_start_ray_commands"][-1]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    started = []
    try:
        for _ in range(2):
            subprocess.run(["bash", "-c", command], env=env, check=True, timeout=60)
            pid = int((home / "preempted.pid").read_text())
            started.append(pid)
            for _ in range(200):  # until the stand-in has written its line
                if log.exists() and str(pid) in log.read_text():
                    break
                time.sleep(0.05)
        first, second = started
        for _ in range(200):  # the first loop is gone once the second runs
            if not alive(first):
                break
            time.sleep(0.05)
        assert alive(second) and not alive(first)
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert [line[0] for line in lines] == started
        assert lines[1][1:] == [str(home / "xlmr-flax"), "-m", "configs.cluster.preempted",
                                "--cluster-config", f"{home}/ray_bootstrap_config.yaml",
                                "--interval", "300"]  # fmt: skip
    finally:  # every stand-in started, whatever the pid file says
        logged = (
            [json.loads(line)[0] for line in log.read_text().splitlines()] if log.exists() else []
        )
        for pid in {*started, *logged}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def alive(pid):
    """Whether a process runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
