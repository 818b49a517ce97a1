"""Renders the cluster template (configs/cluster/tpu.yaml) for one cluster: fills its
{{settings}}, keeps the TPU node types asked for (a zone offers some generations
only), and checks the result against the schema Ray ships before `ray up` sees it.

    python -m configs.cluster.render --name xlmr --project P --zone us-central2-b \\
        --bucket B --source DIR --accelerators v4-8,v4-32 --out cluster.yaml

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

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tpu.yaml")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Resource names as Google Cloud accepts them (VMs, buckets), and zones like us-central2-b.
NAME = re.compile(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?")
BUCKET = re.compile(r"[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]")
ZONE = re.compile(r"([a-z]+-[a-z]+[0-9]+)-[a-z]")


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
    TPU types (all if None), on-demand TPUs where `spot` is False."""
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
    unknown = [a for a in wanted or () if a not in offered]
    if unknown:
        raise ValueError(f"--accelerators {','.join(unknown)}: expected some of {offered}")
    types = config["available_node_types"]
    for accelerator in offered:
        if wanted is not None and accelerator not in wanted:
            del types[node_type_name(accelerator)]
        elif not spot:
            types[node_type_name(accelerator)]["node_config"].pop("schedulingConfig")
    if ssh_key:  # OS Login: your own key and user; Ray then adds no project-wide key
        config["auth"]["ssh_private_key"] = os.path.abspath(os.path.expanduser(ssh_key))
    return config


def chips_per_host(accelerator: str) -> int:
    """Chips one host of the slice brings (what Ray's TPU support reports per node)."""
    from ray._private.accelerators import tpu

    chips = int(accelerator.rsplit("-", 1)[1]) // tpu.get_tpu_cores_per_chip(accelerator)
    return min(chips, tpu.get_num_tpu_visible_chips_per_host(accelerator))


def validate(config: dict[str, Any]) -> None:
    """Ray's own checks of a cluster config: its schema, its TPU accelerator types,
    and each TPU type's declared chips against what Ray will find on one host;
    ValueError in one line."""
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
        chips = chips_per_host(accelerator)
        if node["resources"].get("TPU") != chips:
            raise ValueError(
                f"{name}: resources TPU must be {chips}, the chips of one {accelerator} host"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configs.cluster.render")
    parser.add_argument("--name", required=True, help="cluster name (lower case, digits, -)")
    parser.add_argument("--project", required=True)
    parser.add_argument("--zone", required=True, help="e.g. us-central2-b")
    parser.add_argument("--bucket", required=True, help="the study's bucket, without gs://")
    parser.add_argument("--source", required=True, help="folder of the commit to install")
    parser.add_argument("--token", default=os.path.expanduser("~/.ray/auth_token"))
    parser.add_argument("--accelerators", default="", help="comma-separated; default: all")
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
        wanted = [a for a in args.accelerators.split(",") if a] or None
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
