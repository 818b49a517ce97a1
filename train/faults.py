"""Deliberate SIGKILLs at named points of a run, so tests can cut a run off exactly
where they mean to (inside a stage, between stages, between evaluations).

`XLMR_FLAX_KILL_AT=<point>` kills the process when it reaches `<point>`; points are
`step:<stage id>:<step>` (after that step, and its checkpoint if one was due),
`stage:<stage id>` (after the stage's DONE marker) and `eval:<unit>` (after an
evaluation's file is written). Unset, this costs one dictionary lookup per point.
"""

from __future__ import annotations

import os
import signal

ENV = "XLMR_FLAX_KILL_AT"


def reached(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
