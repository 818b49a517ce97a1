"""Readers for the formats the XTREME-R and intermediate-task datasets ship in.

Each reader yields plain-dict examples in one schema per task format and raises
`DataError("FILE:LINE: what is wrong")` on the first malformed record. The
schemas:

- classification: `id, text_a, text_b, label` (label a string; the task maps it)
- multiple_choice: `id, context, question, choices, label` (label an int index)
- span_extraction: `id, title, context, question, answers [{text, start}], is_impossible`
- token_tagging: `id, tokens, tags` (tags strings)
- retrieval: per reader, see its docstring (LAReQA, Mewsli-X: their own modules)
- masked_lm: `id, text`

In a split without gold (XTREME's test copies) the gold field is None in every
example; readers never invent it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from xlmr_flax.errors import DataError

Example = dict[str, Any]


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text without newline); a clear error on a missing file or bad UTF-8."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                # A UTF-8 byte-order mark (Windows editors write one) is not text.
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                yield number, text.rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{number}: not valid UTF-8 ({err.reason})") from None


def _require_examples(path: str, count: int) -> None:
    if count == 0:
        raise DataError(f"{path}: no examples (empty file?)")


def _unique(path: str, number: int, seen: set, example_id: str) -> None:
    if example_id in seen:
        raise DataError(f"{path}:{number}: duplicate id {example_id!r}")
    seen.add(example_id)


def read_jsonl(path: str, required: Sequence[str]) -> Iterator[tuple[int, dict]]:
    count = 0
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: invalid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object")
        missing = [k for k in required if k not in record]
        if missing:
            raise DataError(f"{path}:{number}: missing field(s) {missing}")
        count += 1
        yield number, record
    _require_examples(path, count)


def _check_label(path: str, number: int, label: Any, allowed: Sequence) -> None:
    if label not in allowed:
        raise DataError(f"{path}:{number}: label {label!r} not in {list(allowed)}")


# --- sentence(-pair) classification ---------------------------------------------------

NLI_LABELS = ("entailment", "neutral", "contradiction")


def read_glue_tsv(
    path: str, text_a: str, text_b: str | None, label: str, allowed
) -> Iterator[Example]:
    """GLUE TSV with a header row (MNLI, QQP, SST-2); columns picked by name."""
    rows = _lines(path)
    try:
        _, header_line = next(rows)
    except StopIteration:
        raise DataError(f"{path}: no examples (empty file?)") from None
    header = header_line.split("\t")
    wanted = [c for c in (text_a, text_b, label) if c]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(f"{path}:1: header lacks column(s) {missing}; found {header}")
    # MNLI's dev files repeat annotator columns; the gold label is the last matching one.
    index = {c: len(header) - 1 - header[::-1].index(c) for c in wanted}
    count, seen = 0, set()
    for number, line in rows:
        if not line.strip():
            continue
        fields = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if len(fields) != len(header):
            raise DataError(f"{path}:{number}: expected {len(header)} columns, found {len(fields)}")
        example_id = fields[header.index("id")] if "id" in header else f"{number}"
        _unique(path, number, seen, example_id)
        _check_label(path, number, fields[index[label]], allowed)
        count += 1
        yield dict(
            id=example_id,
            text_a=fields[index[text_a]],
            text_b=fields[index[text_b]] if text_b else "",
            label=fields[index[label]],
        )
    _require_examples(path, count)


def read_snli_jsonl(path: str) -> Iterator[Example]:
    seen: set = set()
    for number, r in read_jsonl(path, ["sentence1", "sentence2", "gold_label", "pairID"]):
        if r["gold_label"] == "-":  # no annotator consensus: SNLI's own convention is to drop it
            continue
        _check_label(path, number, r["gold_label"], NLI_LABELS)
        _unique(path, number, seen, r["pairID"])
        yield dict(
            id=r["pairID"], text_a=r["sentence1"], text_b=r["sentence2"], label=r["gold_label"]
        )


def read_anli_jsonl(path: str) -> Iterator[Example]:
    names = {"e": "entailment", "n": "neutral", "c": "contradiction"}
    seen: set = set()
    for number, r in read_jsonl(path, ["uid", "context", "hypothesis", "label"]):
        _check_label(path, number, r["label"], tuple(names))
        _unique(path, number, seen, r["uid"])
        yield dict(
            id=r["uid"], text_a=r["context"], text_b=r["hypothesis"], label=names[r["label"]]
        )


# --- multiple choice -------------------------------------------------------------------

COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}


def read_copa_jsonl(path: str) -> Iterator[Example]:
    """COPA and XCOPA: premise, two choices, cause/effect question. A file without
    labels (SuperGLUE's COPA test) has no gold: every label is None."""
    seen: set = set()
    labelled = None
    for number, r in read_jsonl(path, ["premise", "choice1", "choice2", "question", "idx"]):
        _check_label(path, number, r["question"], tuple(COPA_QUESTIONS))
        if labelled is None:
            labelled = "label" in r
        if ("label" in r) != labelled:
            raise DataError(f"{path}:{number}: some records have a 'label' and some do not")
        if labelled:
            _check_label(path, number, r["label"], (0, 1))
        _unique(path, number, seen, str(r["idx"]))
        yield dict(
            id=str(r["idx"]),
            context=r["premise"],
            question=COPA_QUESTIONS[r["question"]],
            choices=[r["choice1"], r["choice2"]],
            label=r["label"] if labelled else None,
        )


def read_siqa(path: str, labels_path: str) -> Iterator[Example]:
    """Social IQa: JSON lines plus a `.lst` file with one label 1-3 per line."""
    labels = [(n, line.strip()) for n, line in _lines(labels_path) if line.strip()]
    records = list(read_jsonl(path, ["context", "question", "answerA", "answerB", "answerC"]))
    if len(labels) != len(records):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for {len(records)} examples in {path}"
        )
    for (number, r), (label_line, label) in zip(records, labels, strict=True):
        _check_label(labels_path, label_line, label, ("1", "2", "3"))
        yield dict(
            id=f"{number}",
            context=r["context"],
            question=r["question"],
            choices=[r["answerA"], r["answerB"], r["answerC"]],
            label=int(label) - 1,
        )


def read_hellaswag(path: str) -> Iterator[Example]:
    seen: set = set()
    for number, r in read_jsonl(path, ["ind", "ctx", "endings", "label"]):
        if not isinstance(r["endings"], list) or len(r["endings"]) != 4:
            raise DataError(f"{path}:{number}: 'endings' must be a list of 4 strings")
        _check_label(path, number, r["label"], (0, 1, 2, 3))
        _unique(path, number, seen, str(r["ind"]))
        yield dict(
            id=str(r["ind"]), context=r["ctx"], question="", choices=r["endings"], label=r["label"]
        )


def read_cosmosqa(path: str) -> Iterator[Example]:
    keys = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    seen: set = set()
    for number, r in read_jsonl(path, keys):
        label = int(r["label"]) if str(r["label"]).isdigit() else r["label"]
        _check_label(path, number, label, (0, 1, 2, 3))
        _unique(path, number, seen, r["id"])
        yield dict(
            id=r["id"],
            context=r["context"],
            question=r["question"],
            choices=[r[f"answer{i}"] for i in range(4)],
            label=label,
        )


def read_commonsenseqa(path: str) -> Iterator[Example]:
    seen: set = set()
    for number, r in read_jsonl(path, ["id", "question", "answerKey"]):
        question = r["question"]
        choices = question.get("choices") if isinstance(question, dict) else None
        if not choices or "stem" not in question:
            raise DataError(f"{path}:{number}: 'question' needs 'stem' and 'choices'")
        keys = [c.get("label") for c in choices]
        _check_label(path, number, r["answerKey"], keys)
        _unique(path, number, seen, r["id"])
        yield dict(
            id=r["id"],
            context="",
            question=question["stem"],
            choices=[c["text"] for c in choices],
            label=keys.index(r["answerKey"]),
        )


# --- span extraction -------------------------------------------------------------------


def read_squad_json(path: str, unique_ids: bool = True) -> Iterator[Example]:
    """SQuAD v1.1/v2.0 JSON (SQuAD, XQuAD, MLQA, TyDiQA-GoldP). Line numbers are not
    meaningful in JSON, so errors name the question id instead. `unique_ids=False`
    accepts repeated ids (XTREME's cut TyDiQA training ids, made unique by the caller)."""
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise DataError(f"{path}: no examples (empty file)")
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: expected a SQuAD object with a 'data' list")
    seen: set = set()
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise DataError(f"{path}: a paragraph of {article.get('title')!r} has no 'context'")
            for qa in paragraph.get("qas", []):
                where = f"{path}: question {qa.get('id')!r}"
                if "id" not in qa or "question" not in qa:
                    raise DataError(f"{where}: needs 'id' and 'question'")
                if qa["id"] in seen and unique_ids:
                    raise DataError(f"{where}: duplicate id")
                seen.add(qa["id"])
                impossible = bool(qa.get("is_impossible", False))
                answers = []
                for answer in qa.get("answers", []):
                    start, text = answer.get("answer_start"), answer.get("text")
                    if not isinstance(start, int) or not isinstance(text, str):
                        raise DataError(
                            f"{where}: answers need 'text' and an integer 'answer_start'"
                        )
                    if context[start : start + len(text)] != text:
                        found = context[start : start + len(text)]
                        raise DataError(
                            f"{where}: answer {text!r} does not match the context "
                            f"at {start} ({found!r})"
                        )
                    answers.append(dict(text=text, start=start))
                if not answers and not impossible:
                    raise DataError(f"{where}: no answers and not marked is_impossible")
                yield dict(
                    id=qa["id"],
                    title=article.get("title", ""),
                    context=context,
                    question=qa["question"],
                    answers=answers,
                    is_impossible=impossible,
                )


# --- token tagging ---------------------------------------------------------------------


def read_conll(
    path: str, allowed_tags: Sequence[str] | None = None, untagged: bool = False
) -> Iterator[Example]:
    """`token \\t tag` lines, a blank line between sentences.

    With `untagged`, a file may have the token alone on every line (XTREME's test
    files): every example's `tags` is then None; a mix is an error."""
    tokens: list[str] = []
    tags: list[str] = []
    start_line, count, tagged = 1, 0, None
    for number, line in [*_lines(path), (None, "")]:
        if line.startswith("-DOCSTART-"):  # document markers of older CoNLL releases
            continue
        if not line.strip():
            if tokens:
                count += 1
                yield dict(
                    id=f"{os.path.basename(path)}-{start_line}",
                    tokens=tokens,
                    tags=tags if tagged else None,
                )
            tokens, tags = [], []
            start_line = (number or 0) + 1
            continue
        fields = line.split("\t")
        if len(fields) > 2 or not all(fields) or (len(fields) == 1 and not untagged):
            shapes = "'token<TAB>tag' or 'token'" if untagged else "'token<TAB>tag'"
            raise DataError(f"{path}:{number}: expected {shapes}, found {line!r}")
        if tagged is None:
            tagged = len(fields) == 2
        elif tagged != (len(fields) == 2):
            raise DataError(
                f"{path}:{number}: {'a tag' if len(fields) == 2 else 'no tag'} here, but "
                f"{'every' if tagged else 'no'} token before has one (a file is tagged "
                "throughout or not at all)"
            )
        if tagged:
            if allowed_tags is not None and fields[1] not in allowed_tags:
                raise DataError(f"{path}:{number}: tag {fields[1]!r} not in the task's tag set")
            tags.append(fields[1])
        tokens.append(fields[0])
    _require_examples(path, count)


# --- retrieval ------------------------------------------------------------------------


# LAReQA and Mewsli-X have their own modules: xlmr_flax/data/lareqa.py, mewslix.py.


# --- masked-LM text -------------------------------------------------------------------


def read_text(path: str) -> Iterator[Example]:
    count = 0
    for number, line in _lines(path):
        if line.strip():
            count += 1
            yield dict(id=f"{os.path.basename(path)}-{number}", text=line.strip())
    _require_examples(path, count)
