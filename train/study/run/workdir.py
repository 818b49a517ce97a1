"""A workdir belongs to a study: `WORKDIR/workdir.json` records the id scheme and
the identity of the study last run there.

Stage ids are content hashes (train/study/plan/dag.py), so a run with another config finds
only what is truly identical already done and trains the rest under new ids; it
says in one line what differs from the study before. A workdir of an older id
scheme (no `workdir.json`, but stages) is refused with instructions, or migrated
once with `--migrate`: each old stage is verified (the pretrained weights equal,
the same training data and tokenizer fingerprints in its manifest, its parent
migrated) and renamed to its new id; its evaluations are redone. What cannot be
verified stays in `WORKDIR/scheme-1/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np
from absl import logging

from train.study import layout
from train.study.layout import OLD_SCHEME_TRACES, WORKDIR_FILE, is_done, workdir_entry
from train.study.plan.dag import ID_SCHEME, StageDag, stable_hash
from train.study.plan.plan import ConfigError, stage_hparams
from xlmr_flax.atomic import write_file


class WorkdirError(ConfigError):
    """The workdir cannot be used for this run (one line naming it and what to do)."""


def prepare_workdir(workdir: str) -> None:
    """Creates the workdir, or says in one line why it cannot be written."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f"--workdir {workdir}: is a file, expected a folder")
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


def check_workdir(config, dag: StageDag, workdir: str, migrate: bool = False) -> list[str]:
    """Refuses a workdir this run must not use (WorkdirError); returns notes to show.
    Reads only: `record_study` writes once every process has checked."""
    path = layout.workdir_file(workdir)
    if not os.path.exists(path):
        traces = [t for t in OLD_SCHEME_TRACES if os.path.exists(workdir_entry(workdir, t))]
        if traces and not migrate:
            raise WorkdirError(
                f"--workdir {workdir}: holds results of an older id scheme ({', '.join(traces)}; "
                f"no {WORKDIR_FILE}) whose ids do not cover the training data or the "
                "pretrained weights; rerun with --migrate to keep what this config can verify "
                "(the rest moves to scheme-1/), or use a new --workdir"
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


def needs_migration(workdir: str) -> bool:
    return not os.path.exists(layout.workdir_file(workdir)) and any(
        os.path.exists(workdir_entry(workdir, t)) for t in OLD_SCHEME_TRACES
    )


def open_workdir(config, dag: StageDag, workdir: str, migrate: bool = False) -> list[str]:
    """Every process checks the workdir; then process 0 migrates it (`--migrate`) and
    records this study. Returns the notes to show."""
    from xlmr_flax.sharding import is_primary, sync_processes

    notes = check_workdir(config, dag, workdir, migrate)
    sync_processes("workdir: checked")
    if migrate and needs_migration(workdir):
        notes += migrate_scheme_1(config, dag, workdir)
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


# ----------------------------------------------------------------------------------
# Migration from id scheme 1
# ----------------------------------------------------------------------------------


def scheme_1_ids(config, dag: StageDag) -> dict[str, str]:
    """new stage id -> the id scheme 1 gave the same stage (names of the model and
    tokenizer, and every hparams key, run options included)."""
    old_root = stable_hash([config.init_checkpoint or config.model, config.tokenizer])
    old = {dag.root: old_root}
    for stage in dag.in_order():
        items = tuple(sorted(stage_hparams(config, stage.task).items()))
        old[stage.id] = stable_hash([old[stage.parent], stage.task, stage.seed, items])
    return old


def _same_params(a: str, b: str) -> bool:
    from xlmr_flax.checkpoint import load_model_dir

    try:
        _, _, _, first = load_model_dir(a)
        _, _, _, second = load_model_dir(b)
    except (OSError, ValueError):
        return False
    import jax

    flat_a, tree_a = jax.tree.flatten(first)
    flat_b, tree_b = jax.tree.flatten(second)
    return tree_a == tree_b and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(flat_a, flat_b, strict=True)
    )


def migrate_scheme_1(config, dag: StageDag, workdir: str) -> list[str]:
    """Moves a scheme-1 workdir's outputs to `scheme-1/`, writes this config's
    pretrained model and renames every stage it can verify to its new id."""
    import jax

    from train.study.run.training import pretrained_root
    from xlmr_flax import load_tokenizer
    from xlmr_flax.data.cache import tokenizer_fingerprint
    from xlmr_flax.tokenizer import sample_tokenizer_path

    if jax.process_count() > 1:
        raise WorkdirError("--migrate: run it once as a single process, then the study")
    old_dir = layout.old_scheme_dir(workdir)
    if os.path.exists(old_dir):
        raise WorkdirError(f"--migrate: {old_dir} exists; move it away first")
    os.makedirs(old_dir)
    for name in layout.OLD_SCHEME_ENTRIES:
        with contextlib.suppress(FileNotFoundError):
            os.rename(workdir_entry(workdir, name), workdir_entry(old_dir, name))
    pretrained = pretrained_root(config, workdir, dag.root)
    old_pretrained, old_done = layout.old_pretrained(old_dir)
    if not os.path.exists(old_done) or not _same_params(old_pretrained, pretrained):
        return [
            f"--migrate: the old pretrained model differs from this config's: no stage "
            f"migrated; the old outputs are in {old_dir}"
        ]
    tokenizer = tokenizer_fingerprint(load_tokenizer(config.tokenizer or sample_tokenizer_path()))
    old_ids, migrated, trained = scheme_1_ids(config, dag), {dag.root}, 0
    for stage in dag.in_order():
        source = layout.old_stage_dir(old_dir, old_ids[stage.id])
        if not os.path.exists(layout.old_stage_done(old_dir, old_ids[stage.id])):
            continue
        trained += 1
        try:
            with open(layout.old_stage_manifest(old_dir, old_ids[stage.id]), encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            continue
        sound = (
            stage.parent in migrated
            and manifest.get("task") == stage.task
            and manifest.get("seed") == stage.seed
            and manifest.get("data_fingerprint") == dict(stage.data)
            and manifest.get("tokenizer_fingerprint") == tokenizer
        )
        if not sound:
            continue
        files = layout.stage_files(workdir, stage.id)
        os.makedirs(os.path.dirname(files.directory), exist_ok=True)
        os.rename(source, files.directory)
        # Unit records name their files by the old id: the evaluations run again.
        shutil.rmtree(layout.stage_eval_dir(workdir, stage.id), ignore_errors=True)
        manifest.update(stage=stage.id, parent=stage.parent, migrated_from=old_ids[stage.id])
        write_file(files.manifest, json.dumps(manifest, indent=2))
        migrated.add(stage.id)
    return [
        f"--migrate: {len(migrated) - 1} of {trained} trained stages of this study verified "
        f"and renamed to id scheme {ID_SCHEME}; everything else of the old workdir is in "
        f"{old_dir} (delete it when no longer needed)"
    ]
