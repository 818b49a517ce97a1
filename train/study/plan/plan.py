"""From an experiment config to the stage DAG, with every config error found up front."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from absl import logging

from eval.analysis.trained import DEFAULT_MARGIN, KEEP, RuleError, check_rule
from eval.predict.program import PredictOptions
from train.hparams import (
    MIXTURE,
    HparamsError,
    Hyperparameters,
    RunOptions,
    stage_settings,
    stage_tasks,
)
from train.study.plan.dag import StageDag, ordered_paths
from train.study.plan.identity import root_identity, training_data_fingerprint
from xlmr_flax import get_model_config
from xlmr_flax.formats import get_format
from xlmr_flax.languages import CLASSES
from xlmr_flax.sharding import mesh_shape
from xlmr_flax.tasks import TASKS, get_task
from xlmr_flax.tasks.retrieval.tatoeba import reference_differences


class ConfigError(ValueError):
    """The experiment config cannot be run; raised before any training starts."""


def load_config_file(path: str) -> ModuleType:
    """An experiment config file as a module, loaded once, by path: the command line
    names configs by file (`configs/FILE.py[:ARG]`), as ml_collections' config flag
    does; what they share they import from `configs.base`."""
    path = os.path.abspath(path)
    name = "xlmr_flax_config_" + os.path.splitext(os.path.basename(path))[0]
    if sys.modules.get(name) is None or sys.modules[name].__file__ != path:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: its dataclasses look it up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def _check_task(name: str, role: str) -> None:
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(TASKS))}"
        raise ConfigError(f"{role} task {name!r} is unknown; {hint}")


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


def _merged_hparams(config, task: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, the config entry each came from) of a stage's settings."""
    values, sources = {}, {}

    def apply(entry, name: str) -> None:
        for key, value in dict(entry).items():
            values[key], sources[key] = value, name

    apply(config.hparams.get("default", {}), "config.hparams.default")
    if len(stage_tasks(task)) > 1:
        apply(dict(rate="proportional", cap=2**17), "config.hparams.mixture")
        apply(config.hparams.get("mixture", {}), "config.hparams.mixture")
    own = f"config.hparams[{task!r}]" if MIXTURE in task else f"config.hparams.{task}"
    apply(config.hparams.get(task, {}), own)
    return values, sources


def stage_hparams(config, task: str) -> dict[str, Any]:
    """The task's settings as given: `hparams.default` updated by `hparams.<task>`; a
    mixture's first by `hparams.mixture` (with its `rate` and `cap`, see
    data/mixture.py), then by its own entry, e.g. `hparams["mlm+xnli"]`."""
    return _merged_hparams(config, task)[0]


def stage_records(config, task: str) -> tuple[Hyperparameters, RunOptions]:
    """The stage's typed hyperparameters (its id) and run options (not its id)."""
    values, sources = _merged_hparams(config, task)
    try:
        return stage_settings(values, sources, task, mixture=len(stage_tasks(task)) > 1)
    except HparamsError as err:
        raise ConfigError(str(err)) from None


def run_options(config, task: str) -> RunOptions:
    return stage_records(config, task)[1]


def _check_unique(values, key: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{key}: {value!r} is listed twice")
        seen.add(value)


def check_study_keys(config) -> None:
    """The study and hyperparameter entries of a config: known keys, no duplicates."""
    study = config.study
    unknown = sorted(set(study.keys()) - set(STUDY_KEYS))
    if unknown:
        raise ConfigError(
            f"config.study.{unknown[0]}: unknown key; expected {', '.join(STUDY_KEYS)}"
        )
    seeds = list(study.seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"config.study.seeds: expected integers >= 0, got {seed!r}")
    _check_unique(seeds, "config.study.seeds")
    _check_unique(list(study.targets), "config.study.targets")
    _check_unique(list(study.get("intermediate_tasks", ())), "config.study.intermediate_tasks")
    _check_unique([tuple(s) for s in study.get("sequences", ())], "config.study.sequences")
    orders = list(study.get("orders", ()))
    _check_unique(orders, "config.study.orders")
    for k in orders:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"config.study.orders: expected integers >= 1, got {k!r}")
    for name in dict(config.hparams):
        if name in ("default", "mixture"):
            continue
        for part in stage_tasks(name):
            if part not in TASKS:
                raise ConfigError(
                    f"config.hparams.{name}: no task {part!r}; expected default, mixture "
                    "or a task (or mixture `a+b`) name"
                )


def check_report_keys(config) -> None:
    """The report's primary class and rule for failed runs, checked before anything
    trains: the report that reads them comes only at the end of the run."""
    report = config.get("report") or {}
    try:
        check_rule(report.get("failed_runs", KEEP), report.get("failure_margin", DEFAULT_MARGIN))
    except RuleError as err:
        raise ConfigError(str(err)) from None
    primary = report.get("primary_class", "")
    if primary and primary not in CLASSES:
        raise ConfigError(
            f"config.report.primary_class: {primary!r} is not a resource class; "
            f"expected one of {', '.join(CLASSES)} or empty"
        )


STUDY_KEYS = (
    "intermediate_tasks",
    "orders",
    "include_baseline",
    "sequences",
    "targets",
    "seeds",
)


def build_dag(config, resolve: bool = False) -> StageDag:
    """The study's DAG, every stage's settings checked. Stage ids cover the training
    data's bytes (`config.raw_data`) and the root id the pretrained weights and the
    tokenizer; `resolve` downloads a hub checkpoint to identify it (the run does,
    a dry run does not: its ids are then marked provisional)."""
    study = config.study
    check_study_keys(config)
    check_report_keys(config)
    for name in study.targets:
        _check_task(name, "target")
        if not get_task(name).is_target:
            raise ConfigError(f"target {name!r} is not an XTREME-R target task")
    if not study.targets or not study.seeds:
        raise ConfigError("study.targets and study.seeds must not be empty")
    try:
        identity = root_identity(config, resolve=resolve)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    dag = StageDag(identity)
    records = {}

    def hparams_of(task: str) -> Hyperparameters:
        if task not in records:
            records[task] = stage_records(config, task)[0]
        return records[task]

    def data_of(task: str) -> dict[str, str | None]:
        return {t: training_data_fingerprint(config.raw_data, t) for t in stage_tasks(task)}

    if "tatoeba" in study.targets:
        _note_tatoeba_settings(config)
    paths = intermediate_paths(study)
    for seed in study.seeds:
        for path in paths:
            for target in study.targets:
                dag.add_sequence(path, target, seed, hparams_of, data_of)
    return dag


def _note_tatoeba_settings(config) -> None:
    """A warning when Tatoeba is embedded otherwise than XTREME does (its numbers then
    do not compare with published ones); settings outside the model are errors later."""
    options, defaults = config.get("eval") or {}, PredictOptions()
    layer, pooling = options.get("layer", defaults.layer), options.get("pooling", defaults.pooling)
    try:
        num_layers = get_model_config(config.model).num_layers
        problems = reference_differences(layer, pooling, num_layers)
    except ValueError:
        return  # an unnamed model size, or a layer it lacks: the evaluation says so
    if problems:
        logging.warning(
            "config.eval: Tatoeba is embedded with %s, so its scores do not compare with "
            "XTREME-R's (docs/evaluation.md, Tatoeba)",
            "; ".join(problems),
        )


def check_batches(config, dag: StageDag, devices: int) -> None:
    """Every stage's global batch splits evenly over the data-parallel devices (the
    mesh's data x fsdp axes on `devices`): else JAX fails on the first step."""
    try:
        data, fsdp, _ = mesh_shape(tuple(config.mesh), devices)
    except ValueError as err:
        raise ConfigError(f"config.mesh: {err}") from None
    for task in sorted({s.task for s in dag.stages.values()}):
        values, sources = _merged_hparams(config, task)
        batch = values.get("batch_size")
        if batch is not None and batch % (data * fsdp):
            raise ConfigError(
                f"{sources['batch_size']}.batch_size={batch}: does not split over the "
                f"{data * fsdp} data-parallel devices (config.mesh {tuple(config.mesh)} on "
                f"{devices} devices); use a multiple of {data * fsdp}"
            )


def small_training_sets(config, dag: StageDag, examples: Mapping[str, int]) -> list[str]:
    """One line per stage task whose English training examples (`examples[task]`, as
    the data check counts them) are fewer than one batch of its stage. A windowed
    format (QA: an example may give several windows) is left to the batcher, which
    counts the windows."""
    problems = []
    for task in sorted({s.task for s in dag.stages.values()}):
        values, sources = _merged_hparams(config, task)
        for name in stage_tasks(task):
            if get_format(get_task(name).format).windowed:
                continue
            count, batch = examples.get(name), values.get("batch_size")
            if count is not None and batch is not None and count < batch:
                problems.append(
                    f"{name} train: {count} examples are fewer than one batch of {batch} "
                    f"({sources['batch_size']}.batch_size)"
                )
    return problems


def root_id(config, resolve: bool = True) -> str:
    """The pretrained model's id (its weights' and tokenizer's content)."""
    try:
        return StageDag(root_identity(config, resolve=resolve)).root
    except ValueError as err:
        raise ConfigError(str(err)) from None


def missing_data(config, dag: StageDag) -> list[str]:
    """Tasks whose training files are absent from the raw-data folder."""
    raw, missing = config.raw_data, []
    for name in sorted({t for s in dag.stages.values() for t in stage_tasks(s.task)}):
        task = get_task(name)
        if task.data_task("train").locate(raw, "train", "en") is None:  # files only, unread
            missing.append(name)
    return missing


def summary(config, dag: StageDag, is_done: Callable[[str], bool], stages=None) -> dict[str, Any]:
    """Counts of the study; `is_done(stage id)` says which stages the workdir holds."""
    stages = dag.in_order() if stages is None else stages
    done = sum(is_done(s.id) for s in stages)
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


def print_plan(
    config, dag: StageDag, is_done: Callable[[str], bool], stages=None, out=print
) -> dict[str, Any]:
    """The stage tree with done/pending marks (`is_done(stage id)`), then one JSON line
    of counts."""
    stages = dag.in_order() if stages is None else stages
    chosen = {s.id for s in stages}

    def show(parent: str, indent: str) -> None:
        for child in dag.children(parent):
            if child.id in chosen:
                mark = "done" if is_done(child.id) else "pending"
                out(f"{indent}{child.task} (seed {child.seed}) {child.id} [{mark}]")
            show(child.id, indent + "  ")

    out(f"pretrained {config.init_checkpoint or config.model} {dag.root}")
    if not dag.resolved:
        out("pretrained weights not downloaded yet: the ids below are provisional")
    show(dag.root, "  ")
    missing = missing_data(config, dag)
    if missing:
        out(f"missing training data under {config.raw_data}: {', '.join(missing)}")
    result = summary(config, dag, is_done, stages)
    out(json.dumps(result))
    return result
