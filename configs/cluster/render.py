"""Renders the cluster template (configs/cluster/tpu.yaml) for one cluster: fills its
{{settings}}, keeps the TPU node types asked for (single-host types of one generation:
configs/cluster/node_types.py), and checks the result against the schema Ray ships
before `ray up` sees it.

    python -m configs.cluster.render --name xlmr --project P --zone us-central2-b \\
        --bucket B --source DIR --accelerators v4-8 --out cluster.yaml

`launch_tpu.sh up` runs it; every bad setting is one line naming the flag.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from configs.cluster import node_types
from configs.cluster.node_types import PLACEHOLDER, TEMPLATE

# Resource names as Google Cloud accepts them (VMs, buckets), and zones like us-central2-b.
NAME = re.compile(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?")
BUCKET = re.compile(r"[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]")
ZONE = re.compile(r"([a-z]+-[a-z]+[0-9]+)-[a-z]")


def network_name(region: str) -> str:
    """The region's own network (and its one subnet) that `launch_tpu.sh up` makes."""
    return f"xlmr-ray-{region}"


def network_tag(cluster: str) -> str:
    """The network tag of every node of a cluster: its firewall rule admits this tag only."""
    return f"ray-{cluster}"


def node_type_name(accelerator: str) -> str:
    """The template's node type for an accelerator type: v4-32 -> tpu_v4_32."""
    return "tpu_" + accelerator.replace("-", "_")


def accelerators(config: dict[str, Any]) -> list[str]:
    """The TPU accelerator types the template offers, in its order."""
    return [
        node["node_config"]["acceleratorType"]
        for node in config["available_node_types"].values()
        if "acceleratorType" in node["node_config"]
    ]


def offered_accelerators(template: str = TEMPLATE) -> list[str]:
    """The TPU accelerator types the template's node types offer, read without any
    cluster's settings (the planner checks a study's topology against them)."""
    with open(template, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    return accelerators(yaml.safe_load(PLACEHOLDER.sub("unset", text)))


def settings(
    name: str, project: str, zone: str, bucket: str, source: str, token: str, ssh_user: str
) -> dict[str, str]:
    """Every {{placeholder}} of the template, checked; ValueError names the bad flag."""
    for flag, value, pattern in (("--name", name, NAME), ("--bucket", bucket, BUCKET)):
        if not pattern.fullmatch(value):
            raise ValueError(f"{flag} {value!r}: expected lower-case letters, digits and '-'")
    region = ZONE.fullmatch(zone)
    if region is None:
        raise ValueError(f"--zone {zone!r}: expected a zone such as us-central2-b")
    if not project:
        raise ValueError("--project is empty: name the Google Cloud project")
    for flag, path in (("--source", source), ("--token", token)):
        if not os.path.exists(path):
            raise ValueError(f"{flag} {path}: no such file or folder")
    account = "{}@{}.iam.gserviceaccount.com"
    return {
        "cluster": name,
        "project": project,
        "zone": zone,
        "region": region.group(1),
        "network": network_name(region.group(1)),
        "tag": network_tag(name),
        "bucket": bucket,
        "source": os.path.abspath(source),
        "token": os.path.abspath(token),
        "ssh_user": ssh_user,
        "head_account": account.format("xlmr-head", project),
        "worker_account": account.format("xlmr-worker", project),
    }


def render(
    values: dict[str, str],
    wanted: Sequence[str] | None = None,
    ssh_key: str | None = None,
    spot: bool = True,
    template: str = TEMPLATE,
) -> dict[str, Any]:
    """The cluster config: the template with `values` filled in, only the `wanted`
    TPU types (all if None), on-demand TPUs where `spot` is False. ValueError (one
    line, naming --accelerators) for a type the template does not offer, a multi-host
    type, or types of several generations."""
    with open(template, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    missing = sorted({key for key in PLACEHOLDER.findall(text) if key not in values})
    if missing:
        raise ValueError(f"{template}: no value for {', '.join(missing)}")
    # JSON round trip: the template's merged YAML anchors become separate mappings.
    config = json.loads(
        json.dumps(yaml.safe_load(PLACEHOLDER.sub(lambda m: values[m.group(1)], text)))
    )
    offered = accelerators(config)
    if wanted is not None:
        flag = f"--accelerators {','.join(wanted)}"
        if not wanted:
            raise ValueError(f"--accelerators is empty: expected some of {offered}")
        pods = [
            a
            for a in wanted
            if a not in offered and node_types.is_tpu_type(a) and node_types.hosts(a) > 1
        ]
        if pods:
            raise ValueError(
                f"{flag}: {', '.join(pods)} spans several hosts; the autoscaled pool holds "
                f"single-host TPU types only while stages are laid out per host or per chip: "
                f"expected some of {offered}"
            )
        unknown = [a for a in wanted if a not in offered]
        if unknown:
            raise ValueError(f"{flag}: {','.join(unknown)} not offered: expected some of {offered}")
    types = config["available_node_types"]
    for accelerator in offered:
        if wanted is not None and accelerator not in wanted:
            del types[node_type_name(accelerator)]
        elif not spot:
            types[node_type_name(accelerator)]["node_config"].pop("schedulingConfig")
    if wanted is not None:
        node_types.check_one_generation(node_types.node_types_of(config), flag)
    if ssh_key:  # OS Login: your own key and user; Ray then adds no project-wide key
        config["auth"]["ssh_private_key"] = os.path.abspath(os.path.expanduser(ssh_key))
    return config


def validate(config: dict[str, Any]) -> None:
    """Ray's own checks of a cluster config (its schema, its TPU accelerator types, each
    TPU type's declared chips against what Ray will find on one host), then this
    project's: single-host TPU types of one generation; ValueError in one line."""
    import jsonschema
    from ray._private.accelerators import TPUAcceleratorManager
    from ray.autoscaler._private.util import validate_config

    try:
        validate_config(config)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "the top level"
        raise ValueError(f"cluster config at {where}: {err.message}") from None
    for name, node in config["available_node_types"].items():
        accelerator = node["node_config"].get("acceleratorType")
        if accelerator is None:
            continue
        if not TPUAcceleratorManager.is_valid_tpu_accelerator_type(accelerator):
            raise ValueError(f"{name}: acceleratorType {accelerator!r} is not a TPU type Ray knows")
        chips = node_types.chips_per_host(accelerator)
        if node["resources"].get("TPU") != chips:
            raise ValueError(
                f"{name}: resources TPU must be {chips}, the chips of one {accelerator} host"
            )
    types = node_types.node_types_of(config)
    node_types.check_single_host(types, "cluster config")
    node_types.check_one_generation(types, "cluster config")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configs.cluster.render")
    parser.add_argument("--name", required=True, help="cluster name (lower case, digits, -)")
    parser.add_argument("--project", required=True)
    parser.add_argument("--zone", required=True, help="e.g. us-central2-b")
    parser.add_argument("--bucket", required=True, help="the study's bucket, without gs://")
    parser.add_argument("--source", required=True, help="folder of the commit to install")
    parser.add_argument("--token", default=os.path.expanduser("~/.ray/auth_token"))
    parser.add_argument(
        "--accelerators", required=True, help="comma-separated, single-host, one generation"
    )
    parser.add_argument("--ssh-user", default="ubuntu")
    parser.add_argument("--ssh-key", help="OS Login: the private key registered for you")
    parser.add_argument("--on-demand", action="store_true", help="TPUs on demand, not spot")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        values = settings(
            args.name, args.project, args.zone, args.bucket, args.source, args.token,
            args.ssh_user,
        )  # fmt: skip
        wanted = [a for a in args.accelerators.split(",") if a]
        config = render(values, wanted, args.ssh_key, spot=not args.on_demand)
        validate(config)
    except ValueError as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(f"# Rendered from {TEMPLATE} by configs/cluster/render.py; edit the template.\n")
        yaml.safe_dump(config, f, sort_keys=False, width=10**6)  # no folding
    return 0


if __name__ == "__main__":
    sys.exit(main())
