"""The per-example statistics of one (target, language) cell of an ordering study:
every needed run's statistics read (from the files its records name, or from a
reader a simulation hands over), checked and aligned to the reference ids, with the
joins between examples that must be resampled together (`eval.stats.resampling`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from eval.analysis import Path, Record, RunKey, path_key
from eval.analysis.records import examples_file
from eval.scoring.example_files import ExampleStats, read_examples
from eval.stats.resampling import joined_rows, reference_ids

# Reads one run's per-example statistics: (study folder, the record's `examples`,
# the metrics wanted). The report reads files; a simulation may hand over arrays.
ExamplesReader = Callable[[str, str, Sequence[str]], ExampleStats]


def read_study_examples(workdir: str, relative: str, metrics: Sequence[str]) -> ExampleStats:
    """The examples file a record names, inside the study folder."""
    return read_examples(examples_file(workdir, relative), metrics)


# A recomputed score may differ from the recorded one by float rounding only.


def run_name(path: Path, target: str, lang: str, seed: int) -> str:
    return f"{path_key(path)} {target} {lang} seed {seed}"


def cell_statistics(
    runs: dict[RunKey, dict[str, Record]],
    needed: Sequence[tuple[Path, int]],
    target: str,
    lang: str,
    metrics: Sequence[str],
    workdir: str,
    problems: list[str],
    read: ExamplesReader,
) -> tuple[np.ndarray | None, dict[tuple[Path, int], dict[str, np.ndarray]], list[np.ndarray]]:
    """The per-example statistics of the needed (path, seed) runs of one (target,
    language), aligned to the reference id order (`_reference_ids`), and the joins
    between examples (pairs of reference positions that must be resampled together,
    `eval.metrics.chunk_joins`); a run without usable statistics is left out and
    named in `problems` (no file, a broken file, or test examples that differ from
    the majority's)."""
    loaded: dict[tuple[Path, int], tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for path, seed in needed:
        by_metric = runs[(path, target, lang, seed)]
        files = sorted({by_metric[m].examples or "" for m in metrics})
        name = run_name(path, target, lang, seed)
        if "" in files:
            problems.append(f"{name}: no examples file recorded")
            continue
        stats: dict[str, np.ndarray] = {}
        ids = None
        try:
            for relative in files:
                # A path read from a record never leaves the workdir.
                found = read(workdir, relative, metrics)
                if ids is not None and not np.array_equal(found.ids, ids):
                    raise ValueError(f"{relative}: ids differ from the run's other metric file")
                ids = found.ids
                stats.update(found.stats)
            absent = [m for m in metrics if m not in stats]
            if absent:
                raise ValueError(f"{files[0]}: no statistics for {', '.join(absent)}")
        except FileNotFoundError:
            problems.append(f"{name}: {files[0]} is missing")
            continue
        except (OSError, ValueError) as error:
            problems.append(f"{name}: {error}")
            continue
        loaded[(path, seed)] = (ids, stats)
    if not loaded:
        return None, {}, []
    reference, keep, excluded = reference_ids({k: ids for k, (ids, _) in loaded.items()})
    problems += [f"{run_name(k[0], target, lang, k[1])}: {why}" for k, why in excluded.items()]
    if reference is None:
        return None, {}, []
    by_id = np.argsort(reference)
    aligned = {}
    joins: list[np.ndarray] = []
    for key in keep:
        ids, stats = loaded[key]
        position = None  # position[j]: the reference position of the run's row j
        if not np.array_equal(ids, reference):
            position = by_id[np.searchsorted(reference[by_id], ids)]
        rows = joined_rows(stats, position)  # from the run's own order
        if len(rows):
            joins.append(rows)
        if position is not None:
            order = np.argsort(position)
            stats = {m: a[order] for m, a in stats.items()}
        aligned[key] = stats
        del loaded[key]  # its ids (a view of the file's whole table) are no longer needed
    return reference, aligned, joins
