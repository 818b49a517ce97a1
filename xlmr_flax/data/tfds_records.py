"""TFDS records written as the files a task reads: XTREME's file names and formats
(TSV, JSONL, SQuAD JSON, CoNLL), one writer per task, for `tfds_native.fetch`."""

from __future__ import annotations

import collections
import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence

from xlmr_flax.data.readers import NLI_LABELS

Records = Mapping[str, Iterable[dict]]  # TFDS split -> its data source (records, decoded)


def _s(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _one_line(text) -> str:  # a TSV cell holds no tab or newline
    return " ".join(_s(text).split())


def _in_file_order(records: Iterable[dict]) -> list[dict]:
    """TFDS stores examples shuffled; where it keeps the line index, restore the order."""
    return sorted(records, key=lambda r: int(r["idx"]))


def _jsonl(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _tsv(rows: Iterable[Sequence[str]]) -> str:
    """Rows as XTREME's preprocessing writes them: csv.writer, tab-delimited."""
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue()


def _glue_tsv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """GLUE's TSV: a header line, no quoting (GLUE's files are read with QUOTE_NONE)."""
    lines = ["\t".join(header)] + ["\t".join(_one_line(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


def _squad_json(records: Iterable[dict], version: str) -> str:
    """SQuAD JSON with one paragraph per (title, context), questions in TFDS's order."""
    articles: dict[str, dict[str, list[dict]]] = collections.defaultdict(dict)
    for r in records:
        spans = zip(r["answers"]["text"], r["answers"]["answer_start"], strict=True)
        qa = dict(
            id=_s(r["id"]),
            question=_s(r["question"]),
            answers=[dict(text=_s(t), answer_start=int(s)) for t, s in spans],
        )
        if "is_impossible" in r:  # SQuAD v2.0
            qa["is_impossible"] = bool(r["is_impossible"])
            plausible = r["plausible_answers"]
            spans = zip(plausible["text"], plausible["answer_start"], strict=True)
            qa["plausible_answers"] = [dict(text=_s(t), answer_start=int(s)) for t, s in spans]
        articles[_s(r["title"])].setdefault(_s(r["context"]), []).append(qa)
    data = [
        dict(title=title, paragraphs=[dict(context=c, qas=qas) for c, qas in paragraphs.items()])
        for title, paragraphs in articles.items()
    ]
    return json.dumps(dict(version=version, data=data), ensure_ascii=False)


def _conll(records: Iterable[dict], tags: str, names: Sequence[str] | None) -> str:
    """One `token<TAB>tag` line per token, a blank line after each sentence."""
    lines = []
    for r in records:
        for token, tag in zip(r["tokens"], r[tags], strict=True):
            lines.append(f"{_s(token)}\t{names[int(tag)] if names else _s(tag)}\n")
        lines.append("\n")
    return "".join(lines)


# ---- one writer per task: (part, records) -> {path under raw: text} ---------------------

Writer = Callable[[str, Records], dict[str, str]]


def xnli_files(part: str, records: Records) -> dict[str, str]:
    if part == "train":  # XTREME trains on MultiNLI's English training set (XNLI-MT's copy)
        rows = (
            [_one_line(r["premise"]), _one_line(r["hypothesis"]), NLI_LABELS[r["label"]]]
            for r in _in_file_order(records["train"])
        )
        return {"xnli/train-en.tsv": _tsv(rows)}
    files = {}
    for ours, theirs in {"dev": "validation", "test": "test"}.items():
        rows: dict[str, list[list[str]]] = collections.defaultdict(list)
        for r in records[theirs]:
            premise = {_s(k): v for k, v in r["premise"].items()}
            hypotheses = r["hypothesis"]
            pairs = zip(hypotheses["language"], hypotheses["translation"], strict=True)
            for lang, hypothesis in pairs:
                lang = _s(lang)
                row = [_one_line(premise[lang]), _one_line(hypothesis), NLI_LABELS[r["label"]]]
                rows[lang].append(row)
        files.update({f"xnli/{ours}-{lang}.tsv": _tsv(r) for lang, r in rows.items()})
    return files


def mnli_files(part: str, records: Records) -> dict[str, str]:
    header = ["index", "sentence1", "sentence2", "gold_label"]
    return {
        f"mnli/{ours}.tsv": _glue_tsv(
            header,
            (
                [str(r["idx"]), r["premise"], r["hypothesis"], NLI_LABELS[r["label"]]]
                for r in _in_file_order(recs)
            ),
        )
        for ours, recs in [
            ("train", records["train"]),
            ("dev_matched", records["validation_matched"]),
        ]
    }


def glue_files(name: str, text: Sequence[str], header: Sequence[str]) -> Writer:
    def write(part: str, records: Records) -> dict[str, str]:
        return {
            f"{name}/{ours}.tsv": _glue_tsv(
                header,
                (
                    [str(r["idx"]), *(r[t] for t in text), str(r["label"])]
                    for r in _in_file_order(recs)
                ),
            )
            for ours, recs in [("train", records["train"]), ("dev", records["validation"])]
        }

    return write


def snli_files(part: str, records: Records) -> dict[str, str]:
    def rows(split, recs):
        for i, r in enumerate(recs):
            label = NLI_LABELS[r["label"]] if r["label"] >= 0 else "-"
            yield dict(
                pairID=f"{split}-{i}",
                sentence1=_s(r["premise"]),
                sentence2=_s(r["hypothesis"]),
                gold_label=label,
            )

    return {
        f"snli/snli_1.0_{ours}.jsonl": _jsonl(rows(ours, records[theirs]))
        for ours, theirs in [("train", "train"), ("dev", "validation"), ("test", "test")]
    }


def anli_files(part: str, records: Records) -> dict[str, str]:
    """TFDS builds ANLI from the v0.1 archive; the rounds go where the release's
    folders lie (`anli_v1.0/R{1,2,3}`), with the same files and fields."""

    def rows(recs):
        for r in recs:
            labels = ("e", "n", "c")
            yield dict(
                uid=_s(r["uid"]),
                context=_s(r["context"]),
                hypothesis=_s(r["hypothesis"]),
                label=labels[r["label"]],
            )

    return {
        f"anli_v1.0/{part}/{ours}.jsonl": _jsonl(rows(records[theirs]))
        for ours, theirs in [("train", "train"), ("dev", "validation"), ("test", "test")]
    }


def squad_files(version: str) -> Writer:
    def write(part: str, records: Records) -> dict[str, str]:
        return {
            f"squad/{ours}-v{version}.json": _squad_json(records[theirs], version)
            for ours, theirs in [("train", "train"), ("dev", "validation")]
        }

    return write


def copa_files(part: str, records: Records) -> dict[str, str]:
    def rows(recs):
        keys = ("premise", "choice1", "choice2", "question")
        for r in _in_file_order(recs):
            yield {**{k: _s(r[k]) for k in keys}, "label": int(r["label"]), "idx": int(r["idx"])}

    return {
        f"copa/{ours}.jsonl": _jsonl(rows(records[theirs]))
        for ours, theirs in [("train", "train"), ("val", "validation")]
    }


def hellaswag_files(part: str, records: Records) -> dict[str, str]:
    def rows(recs):
        for i, r in enumerate(recs):
            yield dict(
                ind=i,
                activity_label=_s(r["activity_label"]),
                ctx=_s(r["context"]),
                endings=[_s(e) for e in r["endings"]],
                source_id=_s(r["source_id"]),
                split_type=_s(r["split_type"]),
                label=int(r["label"]),
            )

    return {
        f"hellaswag/hellaswag_{ours}.jsonl": _jsonl(rows(records[theirs]))
        for ours, theirs in [("train", "train"), ("val", "validation")]
    }


def cosmosqa_files(part: str, records: Records) -> dict[str, str]:
    keys = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3")

    def rows(recs):
        for r in recs:
            yield {**{k: _s(r[k]) for k in keys}, "label": int(r["label"])}

    return {
        f"cosmosqa/{ours}.jsonl": _jsonl(rows(records[theirs]))
        for ours, theirs in [("train", "train"), ("valid", "validation")]
    }


def panx_files(lang: str, records: Records) -> dict[str, str]:
    names = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    return {
        f"panx/{ours}-{lang}.tsv": _conll(records[theirs], "tags", names)
        for ours, theirs in [("train", "train"), ("dev", "validation"), ("test", "test")]
    }


UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()


def udpos_files(lang: str, records: Records) -> dict[str, str]:
    return {
        f"udpos/{ours}-{lang}.tsv": _conll(records[theirs], "upos", UPOS)
        for ours, theirs in [("train", "train"), ("dev", "dev"), ("test", "test")]
        if theirs in records  # Kazakh has no dev split, Tagalog, Thai and Yoruba only test
    }


def xquad_files(lang: str, records: Records) -> dict[str, str]:
    return {f"xquad/xquad.{lang}.json": _squad_json(records["test"], "1.0")}


def mlqa_files(lang: str, records: Records) -> dict[str, str]:
    return {
        f"mlqa/MLQA_V1/{ours}/{ours}-context-{lang}-question-{lang}.json": _squad_json(
            records[theirs], "1.0"
        )
        for ours, theirs in [("dev", "validation"), ("test", "test")]
    }


TYDIQA_LANGS = {
    "arabic": "ar",
    "bengali": "bn",
    "english": "en",
    "finnish": "fi",
    "indonesian": "id",
    "korean": "ko",
    "russian": "ru",
    "swahili": "sw",
    "telugu": "te",
}


def tydiqa_files(part: str, records: Records) -> dict[str, str]:
    train: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records["train"]:  # ids start with the language's English name
        train[TYDIQA_LANGS[_s(r["id"]).split("-")[0]]].append(r)
    files = {
        f"tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json": _squad_json(recs, "1.1")
        for lang, recs in train.items()
    }
    for lang in TYDIQA_LANGS.values():
        path = f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json"
        files[path] = _squad_json(records[f"validation-{lang}"], "1.1")
    return files


def tatoeba_files(lang: str, records: Records) -> dict[str, str]:
    from xlmr_flax.tasks.retrieval.tatoeba import ISO3

    recs = records["train"]  # TFDS names Tatoeba's only split "train"; it is the test set
    stem = f"tatoeba/tatoeba.{ISO3[lang]}-eng"
    return {
        f"{stem}.{ISO3[lang]}": "".join(_one_line(r["source_sentence"]) + "\n" for r in recs),
        f"{stem}.eng": "".join(_one_line(r["target_sentence"]) + "\n" for r in recs),
    }
