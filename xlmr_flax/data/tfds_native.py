"""Raw files from TFDS's own builders, for the tasks TFDS already has.

On a machine that can download, `python -m xlmr_flax.data fetch --task T --raw DIR`
prepares TFDS's builder (array_record, no TensorFlow) and writes its records
into DIR in the layout and formats of docs/data.md. `prepare` then builds our
dataset from DIR exactly as from files fetched by XTREME's download script, so
one reader per format serves both routes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable

import tensorflow_datasets as tfds

from xlmr_flax.atomic import write_file
from xlmr_flax.data.readers import NLI_LABELS
from xlmr_flax.tasks import get_task


def _s(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _clean(text) -> str:  # TSV cells cannot hold tabs or newlines
    return " ".join(_s(text).split())


def _jsonl(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _xnli(split: str, records: list[dict]) -> dict[str, str]:
    files = {}
    for lang in get_task("xnli").eval_langs:
        rows = []
        for r in records:
            hyp = dict(
                zip(
                    map(_s, r["hypothesis"]["language"]),
                    r["hypothesis"]["translation"],
                    strict=True,
                )
            )
            premise = {_s(k): v for k, v in r["premise"].items()}
            rows.append(f"{_clean(premise[lang])}\t{_clean(hyp[lang])}\t{NLI_LABELS[r['label']]}\n")
        files[f"xnli/{split}-{lang}.tsv"] = "".join(rows)
    return files


def _glue(path: str, columns: dict[str, str], label_column: str, label_names=None):
    """GLUE-style TSV with a header; `columns` maps TFDS fields to our column names."""

    def write(split: str, records: list[dict]) -> dict[str, str]:
        rows = ["\t".join(["id", *columns.values(), label_column]) + "\n"]
        for i, r in enumerate(records):
            if r["label"] < 0:  # unlabelled (GLUE test sets)
                continue
            label = label_names[r["label"]] if label_names else str(r["label"])
            rows.append("\t".join([str(i), *(_clean(r[c]) for c in columns), label]) + "\n")
        return {path.format(split=split): "".join(rows)}

    return write


def _snli(split: str, records: list[dict]) -> dict[str, str]:
    def convert(i, r):
        label = NLI_LABELS[r["label"]] if r["label"] >= 0 else "-"
        return dict(
            pairID=str(i),
            sentence1=_s(r["premise"]),
            sentence2=_s(r["hypothesis"]),
            gold_label=label,
        )

    return {f"snli/snli_1.0_{split}.jsonl": _jsonl(convert(i, r) for i, r in enumerate(records))}


def _squad(path: str):
    def write(split: str, records: list[dict]) -> dict[str, str]:
        paragraphs: dict[tuple[str, str], list[dict]] = {}
        for r in records:
            spans = zip(r["answers"]["text"], r["answers"]["answer_start"], strict=True)
            answers = [dict(text=_s(t), answer_start=int(s)) for t, s in spans]
            qa = dict(id=_s(r["id"]), question=_s(r["question"]), answers=answers)
            qa["is_impossible"] = bool(r.get("is_impossible", not answers))
            paragraphs.setdefault((_s(r["title"]), _s(r["context"])), []).append(qa)
        data = [
            dict(title=t, paragraphs=[dict(context=c, qas=q)]) for (t, c), q in paragraphs.items()
        ]
        return {path.format(split=split): json.dumps(dict(data=data), ensure_ascii=False)}

    return write


def _copa(path: str):
    def write(split: str, records: list[dict]) -> dict[str, str]:
        keys = ("premise", "choice1", "choice2", "question")
        out = (
            {**{k: _s(r[k]) for k in keys}, "label": int(r["label"]), "idx": int(r["idx"])}
            for r in records
        )
        return {path.format(split=split): _jsonl(out)}

    return write


def _hellaswag(split: str, records: list[dict]) -> dict[str, str]:
    out = (
        dict(
            ind=i,
            ctx=_s(r["context"]),
            endings=[_s(e) for e in r["endings"]],
            label=int(r["label"]),
            activity_label=_s(r.get("activity_label", "")),
        )
        for i, r in enumerate(records)
    )
    return {f"hellaswag/hellaswag_{split}.jsonl": _jsonl(out)}


@dataclasses.dataclass(frozen=True)
class NativeSource:
    builder: str  # TFDS name, with config
    splits: dict[str, str]  # our split name in file names → TFDS split
    write: Callable[[str, list[dict]], dict[str, str]]


MNLI_COLUMNS = {"premise": "sentence1", "hypothesis": "sentence2"}
QQP_COLUMNS = {"question1": "question1", "question2": "question2"}
TRAIN_DEV = {"train": "train", "dev": "validation"}
TRAIN_VAL = {"train": "train", "val": "validation"}
NATIVE = {
    "xnli": NativeSource("xnli", {"dev": "validation", "test": "test"}, _xnli),
    "mnli": NativeSource(
        "multi_nli",
        {"train": "train", "dev_matched": "validation_matched"},
        _glue("mnli/{split}.tsv", MNLI_COLUMNS, "gold_label", NLI_LABELS),
    ),
    "snli": NativeSource("snli", TRAIN_DEV, _snli),
    "qqp": NativeSource(
        "glue/qqp", TRAIN_DEV, _glue("qqp/{split}.tsv", QQP_COLUMNS, "is_duplicate")
    ),
    "sst2": NativeSource(
        "glue/sst2", TRAIN_DEV, _glue("sst2/{split}.tsv", {"sentence": "sentence"}, "label")
    ),
    "squad_v1": NativeSource("squad/v1.1", TRAIN_DEV, _squad("squad/{split}-v1.1.json")),
    "squad_v2": NativeSource("squad/v2.0", TRAIN_DEV, _squad("squad/{split}-v2.0.json")),
    "copa": NativeSource("super_glue/copa", TRAIN_VAL, _copa("copa/{split}.jsonl")),
    "hellaswag": NativeSource("hellaswag", TRAIN_VAL, _hellaswag),
}


def fetch(task: str, raw_dir: str, data_dir: str | None = None) -> list[str]:
    """Writes the task's raw files from TFDS's builder; returns the paths written."""
    if task not in NATIVE:
        raise ValueError(f"TFDS has no builder used for {task!r}; TFDS sources: {sorted(NATIVE)}")
    source = NATIVE[task]
    builder = tfds.builder(source.builder, data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare()
    splits = builder.as_data_source()
    written = []
    for ours, theirs in source.splits.items():
        for path, text in source.write(ours, list(splits[theirs])).items():
            full = os.path.join(raw_dir, path)
            write_file(full, text)
            written.append(full)
    return written
