"""Deletes this cluster's preempted spot TPU VMs.

Ray's GCP provider counts a TPU VM as alive only in CREATING, STARTING, RESTARTING or
READY (ray/autoscaler/_private/gcp/node.py, GCPTPUNode): a spot VM taken back is
PREEMPTED, so neither the autoscaler nor `ray down` ever deletes it, and it keeps holding
the zone's TPU quota, so replacements cannot start and stages wait. This deletes the
cluster's TPU workers in PREEMPTED or TERMINATED, and nothing else: a VM must carry the
cluster's label (`ray-cluster-name`) and the name Ray gives its workers
(`ray-<cluster>-worker-<8 hex>-tpu`). READY, CREATING, STOPPED or any other state is
left alone.

On the head, a loop started by the cluster file (configs/cluster/tpu.yaml) through the
Cloud TPU API client Ray's provider uses (the head's service account):

    python -m configs.cluster.preempted --cluster-config ~/ray_bootstrap_config.yaml --interval 300

From your machine, once, through gcloud (`launch_tpu.sh status` runs this):

    python -m configs.cluster.preempted --cluster-config .cluster/xlmr/cluster.yaml --via gcloud

`--dry-run` lists what it would delete and deletes nothing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import yaml

# https://cloud.google.com/tpu/docs/reference/rest/v2/projects.locations.nodes#State
STALE_STATES = ("PREEMPTED", "TERMINATED")
CLUSTER_LABEL = "ray-cluster-name"  # ray.autoscaler.tags.TAG_RAY_CLUSTER_NAME


def node_id(node: dict[str, Any]) -> str:
    """The VM's id: the last part of its `name` (projects/P/locations/Z/nodes/ID)."""
    return node["name"].rsplit("/", 1)[-1]


def stale_nodes(nodes: Iterable[dict[str, Any]], cluster: str) -> list[dict[str, Any]]:
    """The cluster's TPU workers (its label and Ray's worker name) that are PREEMPTED or
    TERMINATED, from TPU API Node objects."""
    prefix = f"ray-{cluster}-worker-"
    return [
        node
        for node in nodes
        if node.get("state") in STALE_STATES
        and node.get("labels", {}).get(CLUSTER_LABEL) == cluster
        and node_id(node).startswith(prefix)
    ]


class TpuClient(Protocol):
    def list_nodes(self) -> list[dict[str, Any]]: ...

    def delete(self, node: dict[str, Any]) -> None: ...

    def describe_delete(self, node: dict[str, Any]) -> str: ...


class TpuApi:
    """The Cloud TPU API through googleapiclient, as Ray's GCP provider builds it."""

    def __init__(self, tpu: Any, project: str, zone: str) -> None:
        self.nodes = tpu.projects().locations().nodes()
        self.parent = f"projects/{project}/locations/{zone}"

    @classmethod
    def from_provider(cls, provider: dict[str, Any]) -> TpuApi:
        """The client from a cluster config's `provider` section (credentials as Ray
        finds them: the config's, else the environment's, e.g. the VM's account)."""
        from ray.autoscaler._private.gcp.config import (
            HAS_TPU_PROVIDER_FIELD,
            construct_clients_from_provider_config,
        )

        clients = construct_clients_from_provider_config(
            dict(provider, **{HAS_TPU_PROVIDER_FIELD: True})
        )
        return cls(clients[3], provider["project_id"], provider["availability_zone"])

    def list_nodes(self) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            response = self.nodes.list(parent=self.parent, pageToken=token).execute()
            found += response.get("nodes", [])
            token = response.get("nextPageToken")
            if not token:
                return found

    def delete(self, node: dict[str, Any]) -> None:
        # The operation is not awaited: the next pass sees the VM DELETING, or gone.
        self.nodes.delete(name=node["name"]).execute()

    def describe_delete(self, node: dict[str, Any]) -> str:
        return f"DELETE {node['name']}"


class Gcloud:
    """The same calls through the gcloud CLI."""

    def __init__(
        self,
        project: str,
        zone: str,
        run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    ) -> None:
        self.where = [f"--zone={zone}", f"--project={project}"]
        self.run = run

    def list_command(self) -> list[str]:
        return ["gcloud", "compute", "tpus", "tpu-vm", "list", *self.where, "--format=json"]

    def delete_command(self, node: dict[str, Any]) -> list[str]:
        return [
            "gcloud", "compute", "tpus", "tpu-vm", "delete", node_id(node), *self.where,
            "--quiet", "--async",
        ]  # fmt: skip

    def list_nodes(self) -> list[dict[str, Any]]:
        done = self.run(self.list_command(), check=True, capture_output=True, text=True)
        return json.loads(done.stdout or "[]")

    def delete(self, node: dict[str, Any]) -> None:
        self.run(self.delete_command(node), check=True)

    def describe_delete(self, node: dict[str, Any]) -> str:
        return shlex.join(self.delete_command(node))


def sweep(
    client: TpuClient, cluster: str, dry_run: bool, say: Callable[[str], None] = print
) -> list[str]:
    """Deletes (or, dry, lists) the cluster's stale TPU VMs; returns their ids."""
    stale = stale_nodes(client.list_nodes(), cluster)
    for node in stale:
        what = f"{node_id(node)} ({node.get('acceleratorType', '?')}, {node['state']})"
        if dry_run:
            say(f"would delete {what}: {client.describe_delete(node)}")
        else:
            say(f"deleting {what}")
            client.delete(node)
    return [node_id(node) for node in stale]


def read_cluster(path: str) -> tuple[str, dict[str, Any]]:
    """(cluster name, provider section) of a rendered cluster file; ValueError names
    the file and the missing key."""
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    provider = config.get("provider") or {}
    for key in ("project_id", "availability_zone"):
        if not provider.get(key):
            raise ValueError(f"{path}: no provider.{key}: expected a rendered cluster file")
    if not config.get("cluster_name"):
        raise ValueError(f"{path}: no cluster_name: expected a rendered cluster file")
    return config["cluster_name"], provider


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configs.cluster.preempted")
    parser.add_argument("--cluster-config", required=True, help="a rendered cluster file")
    parser.add_argument("--via", choices=("api", "gcloud"), default="api")
    parser.add_argument("--interval", type=float, default=0, help="seconds; 0: one pass")
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    args = parser.parse_args(argv)
    try:
        cluster, provider = read_cluster(args.cluster_config)
    except (OSError, ValueError) as err:
        print(f"preempted: {err}", file=sys.stderr)
        return 2

    def client_of() -> TpuClient:
        if args.via == "gcloud":
            return Gcloud(provider["project_id"], provider["availability_zone"])
        return TpuApi.from_provider(provider)  # fetches the API's discovery document

    client = None

    def say(line: str) -> None:  # the loop's lines (a log file) carry the time
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) if args.interval else ""
        print(stamp + line, flush=True)

    while True:
        try:
            client = client or client_of()
            sweep(client, cluster, args.dry_run, say)
        except Exception as err:  # a loop outlives one failed call (quota, network)
            if not args.interval:
                print(f"preempted: {type(err).__name__}: {err}", file=sys.stderr)
                return 1
            say(f"preempted: {type(err).__name__}: {err}; again in {args.interval:g} s")
        if not args.interval:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
