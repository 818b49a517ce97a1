"""The TPU node types a cluster file offers, and the rules they keep while stages are laid
out per host or per chip:

- every TPU node type is one host (a pod slice's hosts join Ray as separate nodes, and
  the autoscaler's idle check reads host 0 only: it would delete a slice whose host 0
  idles with hosts 1..n mid-stage);
- every TPU node type of one cluster is of one TPU generation (a study runs on one:
  generations differ in numerics and speed), and the study's `--topology` is of it.

    python -m configs.cluster.node_types .cluster/xlmr/cluster.yaml --topology v4-8

The planner reads `tpu_node_types` to know what the cluster can supply.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import yaml

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tpu.yaml")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# The rendered cluster file as Ray keeps it on the head (`ray up` writes it there).
ON_HEAD = "~/ray_bootstrap_config.yaml"
ACCELERATOR = re.compile(r"(v\d+[a-z]*)-(\d+)")
ALIASES = {"v5e": "v5litepod"}  # --topology accepts v5e-N for v5litepod-N


@dataclasses.dataclass(frozen=True)
class TpuNodeType:
    """One TPU node type of a cluster file: what one node of it brings."""

    name: str  # the key in available_node_types, e.g. tpu_v4_8
    accelerator: str  # the Cloud TPU accelerator type, e.g. v4-8
    generation: str  # v4, v5litepod, v5p, v6e
    hosts: int  # hosts of one slice of this type (1: a single-host type)
    chips_per_host: int  # chips Ray reports per node (its TPU resource)
    max_workers: int
    spot: bool


def generation(accelerator: str) -> str:
    """The TPU generation of an accelerator type or topology: v4-32 -> v4, v5e-8 -> v5litepod."""
    match = ACCELERATOR.fullmatch(accelerator.strip().lower())
    if match is None:
        raise ValueError(f"{accelerator!r}: expected a TPU type such as v4-8 or v6e-8")
    return ALIASES.get(match[1], match[1])


def is_tpu_type(accelerator: str) -> bool:
    """Whether Ray knows `accelerator` as a Cloud TPU type (v4-8, v6e-16, ...) of a
    generation it can count chips for."""
    from ray._private.accelerators import TPUAcceleratorManager

    if not TPUAcceleratorManager.is_valid_tpu_accelerator_type(accelerator):
        return False
    try:
        chips_per_host(accelerator)
    except ValueError:
        return False
    return True


def chips_per_host(accelerator: str) -> int:
    """Chips one host of the slice brings (what Ray's TPU support reports per node)."""
    from ray._private.accelerators import tpu

    chips = int(accelerator.rsplit("-", 1)[1]) // tpu.get_tpu_cores_per_chip(accelerator)
    return min(chips, tpu.get_num_tpu_visible_chips_per_host(accelerator))


def hosts(accelerator: str) -> int:
    """Hosts of one slice of `accelerator` (Ray's own count of chips per host)."""
    from ray._private.accelerators import tpu

    chips = int(accelerator.rsplit("-", 1)[1]) // tpu.get_tpu_cores_per_chip(accelerator)
    return max(1, chips // chips_per_host(accelerator))


def read_cluster_file(path: str) -> dict[str, Any]:
    """A cluster file as a dict: a rendered one, or the template (its {{placeholders}}
    read as their names, which no node type's shape depends on)."""
    with open(os.path.expanduser(path), encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    # JSON round trip: the template's merged YAML anchors become separate mappings.
    return json.loads(json.dumps(yaml.safe_load(PLACEHOLDER.sub(lambda m: m[1], text))))


def node_types_of(config: dict[str, Any]) -> list[TpuNodeType]:
    """The TPU node types of a cluster config, in its order."""
    found = []
    for name, node in config.get("available_node_types", {}).items():
        accelerator = node.get("node_config", {}).get("acceleratorType")
        if accelerator is None:
            continue
        found.append(
            TpuNodeType(
                name=name,
                accelerator=accelerator,
                generation=generation(accelerator),
                hosts=hosts(accelerator),
                chips_per_host=chips_per_host(accelerator),
                max_workers=int(node.get("max_workers", 0)),
                spot=bool(node["node_config"].get("schedulingConfig", {}).get("spot", False)),
            )
        )
    return found


def tpu_node_types(path: str = TEMPLATE) -> list[TpuNodeType]:
    """The TPU node types the cluster file at `path` offers: the template (every type
    any zone may offer) by default, a rendered cluster.yaml, or `ON_HEAD` on the head."""
    return node_types_of(read_cluster_file(path))


def check_single_host(types: Sequence[TpuNodeType], where: str) -> None:
    """ValueError (one line) for a multi-host type in the autoscaled pool."""
    for node in types:
        if node.hosts > 1:
            raise ValueError(
                f"{where}: {node.accelerator} ({node.name}) spans {node.hosts} hosts; the "
                "autoscaled pool holds single-host TPU types only while stages are laid out "
                "per host or per chip (its idle check reads host 0 of a slice only)"
            )


def check_one_generation(types: Sequence[TpuNodeType], where: str) -> None:
    """ValueError (one line) for TPU node types of several generations in one cluster."""
    found = sorted({node.generation for node in types})
    if len(found) > 1:
        listed = ", ".join(f"{node.accelerator} ({node.generation})" for node in types)
        raise ValueError(
            f"{where}: {listed} mix TPU generations {', '.join(found)}; a study runs on "
            "one generation (numerics and speed differ): one cluster per generation (--name)"
        )


def check_topology(topology: str, types: Sequence[TpuNodeType], where: str) -> None:
    """ValueError (one line) unless `topology` (the study's --topology) is of the TPU
    generation the cluster's node types are of."""
    wanted = generation(topology)
    offered = sorted({node.generation for node in types})
    if offered != [wanted]:
        names = ", ".join(node.accelerator for node in types) or "no TPU type"
        raise ValueError(
            f"--topology {topology}: TPU generation {wanted}, but {where} offers "
            f"{names} ({', '.join(offered) or 'none'}): a study runs on its cluster's "
            "generation"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configs.cluster.node_types")
    parser.add_argument("cluster_file", nargs="?", default=TEMPLATE)
    parser.add_argument("--topology", action="append", default=[], help="must match; repeatable")
    args = parser.parse_args(argv)
    try:
        types = tpu_node_types(args.cluster_file)
        for topology in (t for value in args.topology for t in value.split(",") if t):
            check_topology(topology, types, args.cluster_file)
    except (OSError, ValueError) as err:
        print(f"node_types: {err}", file=sys.stderr)
        return 2
    for node in types:
        print(json.dumps(dataclasses.asdict(node)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
