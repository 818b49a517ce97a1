"""Extractive QA: exact match and token F1 of the SQuAD v1.1 script (XQuAD, TyDiQA,
SQuAD), SQuAD 2.0's variant, and the MLQA script's language-aware normalisation."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from eval.metrics.kinds import MetricKind, keyed_ids, register_metric_kind

MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's answer normalisation: lower case, drop ASCII punctuation, drop the
    English articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


_ASCII_PUNCTUATION = frozenset(string.punctuation)

# MLQA's article patterns (replaced by a space, after punctuation is removed). Arabic's
# pattern in the MLQA script, '\sال^|ال', can only ever match its second alternative,
# so every "ال" is removed, inside words too: kept as it is, since it defines the metric.
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile(r"ال"),
    "hi": None,  # no articles
    "zh": None,
}
# Characters MLQA splits off as tokens of their own in Chinese (its CJK range, as written).
_MLQA_CJK = re.compile(r"[\u4e00-\u9fa5]")


def _mlqa_punctuation(ch: str) -> bool:
    """MLQA's punctuation: every Unicode P* character plus ASCII `string.punctuation`
    (which adds the symbols $ + < = > ^ ` | ~)."""
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def mlqa_normalize(text: str, lang: str) -> str:
    """MLQA's language-aware normalisation: lower case, drop Unicode punctuation, drop
    the language's articles, then tokenise (whitespace; Chinese: every CJK character a
    token of its own) and join the tokens with single spaces."""
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA has no normalisation for language {lang!r}; it has {MLQA_LANGS}")
    text = "".join(ch for ch in text.lower() if not _mlqa_punctuation(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _mixed_segmentation(text) if lang == "zh" else text.split()
    return " ".join(t for t in tokens if t.strip())


def _mixed_segmentation(text: str) -> list[str]:
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _MLQA_CJK.match(ch) or _mlqa_punctuation(ch):
            tokens += run.split()
            run = ""
            tokens.append(ch)
        else:
            run += ch
    return tokens + run.split()


def _token_f1(prediction: str, answer: str) -> float:
    """Bag-of-tokens F1 of two normalised strings (0 when nothing is shared, as in
    the SQuAD v1.1 and MLQA scripts, even when both are empty)."""
    predicted, gold = prediction.split(), answer.split()
    same = sum((Counter(predicted) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _squad_v2_f1(prediction: str, answer: str) -> float:
    """SQuAD 2.0's F1: where either side is empty (no answer), 1 if both are, else 0."""
    predicted, gold = prediction.split(), answer.split()
    if not predicted or not gold:
        return float(predicted == gold)
    return _token_f1(prediction, answer)


def qa_scores(
    prediction: str, answers: Sequence[str], normalize: Callable[[str], str], v2: bool = False
) -> tuple[float, float]:
    """(exact match, F1) of one prediction in [0, 1], each the maximum over the gold
    answers, the answers and prediction normalised by `normalize`."""
    if not answers:
        raise ValueError("a question needs at least one gold answer")
    predicted = normalize(prediction)
    golds = [normalize(a) for a in answers]
    if v2:  # SQuAD 2.0 ignores answers that normalise to nothing, unless all do
        golds = [g for g in golds if g] or [""]
    f1 = _squad_v2_f1 if v2 else _token_f1
    return (
        max(float(predicted == g) for g in golds),
        max(f1(predicted, g) for g in golds),
    )


class ExtractiveQA(MetricKind):
    """Exact match and F1, each the mean over questions of the best over the answers;
    the headline is their mean. `name`: "squad", "squad_v2" or "mlqa"."""

    metrics = headline = ("exact_match", "f1")

    def __init__(self, name: str):
        self.name = name

    def rules(self, gold, lang: str | None) -> tuple[Callable[[str], str], bool]:
        if self.name != "mlqa":
            return squad_normalize, self.name == "squad_v2"
        lang = lang if lang is not None else getattr(gold, "lang", None)
        if lang is None:
            raise ValueError("MLQA is scored per language: pass lang= (or gold as an Answers)")
        mlqa_normalize("", lang)  # an unknown language fails here, before any scoring

        def normalize(text: str) -> str:
            return mlqa_normalize(text, lang)

        return normalize, False

    def score(self, predictions, gold, lang, allow_missing):
        ids = keyed_ids(predictions, gold, allow_missing)
        normalize, v2 = self.rules(gold, lang)
        exact = f1 = 0.0
        for i in ids:  # summed in file order, as the SQuAD and MLQA scripts sum
            if i in predictions:
                e, f = qa_scores(predictions[i], gold[i], normalize, v2)
                exact, f1 = exact + e, f1 + f
        return {"exact_match": 100.0 * exact / len(ids), "f1": 100.0 * f1 / len(ids)}

    def stats(self, predictions, gold, lang, allow_missing):
        ids = keyed_ids(predictions, gold, allow_missing)
        normalize, v2 = self.rules(gold, lang)
        pairs = [qa_scores(predictions[i], gold[i], normalize, v2) if i in predictions else (0, 0)
                 for i in ids]  # fmt: skip
        scores = np.array(pairs, dtype=np.float64).reshape(-1, 2)
        return ids, {"exact_match": scores[:, 0], "f1": scores[:, 1]}


for _name in ("squad", "squad_v2", "mlqa"):
    register_metric_kind(ExtractiveQA(_name))
