"""Prediction and label files in the XTREME-R submission layout, and gold labels from raw data.

    write_predictions("out/", "xnli", "de", ["entailment", ...])   # out/xnli/test-de.tsv
    gold = gold_from_raw("xnli", "de", "download/")                 # the same structure, gold
    write_labels("labels/", "xnli", "de", gold)                     # labels/xnli/test-de.tsv
    read_predictions("out/xnli/test-de.tsv", "xnli", gold)          # validated against gold

A submission folder holds `<task>/<split>-<lang>.<ext>` (XTREME's leaderboard layout:
`test-{lang}.tsv`, or `.json` for QA); a label folder has the same layout. Formats:

| task | ext | one file holds |
|---|---|---|
| XNLI (classification) | tsv | one label per line, example order |
| XCOPA (multiple choice) | jsonl | one `{"label": choice index}` per line |
| UD-POS, PAN-X (tagging) | tsv | one tag per line per word, a blank line after each sentence |
| Tatoeba | tsv | one index per line: the English sentence retrieved |
| XQuAD, MLQA, TyDiQA | json | `{"id": "answer", ...}`; labels `{"id": ["answer", ...]}` |
| LAReQA, Mewsli-X | json | `{"id": ["candidate", ...], ...}` best first; labels: the relevant |

QA label files may also be SQuAD-format datasets (`{"data": [...]}`, XTREME's own
label files). JSON files are written one id per line, so a line number in an error
points at an id. Readers check every file against what it must hold and raise
`DataError("FILE[:LINE]: what is wrong")`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

from eval.metrics import Answers, metric_kind
from xlmr_flax.atomic import write_file
from xlmr_flax.errors import DataError
from xlmr_flax.tasks import get_task

# How each format's predictions are stored (XTREME: json for QA, tsv for the rest;
# Mewsli-X's official files are json, and LAReQA's ranked lists follow them).
FORMAT_EXTENSIONS = {
    "classification": "tsv",
    "multiple_choice": "jsonl",  # XTREME-R's evaluate.py: XCOPA's files are JSON lines
    "token_tagging": "tsv",
    "span_extraction": "json",
    "retrieval": "json",
}
TASK_EXTENSIONS = {"tatoeba": "tsv"}  # one index per line, as XTREME's Tatoeba files
FILE_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<lang>[a-z]{2,3})\.(?P<ext>tsv|jsonl|json)$")


def lareqa_candidate_id(lang: str, index: int) -> str:
    """The id of sentence `index` (in `read_lareqa_sentences` order) of LAReQA's `lang`
    file in the multilingual candidate pool: the ids the predictor ranks."""
    return f"{lang}-{index}"


def extension(task: str) -> str:
    """The file extension of `task`'s prediction and label files."""
    fmt = get_task(task).format
    if task in TASK_EXTENSIONS:
        return TASK_EXTENSIONS[task]
    if fmt not in FORMAT_EXTENSIONS:
        raise ValueError(f"task {task}: no submission format for {fmt!r} tasks")
    return FORMAT_EXTENSIONS[fmt]


def submission_path(root: str, task: str, lang: str, split: str = "test") -> str:
    """`<root>/<task>/<split>-<lang>.<ext>`."""
    return os.path.join(root, task, f"{split}-{lang}.{extension(task)}")


# --- writing ---------------------------------------------------------------------------


def write_predictions(
    root: str, task: str, lang: str, predictions: Any, split: str = "test"
) -> str:
    """Writes one language's predictions (atomically); returns the file's path."""
    path = submission_path(root, task, lang, split)
    write_file(path, _serialize(task, predictions))
    return path


def write_labels(root: str, task: str, lang: str, gold: Any, split: str = "test") -> str:
    """Writes one language's gold labels in the same layout; returns the file's path."""
    path = submission_path(root, task, lang, split)
    write_file(path, _serialize(task, gold))
    return path


def _serialize(task: str, value: Any) -> str:
    kind = metric_kind(task)
    if kind in ("seqeval", "token_accuracy"):
        return "".join("".join(f"{tag}\n" for tag in sentence) + "\n" for sentence in value)
    if extension(task) == "tsv":
        return "".join(f"{item}\n" for item in value)
    if extension(task) == "jsonl":
        return "".join(json.dumps({"label": item}) + "\n" for item in value)
    # One id per line: readable, diff-able, and JSON errors point at an id.
    lines = [f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
             for k, v in value.items()]  # fmt: skip
    return "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"


# --- reading ---------------------------------------------------------------------------


def read_labels(path: str, task: str, lang: str | None = None) -> Any:
    """Gold labels from a label file (for QA also a SQuAD-format dataset). `lang`,
    taken from the file name when not given, is kept on QA answers (MLQA needs it)."""
    lang = lang or _lang_from_name(path)
    kind = metric_kind(task)
    if kind in ("seqeval", "token_accuracy"):
        return [tags for _, tags in _sentences(path)]
    if extension(task) == "tsv":
        rows = list(_label_lines(path))
        if not rows:
            raise DataError(f"{path}: no labels (empty file)")
        if kind == "accuracy" and get_task(task).format != "classification":
            return [_integer(path, n, text, "an index") for n, text in rows]
        return [text for _, text in rows]
    if extension(task) == "jsonl":
        return _jsonl_labels(path)
    data = _json_object(path)
    if kind in ("squad", "squad_v2", "mlqa"):
        if isinstance(data.get("data"), list):
            return Answers(_squad_answers(path, data["data"]), lang)
        return Answers({i: _strings(path, i, v, "answer texts") for i, v in data.items()}, lang)
    return {i: _strings(path, i, v, "relevant ids") for i, v in data.items()}


def read_predictions(path: str, task: str, gold: Any) -> Any:
    """Predictions from a submission file, checked against `gold` (from `read_labels`
    or `gold_from_raw`): one line / sentence / id for each gold one, of the right type."""
    kind = metric_kind(task)
    spec = get_task(task)
    if kind in ("seqeval", "token_accuracy"):
        return _read_tags(path, spec.labels, gold)
    if extension(task) == "tsv":
        rows = list(_label_lines(path))
        if len(rows) != len(gold):
            raise DataError(
                f"{path}: expected {len(gold)} lines (one per example of the labels), "
                f"found {len(rows)}"
            )
        if spec.format == "classification":
            if spec.labels:
                for n, text in rows:
                    if text not in spec.labels:
                        raise DataError(
                            f"{path}:{n}: {text!r} is not a {task} label {list(spec.labels)}"
                        )
            return [text for _, text in rows]
        return [_integer(path, n, text, "a sentence index") for n, text in rows]
    if extension(task) == "jsonl":
        predicted = _jsonl_labels(path)
        if len(predicted) != len(gold):
            raise DataError(
                f"{path}: expected {len(gold)} lines (one per example of the labels), "
                f"found {len(predicted)}"
            )
        return predicted
    data = _json_object(path)
    missing = [i for i in gold if i not in data]
    if missing:
        raise DataError(
            f"{path}: no prediction for {len(missing)} of the {len(gold)} ids in the labels, "
            f"e.g. {', '.join(map(repr, missing[:3]))}"
        )
    extra = [i for i in data if i not in gold]
    if extra:
        shown = ", ".join(map(repr, extra[:3]))
        raise DataError(f"{path}: {len(extra)} ids are not in the labels, e.g. {shown}")
    if kind in ("squad", "squad_v2", "mlqa"):
        for i, answer in data.items():
            if not isinstance(answer, str):
                raise DataError(
                    f"{path}: id {i!r}: expected an answer string, found {type(answer).__name__}"
                )
        return data
    return {i: _strings(path, i, v, "ranked candidate ids") for i, v in data.items()}


def _read_tags(path: str, labels: Sequence[str], gold: Sequence[Sequence[str]]) -> list[list[str]]:
    sentences = list(_sentences(path))
    if len(sentences) != len(gold):
        raise DataError(
            f"{path}: expected {len(gold)} sentences (each followed by a blank line), "
            f"found {len(sentences)}"
        )
    for number, ((line, tags), words) in enumerate(zip(sentences, gold, strict=True), 1):
        if len(tags) != len(words):
            raise DataError(
                f"{path}:{line}: sentence {number} has {len(tags)} tags; "
                f"the labels have {len(words)} words"
            )
        unknown = [t for t in tags if labels and t not in labels]
        if unknown:
            raise DataError(f"{path}:{line}: sentence {number}: unknown tag {unknown[0]!r}")
    return [tags for _, tags in sentences]


def _text_lines(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({err.reason})") from None
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[-1]:  # trailing blank lines end the file, nothing more
        lines.pop()
    return lines


def _label_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of a one-item-per-line file; no blank lines inside."""
    for number, text in enumerate(_text_lines(path), 1):
        if not text:
            raise DataError(f"{path}:{number}: empty line; expected one label per line")
        if "\t" in text:
            raise DataError(f"{path}:{number}: expected one value per line, found {text!r}")
        yield number, text


def _sentences(path: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, tags) of each blank-line-separated sentence of a tag file."""
    tags: list[str] = []
    start = 1
    lines = _text_lines(path)
    if not lines:
        raise DataError(f"{path}: no sentences (empty file)")
    for number, text in enumerate([*lines, ""], 1):
        if text:
            if not tags:
                start = number
            if "\t" in text or " " in text:
                raise DataError(f"{path}:{number}: expected one tag per line, found {text!r}")
            tags.append(text)
        elif tags:
            yield start, tags
            tags = []
        else:
            raise DataError(f"{path}:{number}: empty sentence (two blank lines in a row)")


def _integer(path: str, number: int, text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise DataError(
            f"{path}:{number}: expected {what} (a non-negative integer), found {text!r}"
        )
    return int(text)


def _jsonl_labels(path: str) -> list[int]:
    """The `label` of every line of a JSON-lines file (XCOPA's submission and its
    original test files, whose other fields are ignored)."""
    labels = []
    for number, text in enumerate(_text_lines(path), 1):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: invalid JSON ({err.msg})") from None
        label = record.get("label") if isinstance(record, dict) else None
        if not isinstance(label, int) or isinstance(label, bool) or label < 0:
            raise DataError(f"{path}:{number}: expected an object with an integer 'label'")
        labels.append(label)
    if not labels:
        raise DataError(f"{path}: no labels (empty file)")
    return labels


def _json_object(path: str) -> dict:
    lines = _text_lines(path)  # a missing file or bad UTF-8 as clear errors
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by id, found {type(data).__name__}")
    return data


def _strings(path: str, key: str, value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: id {key!r}: expected a list of {what} (strings), found {value!r}")
    return value


def _squad_answers(path: str, articles: list) -> dict[str, list[str]]:
    answers = {}
    try:
        for article in articles:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answers[qa["id"]] = [a["text"] for a in qa["answers"]] or [""]
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}: not a SQuAD-format dataset ({err!r} missing)") from None
    return answers


def _lang_from_name(path: str) -> str | None:
    match = FILE_NAME.match(os.path.basename(path))
    return match["lang"] if match else None


# --- gold labels from raw data ---------------------------------------------------------


def gold_from_raw(task: str, lang: str, raw_dir: str, split: str | None = None) -> Any:
    """The gold structure `eval.metrics` scores against, read from raw data files in the
    XTREME download layout through the task registry (`split`: the task's evaluation
    split unless given).

    LAReQA's relevant candidates for a question are its answer sentence in every
    language whose file is under `raw_dir` (the pool the predictor searches), as
    `lareqa_candidate_id`s; Mewsli-X's are the mention's one gold entity."""
    spec = get_task(task)
    split = split or spec.eval_split
    if spec.format == "masked_lm":
        raise ValueError(f"task {task}: masked-LM text has no gold labels to score")
    examples = list(spec.read(raw_dir, split, lang))
    if spec.format in ("classification", "multiple_choice"):
        return [e["label"] for e in examples]
    if spec.format == "token_tagging":
        return [list(e["tags"]) for e in examples]
    if spec.format == "span_extraction":
        # A question without answers (SQuAD 2.0) has the empty answer, as SQuAD's script.
        return Answers({e["id"]: [a["text"] for a in e["answers"]] or [""] for e in examples}, lang)
    if task == "tatoeba":
        return list(range(len(examples)))
    if task == "mewslix":
        return {e["id"]: [e["entity_id"]] for e in examples}
    if task == "lareqa":
        pool_langs = [pool_lang for s, pool_lang in spec.available(raw_dir) if s == split]
        sentence_of = {
            pool_lang: {q["id"]: q["answer_sentence"] for q in spec.read(raw_dir, split, pool_lang)}
            for pool_lang in pool_langs
        }
        return {
            e["id"]: [
                lareqa_candidate_id(pool_lang, found[e["id"]])
                for pool_lang, found in sentence_of.items()
                if e["id"] in found
            ]
            for e in examples
        }
    raise ValueError(f"task {task}: no gold structure defined for this retrieval task")
