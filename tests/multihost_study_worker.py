"""One of two local processes running a tiny study together.

python tests/multihost_study_worker.py PROCESS_ID PORT WORKDIR
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.two_process_cluster import join

process_id, port, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
join(process_id, port, collective_timeout_s=60)

from tests.study_config import two_stage_config  # noqa: E402
from train.study.run.runner import run_study  # noqa: E402

print(run_study(two_stage_config(), workdir))
