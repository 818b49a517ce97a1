"""Mewsli-X files: the release's nested schema, XTREME's per-language split of it, and
this project's earlier flat records.

The release (google-research `dense_representations_for_entity_retrieval/mel`):

- `candidate_set_entities.jsonl`: one entity per line, `{entity_id, title, description,
  sentence_spans: [{start, end}], description_language, description_url}`
- `wikinews_mentions-{dev,test}.jsonl`: `{"context": {language, text, sentence_spans,
  document_id, …}, "mentions": [{example_id, mention_span: {start, end, text},
  entity_id}]}`, every language in one file
- `wikipedia_pairs-{train,dev}.jsonl`: `{"contextual_mention": {"context": …, "mention":
  …}, "entity": {…}}`, English Wikipedia

XTREME's `utils_preprocess.py` splits the WikiNews mentions into
`wikinews_mentions/{split}-{lang}.jsonl` (same nesting) and
`wikinews_labels/{split}-{lang}.json` (`{example_id: [entity_id]}`), with every test
`entity_id` set to `""`.

Every reader yields one example per mention: `id, lang, context, sentence_spans`
(`[[start, end], …]` or None), `mention_start, mention_end, mention`, `entity_id` (None
where the files hold no gold); training pairs add `entity` (`id, title, description,
sentence_spans`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from xlmr_flax.data.readers import _unique, read_jsonl
from xlmr_flax.errors import DataError

Example = dict[str, Any]


def read_mentions(path: str, labels_path: str | None = None) -> Iterator[Example]:
    """WikiNews mentions (nested, or the flat `{example_id, lang, context, mention_span,
    entity_id}` records); `labels_path` (XTREME's `wikinews_labels`) supplies gold where
    a mention's `entity_id` is blank. A file is all-gold or all-blank."""
    labels = _labels(labels_path) if labels_path else {}
    seen: set = set()
    examples = []
    for number, record in read_jsonl(path, []):
        for mention in _mentions(path, number, record):
            _unique(path, number, seen, mention["id"])
            if not mention["entity_id"]:
                mention["entity_id"] = labels.get(mention["id"]) or None
            examples.append(mention)
    if not examples:
        raise DataError(f"{path}: no mentions")
    gold = [e["entity_id"] is not None for e in examples]
    if any(gold) and not all(gold):
        missing = examples[gold.index(False)]["id"]
        raise DataError(
            f"{path}: mention {missing!r} has no entity id but others have one; "
            "expected gold for every mention or for none"
        )
    yield from examples


def read_pairs(path: str) -> Iterator[Example]:
    """Wikipedia mention-entity training pairs (nested, or flat records whose entity
    is looked up in the candidate set by the caller: `entity` None)."""
    seen: set = set()
    for number, record in read_jsonl(path, []):
        if "contextual_mention" in record:
            where = f"{path}:{number}"
            cm = _field(where, record, "contextual_mention", dict)
            context = _field(where, cm, "context", dict)
            mention = _mention(where, context, _field(where, cm, "mention", dict))
            mention["entity"] = _entity(where, _field(where, record, "entity", dict))
        else:
            (mention,) = _mentions(path, number, record)
            mention["entity"] = None
        if mention["entity_id"] is None:
            raise DataError(f"{path}:{number}: a training pair needs an entity_id")
        _unique(path, number, seen, mention["id"])
        yield mention


def read_candidates(path: str) -> Iterator[Example]:
    """The candidate entities: `id, title, description, sentence_spans`."""
    seen: set = set()
    for number, record in read_jsonl(path, ["entity_id", "description"]):
        entity = _entity(f"{path}:{number}", record)
        _unique(path, number, seen, entity["id"])
        yield entity


# --- records ------------------------------------------------------------------------


def _labels(path: str) -> dict[str, str]:
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a JSON object of labels ({err})") from None
    if not isinstance(data, dict):
        found = type(data).__name__
        raise DataError(f"{path}: expected {{example_id: [entity_id]}}, found {found}")
    labels = {}
    for key, value in data.items():
        if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)):
            raise DataError(f"{path}: id {key!r}: expected a one-entity list, found {value!r}")
        labels[key] = value[0]
    return labels


def _mentions(path: str, number: int, record: dict) -> list[Example]:
    where = f"{path}:{number}"
    if "mentions" in record:  # the release's nesting: one context, its mentions
        context = _field(where, record, "context", dict)
        _field(where, context, "text", str), _field(where, context, "language", str)
        return [
            _mention(where, context, _field(where, {"mention": m}, "mention", dict))
            for m in _field(where, record, "mentions", list)
        ]
    missing = [k for k in ("example_id", "lang", "context", "mention_span") if k not in record]
    if missing:
        raise DataError(
            f"{where}: missing field(s) {missing} (expected a Mewsli-X record with "
            "'context' and 'mentions', or example_id/lang/context/mention_span)"
        )
    context = {"text": record["context"], "language": record["lang"]}
    return [_mention(where, context, record)]


def _mention(where: str, context: dict, mention: dict) -> Example:
    text = _field(where, context, "text", str)
    language = _field(where, context, "language", str)
    example_id = _field(where, mention, "example_id", str)
    span = _field(where, mention, "mention_span", dict)
    start, end = span.get("start"), span.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise DataError(f"{where}: mention span {span} outside the context")
    if "text" in span and span["text"] != text[start:end]:
        raise DataError(
            f"{where}: mention {example_id!r}: span text {span['text']!r} is not the "
            f"context's {text[start:end]!r}"
        )
    entity_id = mention.get("entity_id")
    if entity_id is not None and not isinstance(entity_id, str):
        raise DataError(f"{where}: mention {example_id!r}: entity_id must be a string")
    return dict(
        id=example_id,
        lang=language,
        context=text,
        sentence_spans=_spans(where, context.get("sentence_spans"), text),
        mention_start=start,
        mention_end=end,
        mention=text[start:end],
        entity_id=entity_id or None,
    )


def _entity(where: str, record: dict) -> Example:
    description = _field(where, record, "description", str)
    return dict(
        id=_field(where, record, "entity_id", str),
        title=record.get("title", ""),
        description=description,
        sentence_spans=_spans(where, record.get("sentence_spans"), description),
    )


def _spans(where: str, spans: Any, text: str) -> list[list[int]] | None:
    if spans is None:
        return None
    if not isinstance(spans, list):
        raise DataError(f"{where}: sentence_spans must be a list of {{start, end}}")
    result = []
    for span in spans:
        start, end = (span.get("start"), span.get("end")) if isinstance(span, dict) else (0, 0)
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise DataError(f"{where}: sentence span {span} outside its text")
        result.append([start, end])
    return result


def _field(where: str, record: dict, key: str, kind: type) -> Any:
    if key not in record:
        raise DataError(f"{where}: missing field {key!r}")
    if not isinstance(record[key], kind):
        raise DataError(f"{where}: {key!r} must be a {kind.__name__}")
    return record[key]
