"""One of two local processes training together.

python tests/multihost_worker.py PROCESS_ID PORT WORKDIR

Writes its losses and a kernel checksum to WORKDIR/process<ID>.json.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.two_process_cluster import join

process_id, port, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
join(process_id, port, collective_timeout_s=20)

from tests.train_fixtures import GLOBAL_BATCH, train_tiny  # noqa: E402

half = GLOBAL_BATCH // 2
rows = slice(process_id * half, (process_id + 1) * half)
losses, params = train_tiny((8, 1, 1), rows=rows, workdir=workdir)
kernel = params["encoder"]["layers"][1]["output"]["kernel"]
with open(os.path.join(workdir, f"process{process_id}.json"), "w") as f:
    json.dump({"losses": losses, "kernel_sum": float(kernel.sum())}, f)
