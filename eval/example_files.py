"""Per-example statistics files: what `example_stats` returns for one evaluation,
kept so that the report can resample test examples without predicting again.

    write_examples("stages/x/eval/xnli/sw.npz", ids, {"accuracy": hits})
    loaded = read_examples("stages/x/eval/xnli/sw.npz", ["accuracy"])

The study writes NumPy `.npz` archives (uncompressed): `ids` (unicode array),
`metrics` (their names), `arrays_<k>` the distinct statistics arrays and `which`
(metric i uses `arrays_<which[i]>`), so that seqeval's precision, recall and F1,
which share one count array, store it once. Integer counts are kept as int32 and
0/1 outcomes as uint8; everything reads back as float64, equal to what was written.
Studies written before this format have `{"ids": [...], "stats": {metric: list}}`
JSON files, which are still read.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from xlmr_flax.atomic import write_file

SUFFIX = ".npz"


@dataclass
class ExampleStats:
    ids: np.ndarray  # str: comparing and reordering whole id lists stays vectorised
    stats: dict[str, np.ndarray]


def _compact(array: np.ndarray) -> np.ndarray:
    """The smallest dtype that holds `array` exactly (uint8 for 0/1, int32 for counts)."""
    array = np.asarray(array)
    if array.size and np.all((array == 0) | (array == 1)):
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) or (
        array.size and np.all(np.floor(array) == array) and np.abs(array).max() < 2**31
    ):
        return array.astype(np.int32)
    return array.astype(np.float64)


def encode_examples(ids: Sequence[str], stats: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of an `.npz` examples file."""
    arrays: list[np.ndarray] = []
    which = []
    for metric in stats:
        array = np.asarray(stats[metric])
        same = next((k for k, a in enumerate(arrays) if a is array or _equal(a, array)), None)
        if same is None:
            arrays.append(array)
            same = len(arrays) - 1
        which.append(same)
    members = {
        "ids": np.asarray([str(i) for i in ids], dtype=str),
        "metrics": np.asarray(list(stats), dtype=str),
        "which": np.asarray(which, dtype=np.int32),
    }
    members.update({f"arrays_{k}": _compact(a) for k, a in enumerate(arrays)})
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return buffer.getvalue()


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def write_examples(path: str, ids: Sequence[str], stats: Mapping[str, np.ndarray]) -> None:
    """Writes an examples file atomically (`.npz`; a `.json` path gets the old JSON form)."""
    if path.endswith(".json"):
        data = {"ids": list(ids), "stats": {m: np.asarray(v).tolist() for m, v in stats.items()}}
        write_file(path, json.dumps(data))
        return
    write_file(path, encode_examples(ids, stats))


def read_examples(path: str, metrics: Iterable[str] | None = None) -> ExampleStats:
    """The ids and the statistics of `metrics` (default: all) of an examples file,
    `.npz` or the older `.json`; ValueError or OSError when absent or malformed."""
    wanted = None if metrics is None else set(metrics)
    if path.endswith(".json"):
        ids, stats = _read_json(path, wanted)
    else:
        ids, stats = _read_npz(path, wanted)
    if len(ids) == 0:
        raise ValueError(f"{path}: no examples")
    for metric, array in stats.items():
        if array.shape[:1] != (len(ids),) or array.ndim > 2:
            raise ValueError(f"{path}: stats[{metric!r}] has shape {array.shape}, ids {len(ids)}")
    return ExampleStats(ids, stats)


def _read_npz(path: str, wanted: set[str] | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = [str(m) for m in archive["metrics"]]
            which = archive["which"]
            loaded: dict[int, np.ndarray] = {}
            stats = {}
            for metric, k in zip(names, which, strict=True):
                if wanted is not None and metric not in wanted:
                    continue
                if int(k) not in loaded:
                    loaded[int(k)] = archive[f"arrays_{int(k)}"].astype(np.float64)
                stats[metric] = loaded[int(k)]
            ids = archive["ids"]
    except (KeyError, ValueError, EOFError) as error:
        raise ValueError(f"{path}: not an examples archive ({error})") from None
    except OSError as error:
        if os.path.exists(path):
            raise ValueError(f"{path}: not an examples archive ({error})") from None
        raise
    return ids, stats


def _read_json(path: str, wanted: set[str] | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error.msg})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("ids"), list):
        raise ValueError(f"{path}: expected an object with 'ids' and 'stats'")
    if not isinstance(raw.get("stats"), dict):
        raise ValueError(f"{path}: expected an object with 'ids' and 'stats'")
    if not raw["ids"]:
        return np.asarray([], dtype=str), {}
    ids = np.asarray([str(i) for i in raw["ids"]], dtype=str)
    # Converting lists is most of the cost: only the statistics that are used.
    names = sorted(raw["stats"] if wanted is None else wanted & set(raw["stats"]))
    return ids, {m: np.asarray(raw["stats"][m], dtype=np.float64) for m in names}
