"""`gs://` paths, read and written through a Cloud Storage FUSE mount.

Outputs are published by renaming a finished file or folder into place, and the
readers, Orbax and the report use ordinary file operations; an object store offers
neither renames nor folders. On the Ray cluster of TPU VMs every node mounts the
study's bucket at `/mnt/gcs/BUCKET` (configs/cluster/tpu.yaml; `XLMR_FLAX_GCS_MOUNT`
names another root), and
`gs://BUCKET/PATH` means `/mnt/gcs/BUCKET/PATH` wherever a path is taken.
"""

from __future__ import annotations

import os

MOUNT_ROOT_VARIABLE = "XLMR_FLAX_GCS_MOUNT"
DEFAULT_MOUNT_ROOT = "/mnt/gcs"


def local_path(path: str, what: str = "path") -> str:
    """`path` itself, or the mounted location of a `gs://` URL; `what` names the
    setting in the error raised for other URLs or an unmounted bucket."""
    if "://" not in path:
        return path
    scheme, rest = path.split("://", 1)
    bucket = rest.split("/", 1)[0]
    if scheme != "gs" or not bucket:
        raise ValueError(f"{what} {path}: expected a local folder or gs://BUCKET/PATH")
    root = os.environ.get(MOUNT_ROOT_VARIABLE, DEFAULT_MOUNT_ROOT)
    if not os.path.isdir(os.path.join(root, bucket)):
        raise ValueError(
            f"{what} {path}: bucket {bucket} is not mounted at {root}/{bucket} (mount it "
            "with Cloud Storage FUSE: configs/cluster/tpu.yaml, docs/tpu.md; or set "
            f"{MOUNT_ROOT_VARIABLE} to the folder that holds the mounted buckets)"
        )
    return os.path.join(root, rest)


def confined(root: str, relative: str, what: str = "path") -> str:
    """`root/relative`, refused (ValueError) unless it stays inside `root`: a path read
    from a record or an index is relative and cannot leave its folder, not even
    through a link."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        raise ValueError(f"{what} {relative!r}: expected a path relative to {root}")
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, path]) != base:
        raise ValueError(f"{what} {relative!r}: leaves {root}")
    return path
