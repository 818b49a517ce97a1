"""An adaptive study's record: its design (written once, before the first look), its
looks (appended, one line each, never rewritten) and the state they leave.

    WORKDIR/adaptive/design.json   the design, the seeds in order, pairs and targets
    WORKDIR/adaptive/looks.jsonl   one line per look: every comparison's numbers and state

    planned = plan_design(config.design, paths, targets, seeds)
    record_design(workdir, planned)          # DesignChanged if another design is there
    state = next_round(workdir)              # computes each look whose seeds are all in
    state.rows, state.next_runs              # latest rows; (path, target, seed) to train next

A comparison is a pair of orders × target × resource class (the classes of
`design.families`); its per-seed difference is the mean over the class's languages of
that target (the estimand `class-mean`), its test-set variances come from the same
bootstrap the report draws (eval/stats/ordering.py). The first line of a look wins:
a second invocation, or a resumed one, reads its decisions and never decides again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.analysis import (
    Path,
    Record,
    load_results,
    order_comparisons,
    path_key,
    results_file,
    trained,
)
from eval.analysis.records import adaptive_file
from eval.stats import adaptive, effects
from eval.stats.adaptive_seeds import comparison_seeds, comparison_series, failed_seeds
from xlmr_flax.atomic import write_file
from xlmr_flax.languages import resource_class
from xlmr_flax.tasks import get_task

DESIGN_FILE, LOOKS_FILE = "design.json", "looks.jsonl"
Run = tuple[Path, str, int]  # (path, target, seed): one sequence of the study


class DesignChanged(ValueError):
    """The workdir holds another adaptive design: one line naming what differs."""


def estimand_targets(targets: Sequence[str], families: Sequence[str]) -> list[str]:
    """The targets with a test language in one of `families` (XQuAD, MLQA, LAReQA and
    Mewsli-X have no low-resource language: a low-resource question never rests on them)."""
    found = []
    for target in targets:
        langs = get_task(target).languages("test")
        if any(f == "all" or resource_class(lang) == f for lang in langs for f in families):
            found.append(target)
    return found


def plan(
    design: adaptive.Design, paths: Iterable[Path], targets: Sequence[str], seeds: Sequence[int]
) -> dict[str, Any]:
    """What the study record holds: the design, its seeds in look order, the pairs of
    orders and the targets every decision rests on."""
    if len(seeds) < design.budget:
        raise adaptive.DesignError(
            f"config.study.seeds: {len(seeds)} seeds, the design's looks need {design.budget}"
        )
    pairs, _ = order_comparisons(paths)
    chosen = [t for t in targets if not design.targets or t in design.targets]
    unknown = sorted(set(design.targets) - set(targets))
    if unknown:
        raise adaptive.DesignError(
            f"config.design.targets: {', '.join(unknown)} not among the study's targets"
        )
    chosen = estimand_targets(chosen, design.families)
    if not pairs or not chosen:
        raise adaptive.DesignError(
            "config.design: no comparison to make (the study needs two orders of the same "
            f"tasks and a target with {'/'.join(design.families)}-resource languages)"
        )
    return dict(
        design=design.to_dict(),
        fingerprint=design.fingerprint(),
        seeds=list(seeds[: design.budget]),
        pairs=[[list(a), list(b)] for a, b in pairs],
        targets=chosen,
    )


def record_design(workdir: str, planned: dict[str, Any]) -> None:
    """Writes the design before the first look; the same design again is a no-op and
    any other a DesignChanged error naming the fields that differ."""
    path = adaptive_file(workdir, DESIGN_FILE)
    before = read_design(workdir)
    if before is None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file(path, json.dumps(planned, indent=1))
        return
    if before == planned:
        return
    changed = sorted(
        k
        for k in set(before) | set(planned)
        if k != "fingerprint" and before.get(k) != planned.get(k)
    )
    inner = sorted(
        f"design.{k}"
        for k in set(before.get("design", {})) | set(planned.get("design", {}))
        if before.get("design", {}).get(k) != planned.get("design", {}).get(k)
    )
    named = [c for c in changed if c != "design"] + inner
    raise DesignChanged(
        f"{path}: the study's adaptive design is fixed before its first look and this config "
        f"changes {', '.join(named)}; run the recorded design or use a new --workdir"
    )


def read_design(workdir: str) -> dict[str, Any] | None:
    path = adaptive_file(workdir, DESIGN_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as err:
        raise DesignChanged(
            f"{path}: unreadable ({err}); restore it or use a new --workdir"
        ) from None


def read_looks(workdir: str, fingerprint: str) -> list[dict[str, Any]]:
    """The recorded looks in order, the first line of each look winning. A last line
    cut short (no newline: the run stopped while appending) is a look not recorded; any
    other unreadable line, or a look of another design, is an error naming its line."""
    path = adaptive_file(workdir, LOOKS_FILE)
    if not os.path.exists(path):
        return []
    looks: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            look = json.loads(line)
        except ValueError:
            if number == len(lines):  # cut short; _append_look drops it
                break
            raise DesignChanged(f"{path}:{number}: not a JSON line; restore the file") from None
        if look.get("fingerprint") != fingerprint:
            raise DesignChanged(
                f"{path}:{number}: a look of another design ({look.get('fingerprint')})"
            )
        if look["look"] == len(looks):
            looks.append(look)
    return looks


def _append_look(workdir: str, look: dict[str, Any]) -> None:
    """Appends one line (after dropping a last line cut short) and syncs it."""
    path = adaptive_file(workdir, LOOKS_FILE)
    with open(path, "a+b") as f:
        f.seek(0)
        text = f.read()
        if text and not text.endswith(b"\n"):
            f.truncate(text.rfind(b"\n") + 1)
        f.write((json.dumps(look) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def comparison_name(row: dict[str, Any]) -> str:
    return (
        f"{path_key(row['first'])} vs {path_key(row['second'])} on {row['target']}, "
        f"{row['resource_class']}"
    )


def family_name(first: Sequence[str], second: Sequence[str], cls: str) -> str:
    return f"{cls}-resource effects of {path_key(first)} vs {path_key(second)}"


@dataclass
class State:
    planned: dict[str, Any]
    looks: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # latest per comparison
    next_runs: list[Run] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # runs the next look still lacks

    @property
    def finished(self) -> bool:
        return bool(self.looks) and all(r["state"] in adaptive.STOPPED for r in self.rows)


def _test_variances(diffs: np.ndarray, boot: np.ndarray | None) -> tuple[float, float]:
    """(b, v): the test-set covariance the seeds share and the variance of their mean
    (eval/stats/effects.py); NaN without per-example statistics."""
    if boot is None:
        return float("nan"), float("nan")
    parts = effects.variance_components(diffs[None], boot[None])
    return float(parts["shared"][0]), float(parts["of_mean"][0])


def _look_of(row: dict[str, Any]) -> adaptive.Look:
    names = adaptive.Look.__dataclass_fields__
    look = adaptive.Look(**{k: row[k] for k in names if k != "extra" and k in row})
    look.extra = {k: v for k, v in row.items() if k not in names}
    return look


def advance(
    workdir: str,
    records: Sequence[Record],
    n_boot: int = 1000,
    seed: int = 0,
    margin: float = trained.DEFAULT_MARGIN,
    rule: str = trained.KEEP,
) -> State:
    """Computes and appends every look whose seeds are all evaluated for the comparisons
    still open; returns the state after the last recorded look. `margin`: the check of
    the runs (eval/analysis/trained.py); a comparison with a failed run never enters
    its target's seed pool. `rule` (`config.report.failed_runs`): under `replace` a
    failed run's seed is replaced by the pair's next seed (`comparison_seeds`)."""
    planned = read_design(workdir)
    if planned is None:
        raise FileNotFoundError(f"{adaptive_file(workdir, DESIGN_FILE)}: not an adaptive study")
    design = adaptive.Design.from_mapping(planned["design"])
    state = State(planned, read_looks(workdir, planned["fingerprint"]))
    have = {(r.path, r.target, r.seed) for r in records if r.kind == "zero_shot"}
    failed = {(f.path, f.target, f.seed) for f in trained.failed_runs(records, margin)}
    failed_by = failed_seeds(planned, failed, rule)
    while len(state.looks) < len(design.looks):
        k = len(state.looks)
        latest = {_key(r): r for r in state.looks[-1]["comparisons"]} if state.looks else {}
        if latest and all(r["state"] in adaptive.STOPPED for r in latest.values()):
            break  # every comparison stopped: no later look has anything to decide
        needed = _runs_for(planned, latest, design.looks[k], failed_by)
        state.waiting = [
            f"{path_key(p)} {t} seed {s}" for p, t, s in needed if (p, t, s) not in have
        ]
        if state.waiting:
            break
        state.looks.append(
            _look(workdir, records, planned, design, k, latest, (n_boot, seed), failed, failed_by)
        )
        _append_look(workdir, state.looks[-1])
    state.rows = list(state.looks[-1]["comparisons"]) if state.looks else []
    if not state.finished:
        latest = {_key(r): r for r in state.rows}
        k = len(state.looks)
        if k < len(design.looks):
            runs = _runs_for(planned, latest, design.looks[k], failed_by)
            # Before the first look every run of it; after, those not yet evaluated.
            state.next_runs = [run for run in runs if not k or run not in have]
    return state


def _key(row: dict[str, Any]) -> tuple:
    return (tuple(row["first"]), tuple(row["second"]), row["target"], row["resource_class"])


def _runs_for(planned, latest: dict[tuple, dict], count: int, failed_by) -> list[Run]:
    """The runs the open comparisons need for a look at `count` seeds (before any look:
    every one), a failed run's replacement included (`comparison_seeds`). A comparison
    absent after a look had no language of its class in the results (the test data
    lacks them): it asks for nothing more; one out of seeds neither."""
    runs = set()
    for a, b in planned["pairs"]:
        for target in planned["targets"]:
            keys = [(tuple(a), tuple(b), target, c) for c in planned["design"]["families"]]
            if latest and all(
                latest.get(k, {}).get("state", adaptive.STOPPED[0]) in adaptive.STOPPED
                for k in keys
            ):
                continue
            chosen = comparison_seeds(
                planned["seeds"], failed_by.get((tuple(a), tuple(b), target), ()), count
            )
            if chosen is not None:
                runs |= {(tuple(p), target, s) for p in (a, b) for s in chosen[1]}
    return sorted(runs)


def _look(workdir, records, planned, design, k, latest, boot, failed, failed_by) -> dict[str, Any]:
    n_boot, seed = boot
    seeds = planned["seeds"][: design.looks[k]]
    seeds_of, spent_of, out_of_seeds = {}, {}, set()
    for a, b in planned["pairs"]:
        for target in planned["targets"]:
            pair = (tuple(a), tuple(b), target)
            chosen = comparison_seeds(planned["seeds"], failed_by.get(pair, ()), design.looks[k])
            if chosen is None:
                out_of_seeds.add(pair)
            else:
                seeds_of[pair], spent_of[pair] = chosen
    series = comparison_series(records, workdir, planned, seeds_of, n_boot, seed)
    open_keys = [key for key in series if latest.get(key, {}).get("state") not in adaptive.STOPPED]
    # A comparison with a run that did not train keeps its own variance and stays
    # out of its target's pool: one failed run must not widen every other's error.
    with_failed = {
        key
        for key in open_keys
        if any((p, key[2], s) in failed for p in key[:2] for s in seeds_of[key[:3]])
    }
    rows: dict[tuple, adaptive.Look] = {key: _look_of(r) for key, r in latest.items()}
    for key, row in rows.items():  # replacements spent the budget before this look
        if key[:3] in out_of_seeds and row.state not in adaptive.STOPPED:
            row.state = adaptive.BUDGET
            row.extra["out_of_seeds"] = True
    family_sizes = {}
    for first, second in (tuple(map(tuple, p)) for p in planned["pairs"]):
        for cls in design.families:
            family_sizes[(first, second, cls)] = sum(
                cls == "all" or any(resource_class(x) == cls for x in get_task(t).languages("test"))
                for t in planned["targets"]
            )
    for key in open_keys:
        first, second, target, cls = key
        diffs, boot, langs = series[key]
        pool = None
        if key not in with_failed:
            pool = adaptive.seed_pool(
                [
                    series[o][0]
                    for o in open_keys
                    if o[2:] == (target, cls) and o not in with_failed
                ],
                design.pool_test,
                design.pool_level,
            )
        b, v = _test_variances(np.asarray(diffs), boot)
        row = adaptive.look_row(
            rows.get(key), diffs, b, v, design, k, family_sizes[(first, second, cls)], pool
        )
        row.extra = dict(
            first=list(first),
            second=list(second),
            target=target,
            resource_class=cls,
            langs=langs,
            seeds=list(seeds_of[key[:3]]),
            seeds_spent=len(spent_of[key[:3]]),
            family=family_name(first, second, cls),
            resampling="examples and seeds" if boot is not None else "seeds only",
            pooled=bool(
                pool is not None and pool.homogeneous and pool.variance >= np.var(diffs, ddof=1)
            ),
            pool_p=None if pool is None or not np.isfinite(pool.p_value) else pool.p_value,
            failed_run=key in with_failed,
        )
        if boot is None:
            # No per-example statistics: the test-set variance is unknown, so the
            # comparison is shown but never decided (as the report never tests it).
            row.p_look, row.p_seq, row.sign = 1.0, 1.0, 0
            row.family_low, row.family_high = -effects.LIMIT, effects.LIMIT
        rows[key] = row
    for (first, second, cls), size in family_sizes.items():
        members = [r for key, r in rows.items() if (key[0], key[1], key[3]) == (first, second, cls)]
        adaptive.decide_family(members, design, k, size)
    return dict(
        look=k,
        fingerprint=planned["fingerprint"],
        seeds=list(seeds),
        comparisons=[rows[key].to_dict() for key in sorted(rows)],
    )


def plan_design(
    values: dict[str, Any], paths: Iterable[Path], targets: Sequence[str], seeds: Sequence[int]
) -> dict[str, Any]:
    """The study record of `config.design` (adaptive.DesignError names a bad field)."""
    return plan(adaptive.Design.from_mapping(values, "config.design"), paths, targets, seeds)


def next_round(
    workdir: str,
    n_boot: int = 1000,
    seed: int = 0,
    margin: float = trained.DEFAULT_MARGIN,
    rule: str = trained.KEEP,
) -> State:
    """Records every look whose runs are all evaluated; the state after it."""
    path = results_file(workdir)
    records = load_results(path) if os.path.exists(path) else []
    return advance(workdir, records, n_boot=n_boot, seed=seed, margin=margin, rule=rule)
