"""Readers for the formats the XTREME-R and intermediate-task datasets ship in.

Each reader yields plain-dict examples in one schema per task format and raises
`DataError("FILE:LINE: what is wrong")` on the first malformed record. The
schemas:

- classification: `id, text_a, text_b, label` (label a string; the task maps it)
- multiple_choice: `id, context, question, choices, label` (label an int index)
- span_extraction: `id, title, context, question, answers [{text, start}], is_impossible`
- token_tagging: `id, tokens, tags` (tags strings)
- retrieval: per reader, see its docstring
- masked_lm: `id, text`
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


def read_xnli_tsv(path: str) -> Iterator[Example]:
    """XTREME's `premise \\t hypothesis \\t label` files, no header."""
    count = 0
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(
                f"{path}:{number}: expected 3 tab-separated columns, found {len(fields)}"
            )
        label = "contradiction" if fields[2] == "contradictory" else fields[2]
        _check_label(path, number, label, NLI_LABELS)
        count += 1
        yield dict(
            id=f"{os.path.basename(path)}-{number}", text_a=fields[0], text_b=fields[1], label=label
        )
    _require_examples(path, count)


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


def read_squad_json(path: str) -> Iterator[Example]:
    """SQuAD v1.1/v2.0 JSON (SQuAD, XQuAD, MLQA, TyDiQA-GoldP). Line numbers are not
    meaningful in JSON, so errors name the question id instead."""
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
                if qa["id"] in seen:
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
    path: str, allowed_tags: Sequence[str] | None = None, strip_lang_prefix: bool = False
) -> Iterator[Example]:
    """`token \\t tag` lines, a blank line between sentences."""
    tokens: list[str] = []
    tags: list[str] = []
    start_line, count = 1, 0
    for number, line in [*_lines(path), (None, "")]:
        if line.startswith("-DOCSTART-"):  # document markers of older CoNLL releases
            continue
        if not line.strip():
            if tokens:
                count += 1
                yield dict(id=f"{os.path.basename(path)}-{start_line}", tokens=tokens, tags=tags)
            tokens, tags = [], []
            start_line = (number or 0) + 1
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise DataError(f"{path}:{number}: expected 'token<TAB>tag', found {line!r}")
        token, tag = fields
        if strip_lang_prefix and ":" in token[1:]:
            prefix, rest = token.split(":", 1)
            token = rest if len(prefix) in (2, 3) and prefix.isalpha() and rest else token
        if allowed_tags is not None and tag not in allowed_tags:
            raise DataError(f"{path}:{number}: tag {tag!r} not in the task's tag set")
        tokens.append(token)
        tags.append(tag)
    _require_examples(path, count)


# --- retrieval ------------------------------------------------------------------------


def read_parallel(source_path: str, target_path: str) -> Iterator[Example]:
    """Tatoeba: line n of both files is a pair: `id, source, target`."""
    sources = [line for _, line in _lines(source_path)]
    targets = [line for _, line in _lines(target_path)]
    if len(sources) != len(targets):
        raise DataError(f"{source_path}: {len(sources)} lines but {target_path} has {len(targets)}")
    _require_examples(source_path, len(sources))
    for number, (source, target) in enumerate(zip(sources, targets, strict=True), 1):
        if not source.strip() or not target.strip():
            raise DataError(f"{source_path}:{number}: empty sentence in a pair")
        yield dict(id=str(number), source=source, target=target)


def read_lareqa(path: str) -> Iterator[Example]:
    """XQuAD-R questions: `id, question, answer_sentence`, the index of the sentence
    holding the answer in `read_lareqa_sentences(path)` (the candidate pool)."""
    answer_sentence = {}
    for paragraph, first in _lareqa_paragraphs(path):
        breaks = paragraph["sentence_breaks"]
        for qa in paragraph["qas"]:
            start = qa["answers"][0]["answer_start"] if qa.get("answers") else -1
            hits = [first + i for i, (s, e) in enumerate(breaks) if s <= start < e]
            if not hits:
                raise DataError(f"{path}: question {qa['id']!r}: answer is in no sentence")
            answer_sentence[qa["id"]] = hits[0]
    for example in read_squad_json(path):
        yield dict(
            id=example["id"],
            question=example["question"],
            answer_sentence=answer_sentence[example["id"]],
        )


def read_lareqa_sentences(path: str) -> list[str]:
    """Every sentence of every paragraph, in order: the pool answers are retrieved from."""
    return [s for paragraph, _ in _lareqa_paragraphs(path) for s in paragraph["sentences"]]


def _lareqa_paragraphs(path: str) -> Iterator[tuple[dict, int]]:
    """(paragraph, index of its first sentence in the pool), validating the sentence fields."""
    list(read_squad_json(path))  # validates the SQuAD part with clear errors
    with open(path, encoding="utf-8-sig") as f:
        data = json.load(f)
    first = 0
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            breaks, sentences = paragraph.get("sentence_breaks"), paragraph.get("sentences")
            if not (isinstance(breaks, list) and isinstance(sentences, list)) or len(breaks) != len(
                sentences
            ):
                raise DataError(f"{path}: a paragraph lacks matching sentences / sentence_breaks")
            yield paragraph, first
            first += len(sentences)


def read_mewslix_mentions(path: str) -> Iterator[Example]:
    """Mention records: `id, lang, context, mention_start, mention_end, entity_id`."""
    seen: set = set()
    for number, r in read_jsonl(
        path, ["example_id", "lang", "context", "mention_span", "entity_id"]
    ):
        span = r["mention_span"]
        if not isinstance(span, dict) or not {"start", "end"} <= set(span):
            raise DataError(f"{path}:{number}: 'mention_span' needs 'start' and 'end'")
        if not 0 <= span["start"] < span["end"] <= len(r["context"]):
            raise DataError(f"{path}:{number}: mention span {span} outside the context")
        _unique(path, number, seen, r["example_id"])
        yield dict(
            id=r["example_id"],
            lang=r["lang"],
            context=r["context"],
            mention_start=span["start"],
            mention_end=span["end"],
            entity_id=r["entity_id"],
        )


def read_mewslix_candidates(path: str) -> Iterator[Example]:
    seen: set = set()
    for number, r in read_jsonl(path, ["entity_id", "description"]):
        _unique(path, number, seen, r["entity_id"])
        yield dict(id=r["entity_id"], description=r["description"], title=r.get("title", ""))


# --- masked-LM text -------------------------------------------------------------------


def read_text(path: str) -> Iterator[Example]:
    count = 0
    for number, line in _lines(path):
        if line.strip():
            count += 1
            yield dict(id=f"{os.path.basename(path)}-{number}", text=line.strip())
    _require_examples(path, count)
