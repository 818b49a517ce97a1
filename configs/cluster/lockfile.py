"""The lock file every node of the TPU cluster installs: exact versions of everything
setup.py requires, plus JAX's TPU runtime (`jax[tpu]`) and Ray with its dashboard and
job API (`ray[default]`), resolved together by pip.

    python -m configs.cluster.lockfile --out requirements-tpu.lock   # resolves (network)
    python -m configs.cluster.lockfile --check                         # drift only, offline

Resolution is pip's own (`pip install --dry-run --ignore-installed --report`) for this
interpreter, which must be what the nodes run (CPython 3.11 on Linux x86_64). Packages
installed here are held at their installed versions (a constraints file), so the nodes
run what this machine tested; the rest (libtpu, Ray's dependencies) are pip's choice.
`--check` fails when setup.py and the lock disagree (a requirement missing from the
lock, or locked at a version its specifier refuses); tests/test_lockfile.py runs it.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP = os.path.join(ROOT, "setup.py")
LOCK = os.path.join(ROOT, "requirements-tpu.lock")
PROJECT = "xlmr-flax"
# What the cluster adds to setup.py: the TPU runtime for the installed jax, and the
# Ray the cluster launcher and the study's executor are pinned to.
RAY = "ray[default]==2.60.0"
HEADER = """\
# Exact versions for every node of the TPU cluster (configs/cluster/tpu.yaml installs
# this file, then the project with --no-deps). Generated from setup.py by pip:
#   python -m configs.cluster.lockfile --out requirements-tpu.lock
"""


def setup_requirements(path: str = SETUP) -> list[str]:
    """The `install_requires` list of setup.py, read without running it."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "install_requires" and isinstance(keyword.value, ast.List):
                    return list(ast.literal_eval(keyword.value))
    raise ValueError(f"{path}: no literal install_requires=[...] in its setup() call")


def cluster_requirements(path: str = SETUP) -> list[str]:
    """setup.py's requirements plus the TPU runtime of the installed jax and Ray."""
    return [*setup_requirements(path), f"jax[tpu]=={md.version('jax')}", RAY]


def installed_constraints() -> list[str]:
    """`name==version` of every distribution installed here but the project itself."""
    found = {canonicalize_name(d.metadata["Name"] or ""): d.version for d in md.distributions()}
    found.pop(canonicalize_name(PROJECT), None)
    found.pop("", None)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def check_interpreter() -> None:
    """The lock is resolved for this interpreter: it must be the nodes' one."""
    here = (sys.version_info[:2], platform.system(), platform.machine())
    if here != ((3, 11), "Linux", "x86_64"):
        raise SystemExit(
            f"lockfile: resolving on Python {here[0][0]}.{here[0][1]} {here[1]} {here[2]}; "
            "the TPU VMs run CPython 3.11 on Linux x86_64: run this there (or in a container)"
        )


def pip_command(requirements: str, constraints: str, report: str) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
        "--quiet", "--report", report, "-r", requirements, "-c", constraints,
    ]  # fmt: skip


def resolve(
    requirements: Sequence[str],
    constraints: Sequence[str],
    run: Callable[[list[str]], None] | None = None,
) -> dict[str, str]:
    """{distribution: version} of what pip would install for `requirements`."""
    run = run or (lambda command: subprocess.run(command, check=True))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("requirements.txt", "constraints.txt", "r.json")]
        for path, lines in zip(paths, (requirements, constraints), strict=False):
            with open(path, "w", encoding="utf-8") as f:
                f.write("".join(f"{line}\n" for line in lines))
        run(pip_command(*paths))
        with open(paths[2], encoding="utf-8") as f:
            report = json.load(f)
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report["install"]
    }


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def read_lock(path: str = LOCK) -> dict[str, str]:
    """{distribution: version} of a lock file; a line that is not `name==version`
    is an error naming the file and line."""
    pins = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            name, equals, version = text.partition("==")
            if not equals or not name.strip() or not version.strip():
                raise ValueError(f"{path}:{number}: {text!r}: expected name==version")
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def drift(requirements: Sequence[str], pins: dict[str, str]) -> list[str]:
    """Every requirement the lock does not satisfy, one line each (empty: in step)."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name}: required by {text!r} but not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}=={pins[name]} in the lock: {text!r} refuses it")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configs.cluster.lockfile")
    parser.add_argument("--out", help="write the lock here (default: standard output)")
    parser.add_argument("--check", action="store_true", help="report drift, resolve nothing")
    parser.add_argument("--lock", default=LOCK, help="the lock file --check reads")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift(cluster_requirements(), read_lock(args.lock))
        for problem in problems:
            print(f"{args.lock}: {problem}", file=sys.stderr)
        if problems:
            print("regenerate: python -m configs.cluster.lockfile --out requirements-tpu.lock")
        return 1 if problems else 0
    check_interpreter()
    text = render(resolve(cluster_requirements(), installed_constraints()))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
