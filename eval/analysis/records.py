"""The records of `WORKDIR/results.jsonl`: one score of one run (path, target,
language, seed) on one metric, written (`record_line`, by the study pipeline) and
read and checked (`parse_results`, by the report) line by line.

A study's folder (the pipeline's workdir) holds the results file, the report folder,
the failed stages of its last run (`failed.json`, `StageFailure`) and where that
run's time went (`goodput.json`). The report reads that folder without the
pipeline, so the names of those entries are kept here, with the records, and
train/study/layout.py takes them from here rather than naming them again.

A record's `examples` names its run's per-example statistics relative to the study
folder (`examples_file` finds it; the pipeline's own names come from
train/study/layout.py); a study written without the pipeline (bench/simulation.py's
synthetic ones) names them by `examples_name` and writes its records by
`write_results`. An adaptive study's design and looks are kept in
`adaptive/` (`adaptive_file`)."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from xlmr_flax.storage import confined

RESULTS_FILE = "results.jsonl"
REPORT_DIR = "report"
FAILED_FILE = "failed.json"
GOODPUT_FILE = "goodput.json"


class Kind(StrEnum):
    """What a record measures (written as its plain string)."""

    ZERO_SHOT = "zero_shot"  # a target on every language (path: without the target)
    DEV = "dev"  # an intermediate task's English dev set (forgetting)
    ALIGNMENT = "alignment"  # Tatoeba retrieval on a stage's encoder


KINDS = tuple(k.value for k in Kind)
EXAMPLES_DIR = "examples"  # per-example statistics of a study written without the pipeline
REQUIRED_KEYS = ("kind", "path", "target", "lang", "seed", "metric", "value")
# The keys of a line, in the order they are written.
LINE_KEYS = (
    "kind", "path", "target", "lang", "split", "gold", "seed", "metric", "value", "stage",
    "examples",
)  # fmt: skip
TRAINING_FAILED = "training_failed"  # a key only the lines of runs that did not train hold

Path = tuple[str, ...]
RunKey = tuple[Path, str, str, int]  # (path, target, lang, seed)


def results_file(study_dir: str) -> str:
    return os.path.join(study_dir, RESULTS_FILE)


def report_dir(study_dir: str) -> str:
    return os.path.join(study_dir, REPORT_DIR)


def failed_file(study_dir: str) -> str:
    return os.path.join(study_dir, FAILED_FILE)


def goodput_file(study_dir: str) -> str:
    return os.path.join(study_dir, GOODPUT_FILE)


@dataclass(frozen=True)
class StageFailure:
    """A stage of the last run that failed, and the zero-shot cells it leaves empty
    (its own and its descendants' sequences: (path, target, seed))."""

    stage: str
    task: str
    seed: int
    path: Path  # the tasks trained up to and including the stage
    error: str  # one line
    cells: tuple[tuple[Path, str, int], ...]


def failures_json(failures: Iterable[StageFailure]) -> str:
    """`failed.json`'s text."""
    rows = [
        dict(
            stage=f.stage, task=f.task, seed=f.seed, path=list(f.path), error=f.error,
            cells=[dict(path=list(p), target=t, seed=s) for p, t, s in f.cells],
        )
        for f in failures
    ]  # fmt: skip
    return json.dumps({"failed": rows}, indent=1, ensure_ascii=False)


def load_failures(study_dir: str) -> list[StageFailure]:
    """The failed stages of the study's last run (none: no file). A file that does not
    read back raises `ResultsError` naming it and the entry at fault."""
    path = failed_file(study_dir)
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)["failed"]
        return [
            StageFailure(
                stage=str(r["stage"]), task=str(r["task"]), seed=int(r["seed"]),
                path=tuple(r["path"]), error=str(r["error"]),
                cells=tuple(_cell(c) for c in r["cells"]),
            )
            for r in rows
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResultsError(f"{path}: expected {{'failed': [stage entries]}} ({err})") from None


def _cell(raw: dict[str, Any]) -> tuple[Path, str, int]:
    return tuple(raw["path"]), str(raw["target"]), int(raw["seed"])


def load_goodput(study_dir: str) -> dict[str, Any] | None:
    """Where the last run's time went (`goodput.json`; None: no file or unreadable)."""
    try:
        with open(goodput_file(study_dir), encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("study"), dict) else None


# An adaptive study's design and looks (eval/stats/adaptive_study.py, docs/adaptive.md).
ADAPTIVE_DIR = "adaptive"


def adaptive_file(study_dir: str, name: str) -> str:
    return os.path.join(study_dir, ADAPTIVE_DIR, name)


def examples_file(study_dir: str, relative: str) -> str:
    """The file a record's `examples` names; a name that would leave the study folder
    (absolute, `..`, a link out) raises ValueError."""
    return confined(study_dir, relative, "examples file")


def examples_name(path_key: str, seed: int, target: str, lang: str) -> str:
    """The `examples` of a run in a study written without the pipeline (relative)."""
    return "/".join((EXAMPLES_DIR, f"{path_key}-{seed}", f"{target}-{lang}.npy"))


def write_results(study_dir: str, records: Iterable[Record]) -> int:
    """Writes STUDY_DIR/results.jsonl whole (`record_line` per record); returns how
    many. For studies written without the pipeline, which writes its own."""
    lines = [record_line(r) + "\n" for r in records]
    with open(results_file(study_dir), "w", encoding="utf-8") as f:
        f.writelines(lines)
    return len(lines)


class ResultsError(ValueError):
    """A malformed results file; the message starts with `FILE:LINE:`."""


@dataclass(frozen=True)
class Record:
    """One line of results.jsonl; `where` is its `file:line`."""

    kind: Kind
    path: Path
    target: str
    lang: str
    seed: int
    metric: str
    value: float
    stage: str | None = None
    examples: str | None = None
    split: str | None = None  # the evaluation split scored (records before it: None)
    gold: str | None = None  # where its gold came from: "raw:<layout>" or "labels"
    # Why its run did not train (eval/analysis/trained.py); written only when set, so
    # the lines of runs that trained are those written before the check existed.
    training_failed: str | None = None
    where: str = ""


def _check_record(raw: Any) -> str | None:
    """What is wrong with one parsed line, or None."""
    if not isinstance(raw, dict):
        return f"expected a JSON object, got {type(raw).__name__}"
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        return "missing key" + ("s " if len(missing) > 1 else " ") + ", ".join(map(repr, missing))
    if raw["kind"] not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}; got {raw['kind']!r}"
    path = raw["path"]
    if not isinstance(path, list) or not all(isinstance(t, str) and t for t in path):
        return f"path must be a list of task names; got {path!r}"
    for key in ("target", "lang", "metric"):
        if not isinstance(raw[key], str) or not raw[key]:
            return f"{key} must be a non-empty string; got {raw[key]!r}"
    if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
        return f"seed must be an integer; got {raw['seed']!r}"
    value = raw["value"]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return f"value must be a finite number; got {value!r}"
    for key in ("stage", "examples", "split", "gold", TRAINING_FAILED):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            return f"{key} must be a string or null; got {raw[key]!r}"
    return None


def record_line(record: Record) -> str:
    """One line of results.jsonl (without its newline); a record that would not read
    back raises `ResultsError`."""
    raw = {key: getattr(record, key) for key in LINE_KEYS}
    raw["path"] = list(record.path)
    if record.training_failed is not None:
        raw[TRAINING_FAILED] = record.training_failed
    problem = _check_record(raw)
    if problem:
        raise ResultsError(f"record not written: {problem}")
    return json.dumps(raw, ensure_ascii=False)


def parse_results(lines: Iterable[str], source: str = "results.jsonl") -> list[Record]:
    """Records from JSON lines (blank lines skipped). A malformed line or a second
    record for the same (kind, path, target, lang, seed, metric) raises `ResultsError`
    naming `source:line`."""
    records: list[Record] = []
    first_line: dict[tuple, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise ResultsError(
                f"{where}: not valid JSON ({error.msg}, column {error.colno})"
            ) from None
        problem = _check_record(raw)
        if problem:
            raise ResultsError(f"{where}: {problem}")
        record = Record(
            kind=Kind(raw["kind"]),
            path=tuple(raw["path"]),
            target=raw["target"],
            lang=raw["lang"],
            seed=raw["seed"],
            metric=raw["metric"],
            value=float(raw["value"]),
            stage=raw.get("stage"),
            examples=raw.get("examples"),
            split=raw.get("split"),
            gold=raw.get("gold"),
            training_failed=raw.get(TRAINING_FAILED),
            where=where,
        )
        key = (record.kind, record.path, record.target, record.lang, record.seed, record.metric)
        if key in first_line:
            raise ResultsError(f"{where}: the same record as line {first_line[key]}")
        first_line[key] = number
        records.append(record)
    return records


def load_results(path: str) -> list[Record]:
    """The records of a results.jsonl file (see `parse_results`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no results file (the study writes it after evaluating)")
    with open(path, encoding="utf-8") as f:
        return parse_results(f, path)


def group_runs(records: Iterable[Record], kind: str) -> dict[RunKey, dict[str, Record]]:
    """The records of one kind by run (path, target, lang, seed), then by metric."""
    runs: dict[RunKey, dict[str, Record]] = defaultdict(dict)
    for r in records:
        if r.kind == kind:
            runs[(r.path, r.target, r.lang, r.seed)][r.metric] = r
    return dict(runs)
