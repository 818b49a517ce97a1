"""A workdir belongs to a study: `WORKDIR/workdir.json` records the id scheme and
the identity of the study last run there.

Stage ids are content hashes (train/study/plan/dag.py), so a run with another config finds
only what is truly identical already done and trains the rest under new ids; it
says in one line what differs from the study before. A workdir of id scheme 1 (no
`workdir.json`, but stages) is refused in one line naming the release that migrates
it (MIGRATING_RELEASE); nothing in it is changed.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from absl import logging

from train.study import layout
from train.study.layout import WORKDIR_FILE, is_done, old_scheme_traces
from train.study.plan.dag import ID_SCHEME, StageDag
from train.study.plan.plan import ConfigError
from xlmr_flax.atomic import write_file

# The last release that migrates a workdir of id scheme 1 (its `--migrate`,
# docs/pipeline.md); this version only refuses one.
MIGRATING_RELEASE = "xlmr-flax 0.1.0 at commit 0afab59"


class WorkdirError(ConfigError):
    """The workdir cannot be used for this run (one line naming it and what to do)."""


def check_workdir_path(workdir: str) -> None:
    """The workdir is a folder, or can be made one (its nearest existing parent is a
    writable folder); writes nothing."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f"--workdir {workdir}: is a file, expected a folder")
    parent = os.path.abspath(workdir)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise WorkdirError(f"--workdir {workdir}: cannot write there ({parent} is not writable)")


def prepare_workdir(workdir: str) -> None:
    """Creates the workdir, or says in one line why it cannot be written."""
    check_workdir_path(workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=workdir, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise WorkdirError(
            f"--workdir {workdir}: cannot write there ({err.strerror or err})"
        ) from None


def study_facts(config, dag: StageDag) -> dict[str, Any]:
    """What the study's results depend on, by name, to say what differs."""
    stages = dag.stages.values()
    return {
        "pretrained": dag.root,
        "pretrained model": config.init_checkpoint or config.model,
        "training data": {t: fp for s in stages for t, fp in s.data},
        "hyperparameters": {s.task: dict(_identity(s.hparams)) for s in stages},
        "seeds": sorted({s.seed for s in dag.sequences}),
        "targets": sorted({s.target for s in dag.sequences}),
        "paths": sorted({">".join(s.path) for s in dag.sequences}),
        "eval": json.loads(json.dumps(dict(config.get("eval") or {}), default=list)),
    }


def _identity(hparams: Any) -> dict[str, Any]:
    return hparams.identity() if hasattr(hparams, "identity") else dict(hparams)


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    found = []
    for key in now:
        old, new = before.get(key), now[key]
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            found.append(f"{key} ({', '.join(changed[:4])}{', ...' if len(changed) > 4 else ''})")
        else:
            found.append(key)
    return found


def _read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if isinstance(record, dict) and isinstance(record.get("id_scheme"), int):
            return record
    except (OSError, ValueError):
        pass
    logging.warning("%s is unreadable; writing it again", path)
    return None


def check_workdir(config, dag: StageDag, workdir: str) -> list[str]:
    """Refuses a workdir this run must not use (WorkdirError); returns notes to show.
    Reads only: `record_study` writes once every process has checked."""
    path = layout.workdir_file(workdir)
    if not os.path.exists(path):
        traces = old_scheme_traces(workdir)
        if traces:
            raise WorkdirError(
                f"--workdir {workdir}: holds results of id scheme 1 ({', '.join(traces)}; "
                f"no {WORKDIR_FILE}), left unchanged: {MIGRATING_RELEASE} migrates it "
                "(its --migrate, docs/pipeline.md), or use a new --workdir"
            )
        return []
    record = _read_record(path)
    if record is None:
        return []
    if record["id_scheme"] != ID_SCHEME:
        raise WorkdirError(
            f"--workdir {workdir}: {WORKDIR_FILE} has id scheme {record['id_scheme']}; this "
            f"version uses {ID_SCHEME}: run the version that wrote it, or use a new --workdir"
        )
    if record.get("study") == dag.identity():
        return []
    changed = differences(record.get("facts", {}), study_facts(config, dag))
    shared = sum(is_done(workdir, s) for s in dag.stages)
    return [
        f"{workdir} last ran another study (this config differs in "
        f"{'; '.join(changed) or 'its stages'}): what changed trains under new ids, "
        f"{shared} of {len(dag.stages)} stages are already done and shared"
    ]


def open_workdir(config, dag: StageDag, workdir: str) -> list[str]:
    """Every process checks the workdir; then process 0 records this study. Returns
    the notes to show."""
    from xlmr_flax.sharding import is_primary, sync_processes

    notes = check_workdir(config, dag, workdir)
    sync_processes("workdir: checked")
    if is_primary():
        record_study(config, dag, workdir)
    sync_processes("workdir: recorded")
    return notes


def record_study(config, dag: StageDag, workdir: str) -> None:
    """Writes `workdir.json` for this study (process 0), keeping earlier studies' ids."""
    path = layout.workdir_file(workdir)
    record = (_read_record(path) if os.path.exists(path) else None) or {}
    history = list(record.get("history", []))
    if record.get("study") and record["study"] != dag.identity():
        history.append(record["study"])
    write_file(
        path,
        json.dumps(
            {
                "id_scheme": ID_SCHEME,
                "study": dag.identity(),
                "facts": study_facts(config, dag),
                "history": history[-20:],
            },
            indent=1,
        ),
    )
