"""Every path of a study's workdir, and its DONE markers: the one place they are named.

    WORKDIR/
      workdir.json                     the study last run here (workdir.py)
      locks/shard-I-of-N.lock          who runs which shard (lock.py)
      pretrained/<root id>/            the converted pretrained model
      pretrained/<root id>.init_hf/    a random model in transformers format, first
      pretrained/<root id>.DONE        written last
      stages/<id>/                     one trained stage (StageFiles)
        checkpoints/ model/ metrics.jsonl tensorboard/ manifest.json DONE
        FAILED                         its one-line error, if its last try failed
        progress.json                  its step counters (watchdog)
        attempts.json                  what each try of the last run held and kept (goodput)
        tries/<run>.<n>.json           each try under Ray: its node, how it ended
        checkpoints-set-aside/<step>/  a corrupt checkpoint, kept (train/checkpoints.py)
        eval/<unit>-<key>.json         one evaluation unit's records
        eval/<unit>-<key>/<split>-<lang>.npy   its per-example statistics
        submission/<task>/test-<lang>.<ext>    test predictions for submission
      features/                        tokenized features, shared by every stage
      compilation_cache/               compiled programs, shared across runs
      compiled/<topology>.json         --compile-only results (compile.py)
      results.jsonl                    every record (results.py)
      failed.json                      the failed stages of the last run (failures.py)
      goodput.json                     where the last run's time went (goodput.py)
      drained.json                     the nodes drained by the running Ray study
      .health-<token>                  a health check's probe, removed at once
      report/                          the report (eval.report)

The trainer (train/stage.py) writes inside the folders it is given; no other module
of the pipeline joins a workdir path. The results file, the report folder,
failed.json and goodput.json are named by the results record
(eval/analysis/records.py), which the report reads without the pipeline; they are
taken from there.
"""

from __future__ import annotations

import os

from eval.analysis.records import failed_file as failed_file  # the pipeline names them here
from eval.analysis.records import goodput_file as goodput_file
from eval.analysis.records import results_file as results_file
from train.stage import StageFiles

WORKDIR_FILE = "workdir.json"
# What a workdir of id scheme 1 (before workdir.json) holds at its top.
OLD_SCHEME_TRACES = ("stages", "pretrained.DONE", "init_hf")


def workdir_file(workdir: str) -> str:
    return os.path.join(workdir, WORKDIR_FILE)


def lock_path(workdir: str, shard: tuple[int, int]) -> str:
    return os.path.join(workdir, "locks", f"shard-{shard[0]}-of-{shard[1]}.lock")


def features_dir(workdir: str) -> str:
    return os.path.join(workdir, "features")


def compilation_cache_dir(workdir: str) -> str:
    return os.path.join(workdir, "compilation_cache")


def compiled_file(workdir: str, topology: str) -> str:
    """Where `--compile-only --workdir` records its results (`--dry-run` reads them)."""
    return os.path.join(workdir, "compiled", f"{topology}.json")


# ----------------------------------------------------------------------------------
# The pretrained model
# ----------------------------------------------------------------------------------


def pretrained_dir(workdir: str, root: str) -> str:
    """Our model directory of the pretrained model, by its content id."""
    return os.path.join(workdir, "pretrained", root)


def pretrained_done(workdir: str, root: str) -> str:
    return os.path.join(workdir, "pretrained", f"{root}.DONE")


def pretrained_source(workdir: str, root: str) -> str:
    """A random model's transformers-format folder, converted from (smoke runs)."""
    return os.path.join(workdir, "pretrained", f"{root}.init_hf")


# ----------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------


def stage_dir(workdir: str, stage_id: str) -> str:
    return os.path.join(workdir, "stages", stage_id)


def stage_files(workdir: str, stage_id: str) -> StageFiles:
    """Where the trainer writes one stage (and reads the shared feature cache)."""
    directory = stage_dir(workdir, stage_id)
    return StageFiles(
        directory=directory,
        checkpoints=os.path.join(directory, "checkpoints"),
        model=os.path.join(directory, "model"),
        metrics=os.path.join(directory, "metrics.jsonl"),
        manifest=os.path.join(directory, "manifest.json"),
        done=os.path.join(directory, "DONE"),
        features=features_dir(workdir),
    )


def stage_failed(workdir: str, stage_id: str) -> str:
    """The stage's FAILED record: the one-line error of its last, failed try."""
    return os.path.join(stage_dir(workdir, stage_id), "FAILED")


def stage_attempts(workdir: str, stage_id: str) -> str:
    """What each try of the stage in the last run held and kept (attempts.py)."""
    return os.path.join(stage_dir(workdir, stage_id), "attempts.json")


def stage_progress(workdir: str, stage_id: str) -> str:
    """The stage's step counters, rewritten as it trains and evaluates."""
    return os.path.join(stage_dir(workdir, stage_id), "progress.json")


def drained_file(workdir: str) -> str:
    """The nodes the running Ray study drained, for its tries to read (ray_driver.py)."""
    return os.path.join(workdir, "drained.json")


def health_probe(workdir: str, name: str) -> str:
    """A small file a stage's health check writes, reads back and removes."""
    return os.path.join(workdir, f".health-{name}")


def stage_tries_dir(workdir: str, stage_id: str) -> str:
    """One record per try of the stage under the Ray executor: the node it ran on and
    how it ended (train/study/run/try_records.py)."""
    return os.path.join(stage_dir(workdir, stage_id), "tries")


def stage_model_dir(workdir: str, stage_id: str) -> str:
    return stage_files(workdir, stage_id).model


def is_done(workdir: str, stage_id: str) -> bool:
    return os.path.exists(stage_files(workdir, stage_id).done)


def unit_file(workdir: str, stage_id: str, unit: str, key: str) -> str:
    return os.path.join(stage_dir(workdir, stage_id), "eval", f"{unit}-{key}.json")


def unit_examples_dir(workdir: str, stage_id: str, unit: str, key: str) -> str:
    """The folder of a unit's per-example statistics, beside its records file."""
    return unit_file(workdir, stage_id, unit, key).removesuffix(".json")


def stage_eval_dir(workdir: str, stage_id: str) -> str:
    return os.path.join(stage_dir(workdir, stage_id), "eval")


def submission_dir(workdir: str, stage_id: str) -> str:
    """The stage's submission folder (`<task>/test-<lang>.<ext>`, as `evaluate.py`'s
    `--prediction_folder`)."""
    return os.path.join(stage_dir(workdir, stage_id), "submission")


# ----------------------------------------------------------------------------------
# Id scheme 1 (refused)
# ----------------------------------------------------------------------------------


def old_scheme_traces(workdir: str) -> list[str]:
    """The entries of id scheme 1 at the top of a workdir without `workdir.json`."""
    if os.path.exists(workdir_file(workdir)):
        return []
    return [t for t in OLD_SCHEME_TRACES if os.path.exists(os.path.join(workdir, t))]
