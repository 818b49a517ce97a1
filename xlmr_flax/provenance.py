"""Which code and which packages produced an output: the commit and the installed
distributions (what `pip freeze` lists), recorded in every stage manifest."""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def code_commit(root: str = ROOT) -> str | None:
    """The checked-out commit (with "-dirty" if tracked files changed), or the COMMIT file
    that `launch_tpu.sh up` writes next to the `git archive` it installs; None if neither."""
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            status = subprocess.run(
                ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    path = os.path.join(root, "COMMIT")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    return None


@functools.cache
def installed_packages() -> tuple[str, ...]:
    """`name==version` of every installed distribution, sorted (as `pip freeze`)."""
    found = {(d.metadata["Name"] or "").lower(): d.version for d in md.distributions()}
    return tuple(f"{name}=={version}" for name, version in sorted(found.items()) if name)


def provenance() -> dict[str, object]:
    return {"commit": code_commit(), "packages": list(installed_packages())}
