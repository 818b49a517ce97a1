"""The lock file every TPU worker installs from: exact versions of the project's
dependencies, as installed here, plus JAX's TPU runtime (`jax[tpu]`).

    python -m train.lockfile > requirements-tpu.lock

It walks the requirements of the installed `xlmr-flax` (and of `jax[tpu]`)
through this environment's installed distributions, so every worker gets the
versions this machine tested. `libtpu` must be installed here (the `compile`
extra) for its exact version to be locked; otherwise the pin jax declares is kept.
"""

from __future__ import annotations

import importlib.metadata as md
import sys

from packaging.requirements import Requirement

ROOTS = ("xlmr-flax", "jax[tpu]")
HEADER = """\
# Exact versions for the TPU workers (launch_tpu.sh setup installs this file, then the
# project with --no-deps). Regenerate with: python -m train.lockfile > requirements-tpu.lock
"""


def _name(text: str) -> str:
    return text.lower().replace("_", "-").replace(".", "-")


def locked(roots: tuple[str, ...] = ROOTS) -> dict[str, str]:
    """{distribution: `==version` or the declared specifier if not installed here}."""
    pins: dict[str, str] = {}
    queue = [Requirement(r) for r in roots]
    seen: set[tuple[str, frozenset]] = set()
    while queue:
        req = queue.pop()
        key = (_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            pins.setdefault(_name(req.name), str(req.specifier))
            continue
        if _name(req.name) != "xlmr-flax":
            pins[_name(req.name)] = f"=={dist.version}"
        for text in dist.requires or []:
            child = Requirement(text)
            wanted = any(
                child.marker is None or child.marker.evaluate({"extra": extra})
                for extra in (req.extras or {""})
            )
            if wanted:
                queue.append(child)
    return pins


def main() -> None:
    sys.stdout.write(HEADER)
    for name, pin in sorted(locked().items()):
        sys.stdout.write(f"{name}{pin}\n")


if __name__ == "__main__":
    main()
