"""From an experiment config to the stage DAG, with every config error found up front."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from types import ModuleType
from typing import Any

from train.dag import StageDag, ordered_paths, stable_hash
from xlmr_flax.tasks import TASKS, get_task


class ConfigError(ValueError):
    """The experiment config cannot be run; raised before any training starts."""


def load_config_file(path: str) -> ModuleType:
    """An experiment config file as a module, loaded once (configs/ is not a package,
    so a config that varies another loads it by path)."""
    path = os.path.abspath(path)
    name = "xlmr_flax_config_" + os.path.splitext(os.path.basename(path))[0]
    if sys.modules.get(name) is None or sys.modules[name].__file__ != path:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


MIXTURE = "+"  # "mnli+squad_v2": one multi-task stage on a mixture of these tasks


def stage_tasks(name: str) -> tuple[str, ...]:
    """The tasks a stage trains on: one, or every task of a mixture."""
    return tuple(name.split(MIXTURE))


def _check_task(name: str, role: str) -> None:
    if name not in TASKS:
        raise ConfigError(f"{role} task {name!r} is unknown; known: {sorted(TASKS)}")


def intermediate_paths(study) -> list[tuple[str, ...]]:
    if study.get("sequences"):
        paths = [tuple(s) for s in study.sequences]
        if any(not p for p in paths):
            raise ConfigError("study.sequences has an empty sequence; use include_baseline")
    else:
        paths = ordered_paths(list(study.intermediate_tasks), study.orders, baseline=False)
    if study.get("include_baseline", True):
        paths = [(), *[p for p in paths if p]]
    for element in {e for path in paths for e in path}:
        parts = stage_tasks(element)
        if len(parts) > 1 and len(set(parts)) != len(parts):
            raise ConfigError(f"mixture {element!r} names a task twice")
    for path in paths:
        for name in (t for element in path for t in stage_tasks(element)):
            _check_task(name, "intermediate")
            task = get_task(name)
            if task.is_target and task.train_on != (name,):
                raise ConfigError(
                    f"intermediate task {name!r} has no training data of its own "
                    f"(it trains on {task.train_on or 'nothing'}); name that task instead"
                )
    return paths


def stage_hparams(config, task: str) -> dict[str, Any]:
    """The task's hyperparameters: `hparams.default` updated by `hparams.<task>`; a
    mixture's first by `hparams.mixture` (with its `rate` and `cap`, see
    data/mixture.py), then by its own entry, e.g. `hparams["mlm+xnli"]`."""
    values = dict(config.hparams.default)
    if len(stage_tasks(task)) > 1:
        values.update(rate="proportional", cap=2**17)
        values.update(config.hparams.get("mixture", {}))
    values.update(config.hparams.get(task, {}))
    return values


def build_dag(config) -> StageDag:
    study = config.study
    for name in study.targets:
        _check_task(name, "target")
        if not get_task(name).is_target:
            raise ConfigError(f"target {name!r} is not an XTREME-R target task")
    if not study.targets or not study.seeds:
        raise ConfigError("study.targets and study.seeds must not be empty")
    root = stable_hash([config.init_checkpoint or config.model, config.tokenizer])
    dag = StageDag(root)
    for seed in study.seeds:
        for path in intermediate_paths(study):
            for target in study.targets:
                dag.add_sequence(path, target, seed, lambda task: stage_hparams(config, task))
    return dag


def stage_dir(workdir: str, stage_id: str) -> str:
    return os.path.join(workdir, "stages", stage_id)


def is_done(workdir: str, stage_id: str) -> bool:
    return os.path.exists(os.path.join(stage_dir(workdir, stage_id), "DONE"))


def missing_data(config, dag: StageDag) -> list[str]:
    """Tasks whose training files are absent from the raw-data folder."""
    raw, missing = config.raw_data, []
    for name in sorted({t for s in dag.stages.values() for t in stage_tasks(s.task)}):
        task = get_task(name)
        if task.data_task("train").locate(raw, "train", "en") is None:  # files only, unread
            missing.append(name)
    return missing


def summary(config, dag: StageDag, workdir: str, stages=None) -> dict[str, Any]:
    stages = dag.in_order() if stages is None else stages
    done = sum(is_done(workdir, s.id) for s in stages)
    return {
        "paths": len(intermediate_paths(config.study)),
        "seeds": len(config.study.seeds),
        "targets": len(config.study.targets),
        "stage_runs_naive": dag.naive_stage_runs(),
        "stage_runs_unique": len(dag.stages),
        "stages_in_shard": len(stages),
        "stages_done": done,
        "stages_pending": len(stages) - done,
    }


def print_plan(config, dag: StageDag, workdir: str, stages=None, out=print) -> dict[str, Any]:
    """The stage tree with done/pending marks, then one JSON line of counts."""
    stages = dag.in_order() if stages is None else stages
    chosen = {s.id for s in stages}

    def show(parent: str, indent: str) -> None:
        for child in dag.children(parent):
            if child.id in chosen:
                mark = "done" if is_done(workdir, child.id) else "pending"
                out(f"{indent}{child.task} (seed {child.seed}) {child.id} [{mark}]")
            show(child.id, indent + "  ")

    out(f"pretrained {config.init_checkpoint or config.model} {dag.root}")
    show(dag.root, "  ")
    missing = missing_data(config, dag)
    if missing:
        out(f"missing training data under {config.raw_data}: {', '.join(missing)}")
    result = summary(config, dag, workdir, stages)
    out(json.dumps(result))
    return result
