"""The Ray cluster of spot TPU VMs (configs/cluster/tpu.yaml) passes the checks Ray ships,
and keeps what docs/tpu.md promises: spot TPU workers from zero, an on-demand head, no
public address, token authentication, the job API on the head's loopback, the lock file
installed exactly, the bucket mounted on every host."""

import copy
import json
import re
import subprocess
import sys

import pytest
import yaml

from configs.cluster import render

TYPES = ["v4-8", "v4-32", "v5litepod-8", "v5litepod-16", "v6e-8"]


@pytest.fixture
def values(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "token").write_text("t")
    return render.settings("xlmr", "my-project", "us-central2-b", "my-bucket",
                           str(tmp_path / "src"), str(tmp_path / "token"), "ubuntu")  # fmt: skip


def test_the_template_renders_to_a_config_ray_accepts(values):
    config = render.render(values)
    render.validate(config)
    assert render.accelerators(config) == TYPES
    assert config["provider"] == {"type": "gcp", "project_id": "my-project", "region": "us-central2",
                                  "availability_zone": "us-central2-b", "use_internal_ips": True}  # fmt: skip
    assert "{{" not in yaml.safe_dump(config)


def test_tpu_workers_are_spot_scale_from_zero_and_bring_one_hosts_chips(values):
    types = render.render(values)["available_node_types"]
    chips = {"v4-8": 4, "v4-32": 4, "v5litepod-8": 8, "v5litepod-16": 4, "v6e-8": 8}
    runtimes = {"v4": "tpu-ubuntu2204-base", "v5litepod": "v2-alpha-tpuv5-lite",
                "v6e": "v2-alpha-tpuv6e"}  # fmt: skip
    for accelerator in TYPES:
        node = types[render.node_type_name(accelerator)]
        config = node["node_config"]
        assert node["min_workers"] == 0 and node["resources"] == {"TPU": chips[accelerator]}
        assert config["schedulingConfig"] == {"spot": True}
        assert config["runtimeVersion"] == runtimes[accelerator.split("-")[0]]
        assert config["networkConfig"] == {"enableExternalIps": False}
        assert config["serviceAccount"]["email"] == "xlmr-worker@my-project.iam.gserviceaccount.com"


def test_the_head_is_on_demand_private_and_runs_as_its_own_account(values):
    head = render.render(values)["available_node_types"]["head"]["node_config"]
    assert "scheduling" not in head  # not preemptible
    assert head["networkInterfaces"] == [{"network": "global/networks/default"}]  # no accessConfigs
    assert head["serviceAccounts"][0]["email"] == "xlmr-head@my-project.iam.gserviceaccount.com"


def test_ray_runs_with_token_authentication_and_a_loopback_job_api(values):
    config = render.render(values)
    head, worker = config["head_start_ray_commands"][-1], config["worker_start_ray_commands"][-1]
    for command in (head, worker):
        assert "RAY_AUTH_MODE=token" in command and "--disable-usage-stats" in command
    assert "--dashboard-host=127.0.0.1" in head
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
    config = render.render(values, ["v4-8", "v4-32"], spot=False)
    render.validate(config)
    assert set(config["available_node_types"]) == {"head", "tpu_v4_8", "tpu_v4_32"}
    assert "schedulingConfig" not in config["available_node_types"]["tpu_v4_32"]["node_config"]
    with pytest.raises(ValueError, match=r"--accelerators v3-8: expected some of \['v4-8'"):
        render.render(values, ["v3-8"])


def test_os_login_uses_your_own_key(values, tmp_path):
    config = render.render(dict(values, ssh_user="me_example_com"), ssh_key=str(tmp_path / "k"))
    assert config["auth"]["ssh_user"] == "me_example_com"
    assert config["auth"]["ssh_private_key"] == str(tmp_path / "k")
    render.validate(config)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("head_node_type"), "You must specify `head_node_type`"),
        (lambda c: c.update(max_worker=3), "Additional properties are not allowed"),
        (lambda c: c["available_node_types"]["tpu_v4_32"].update(resources={"TPU": 16}),
         "tpu_v4_32: resources TPU must be 4, the chips of one v4-32 host"),
        (lambda c: c["available_node_types"]["tpu_v4_8"]["node_config"].update(
            acceleratorType="v4_8"), "tpu_v4_8: acceleratorType 'v4_8' is not a TPU type Ray knows"),
    ],
)  # fmt: skip
def test_validation_catches_what_ray_would_refuse(values, change, message):
    config = copy.deepcopy(render.render(values))
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
