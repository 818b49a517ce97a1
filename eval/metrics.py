"""The official XTREME-R metrics, as per-example statistics that a bootstrap can resample.

    score_task("xnli", ["entailment", ...], ["entailment", ...])   # {"accuracy": 100.0}
    ids, stats = example_stats("panx", predicted_tags, gold_tags)  # stats["f1"]: (n, 4) counts
    metric_from_stats("f1", stats["f1"][some_resample])            # F1 of that resample

Each metric follows the script XTREME-R scores with (`evaluate.py` of
google-research/xtreme and the scripts it calls; docs/evaluation.md lists them):

| task(s) | metrics |
|---|---|
| XNLI, XCOPA, Tatoeba (and every classification / multiple-choice task) | `accuracy` |
| UD-POS, PAN-X | `f1`, `precision`, `recall` of `seqeval` (default, conlleval-compatible mode) |
| XQuAD, TyDiQA-GoldP (and SQuAD) | `exact_match`, `f1` of the SQuAD v1.1 script |
| MLQA | `exact_match`, `f1` of the MLQA script (language-aware normalisation) |
| LAReQA, Mewsli-X | `map@20` |

All values are percentages. Predictions and gold labels follow one structure per
task (the contract `eval.predict` produces and `eval.submission` reads and writes):

| task | predictions | gold |
|---|---|---|
| classification (XNLI) | `list[str]` label per example | same |
| multiple choice (XCOPA) | `list[int]` chosen choice | same |
| token tagging (UD-POS, PAN-X) | `list[list[str]]` tag per word | same |
| QA (XQuAD, MLQA, TyDiQA) | `dict[str, str]` id → answer | `dict[str, list[str]]` answers |
| Tatoeba | `list[int]` retrieved English index | `list[int]`, normally `range(n)` |
| LAReQA, Mewsli-X | `dict[str, list[str]]` id → ranked ids | `dict[str, list[str]]` relevant |
"""

from __future__ import annotations

import re
import string
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import end_of_chunk, get_entities, start_of_chunk

from xlmr_flax.formats import get_format
from xlmr_flax.formats.span_extraction import Answers  # noqa: F401 (QA gold, scored here)
from xlmr_flax.tasks import get_task

METRICS = ("accuracy", "f1", "precision", "recall", "exact_match", "map@20")
# Retrieval is scored on the 20 best candidates (XTREME-R; utils_mewslix.TOP_K).
TOP_K = 20
# XTREME-R's task categories (evaluate.py's groups); its average is over these ten tasks.
CATEGORIES = {
    "classification": ("xnli", "xcopa"),
    "structured_prediction": ("udpos", "panx"),
    "question_answering": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("mewslix", "lareqa", "tatoeba"),
}
XTREME_R_TASKS = tuple(t for tasks in CATEGORIES.values() for t in tasks)
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")


# --- accuracy --------------------------------------------------------------------------


def accuracy(predictions: Sequence[Any], gold: Sequence[Any]) -> float:
    """Percentage of examples whose prediction equals the gold label."""
    _check_lengths(predictions, gold)
    correct = sum(int(p == g) for p, g in zip(predictions, gold, strict=True))
    return correct / len(gold) * 100  # the official script's order of operations


# --- extractive QA ---------------------------------------------------------------------


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


# --- tagging (seqeval) -----------------------------------------------------------------


def seqeval_scores(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict:
    """`f1`, `precision`, `recall` of `seqeval` called as XTREME's `evaluate.py` calls it
    (micro average over entity types, default conlleval-compatible mode). Tags without
    a B-/I- prefix (UD-POS) are read as seqeval reads them: the first character is the
    chunk tag, the rest the type, so runs of one POS tag form one chunk."""
    y_true, y_pred = _tag_lists(predictions, gold)
    with warnings.catch_warnings():
        # seqeval warns for every tag that is not an IOB tag (all of UD-POS) and for
        # undefined precision or recall (which it scores 0, as the official script does).
        warnings.simplefilter("ignore")
        return {
            "f1": 100 * float(f1_score(y_true, y_pred)),
            "precision": 100 * float(precision_score(y_true, y_pred)),
            "recall": 100 * float(recall_score(y_true, y_pred)),
        }


def entity_counts(
    predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per sentence `(correct, predicted, gold)` entity counts whose column sums are the
    counts `seqeval` computes over the whole corpus.

    seqeval reads the corpus as one sequence with an `O` after each sentence; chunks
    are extracted from that sequence exactly as seqeval does and each is credited to
    the sentence it ends in. (With prefix-less tags a chunk can start before a sentence
    boundary, e.g. a sentence opening with UD-POS `X` after one ending in `X`; it
    then belongs to the sentence it ends in, so the sums still match.)"""
    y_true, y_pred = _tag_lists(predictions, gold)
    # Index of the sentence each position of the flattened sequence belongs to.
    owner = np.repeat(np.arange(len(y_true)), [len(s) + 1 for s in y_true])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-IOB tags (UD-POS)
        true = set(get_entities(y_true))
        pred = set(get_entities(y_pred))
    counts = np.zeros((len(y_true), 3), dtype=np.int64)
    for column, entities in enumerate((true & pred, pred, true)):
        for _, _, end in entities:
            counts[owner[end], column] += 1
    return counts


def chunk_joins(predictions: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence, whether it is joined to the sentence before it: whether the entity
    counts of this sentence or of a later one (`entity_counts`) depend on that
    sentence's tags, gold or predicted. Sentences joined this way are resampled as one
    unit (`eval.ordering`), which keeps every resample's counts exactly seqeval's.

    In the sequence seqeval reads, the `O` after a sentence ends every chunk except one
    of a tag without a type (UD-POS `X`, whose type `_` is the separator's own), and
    the word after it starts a chunk unless it is such a tag. A sentence that ends a
    chunk (at one of its words or at its own `O`) before starting one closes a chunk
    begun before it: its counts depend on the sentence holding that chunk's start,
    and on any sentences between, which start and end no chunk (all `X`) and pass it
    on. Every other sentence's counts depend on its own tags only: a chunk is credited
    to the sentence it ends in, so nothing after a sentence changes its counts. The
    first sentence of the corpus has nothing before it and is never joined."""
    y_true, y_pred = _tag_lists(predictions, gold)
    joined = _joined_to_previous(y_true) | _joined_to_previous(y_pred)
    if len(joined):
        joined[0] = False
    return joined


CLEAN, CONTINUES, PASSES_ON = "clean", "continues", "passes on"


def _joined_to_previous(sentences: Sequence[Sequence[str]]) -> np.ndarray:
    joined = np.zeros(len(sentences), dtype=bool)
    carried = False  # a later sentence continues a chunk that passes through this one
    for k in range(len(sentences) - 1, -1, -1):
        kind = _sentence_start(sentences[k])
        if kind == CONTINUES:
            joined[k] = carried = True
        elif kind == PASSES_ON:
            joined[k] = carried
        else:
            carried = False
    return joined


def _sentence_start(sentence: Sequence[str]) -> str:
    """How a sentence read after another one and its `O` begins: it starts a chunk
    before it ends one (CLEAN), ends a chunk begun before it first (CONTINUES), or
    neither starts nor ends one (PASSES_ON the chunk start before it)."""
    prev_tag, prev_type = "O", "_"  # the separator
    for label in [*sentence, "O"]:
        tag = label[0]  # as seqeval's get_entities splits a label (no suffix mode)
        type_ = label[1:].split("-", maxsplit=1)[-1] or "_"
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            return CONTINUES
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            return CLEAN
        prev_tag, prev_type = tag, type_
    return PASSES_ON


def _tag_lists(predictions, gold) -> tuple[list[list[str]], list[list[str]]]:
    _check_lengths(predictions, gold, what="sentences")
    for i, (p, g) in enumerate(zip(predictions, gold, strict=True)):
        if len(p) != len(g):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags for {len(g)} gold words")
    # seqeval needs lists (a tuple is not recognised as a sentence).
    return [list(map(str, g)) for g in gold], [list(map(str, p)) for p in predictions]


# --- retrieval -------------------------------------------------------------------------


def average_precision_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int = TOP_K) -> float:
    """AP@k as XTREME-R computes it (utils_lareqa.average_precision_at_k): the sum of
    precision@i over the ranks i <= k holding a relevant candidate, divided by
    min(number relevant, k); a candidate repeated in the ranking counts once. With one
    relevant candidate (Mewsli-X) this is the reciprocal rank within the top k."""
    targets = set(relevant)
    if not targets:
        raise ValueError("a query needs at least one relevant candidate")
    hits, total, seen = 0, 0.0, set()
    for rank, candidate in enumerate(ranked[:k], 1):
        if candidate in targets and candidate not in seen:
            hits += 1
            total += hits / rank
        seen.add(candidate)
    return total / min(len(targets), k)


# --- per task --------------------------------------------------------------------------


def metric_kind(task: str) -> str:
    """How `task` is scored: accuracy, token_accuracy, seqeval, squad, squad_v2, mlqa or map."""
    spec = get_task(task)
    return get_format(spec.format).metric_kind(spec)


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics `score_task` reports for `task` (the first is the headline, except
    for QA, whose headline is the mean of its two)."""
    return {
        "accuracy": ("accuracy",),
        "token_accuracy": ("accuracy",),
        "seqeval": ("f1", "precision", "recall"),
        "squad": ("exact_match", "f1"),
        "squad_v2": ("exact_match", "f1"),
        "mlqa": ("exact_match", "f1"),
        "map": ("map@20",),
    }[metric_kind(task)]


def score_task(
    task: str,
    predictions: Any,
    gold: Any,
    *,
    lang: str | None = None,
    allow_missing: bool = False,
) -> dict[str, float]:
    """The task's official metrics (percentages) over the whole test set, computed as
    the official scripts compute them. `lang` is needed for MLQA unless `gold` is an
    `Answers` that knows it. A question or query without a prediction is an error,
    or scores 0 with `allow_missing` (the official scripts' partial credit)."""
    kind = metric_kind(task)
    if kind == "accuracy":
        return {"accuracy": accuracy(predictions, gold)}
    if kind == "token_accuracy":
        counts = _token_counts(predictions, gold)
        return {"accuracy": 100.0 * int(counts[:, 0].sum()) / int(counts[:, 1].sum())}
    if kind == "seqeval":
        return seqeval_scores(predictions, gold)
    ids = _keyed_ids(predictions, gold, allow_missing)
    if kind == "map":
        total = sum(average_precision_at_k(predictions.get(i, []), gold[i]) for i in ids)
        return {"map@20": 100.0 * total / len(ids)}
    normalize, v2 = _qa_rules(kind, gold, lang)
    exact = f1 = 0.0
    for i in ids:  # summed in file order, as the SQuAD and MLQA scripts sum
        if i in predictions:
            e, f = qa_scores(predictions[i], gold[i], normalize, v2)
            exact, f1 = exact + e, f1 + f
    return {"exact_match": 100.0 * exact / len(ids), "f1": 100.0 * f1 / len(ids)}


def example_stats(
    task: str,
    predictions: Any,
    gold: Any,
    *,
    lang: str | None = None,
    allow_missing: bool = False,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """(example ids, per-example statistics per metric) such that
    `metric_from_stats(m, stats[m])` is `score_task(...)[m]`, and so that any resample
    of the rows gives the metric of that resample of test examples.

    Ids are the gold keys for id-keyed tasks (QA, LAReQA, Mewsli-X) and positions
    ("0", "1", ...) for list-shaped ones. "Mean" metrics store one value in [0, 1]
    per example; seqeval's precision/recall/F1 share one `(n, 4)` array per sentence:
    `(correct, predicted, gold)` entity counts (`entity_counts`) and 1 where the
    sentence is joined to the one before it (`chunk_joins`; a resample of sentences
    is seqeval's only where joined sentences are drawn together); token accuracy
    (CCG) stores `(correct, total)` tokens per sentence."""
    kind = metric_kind(task)
    if kind == "accuracy":
        _check_lengths(predictions, gold)
        hits = np.array([float(p == g) for p, g in zip(predictions, gold, strict=True)])
        return _positions(gold), {"accuracy": hits}
    if kind == "token_accuracy":
        return _positions(gold), {"accuracy": _token_counts(predictions, gold)}
    if kind == "seqeval":
        joined = chunk_joins(predictions, gold)
        counts = np.column_stack([entity_counts(predictions, gold), joined.astype(np.int64)])
        return _positions(gold), {"f1": counts, "precision": counts, "recall": counts}
    ids = _keyed_ids(predictions, gold, allow_missing)
    if kind == "map":
        ap = [average_precision_at_k(predictions.get(i, []), gold[i]) for i in ids]
        return ids, {"map@20": np.array(ap, dtype=np.float64)}
    normalize, v2 = _qa_rules(kind, gold, lang)
    pairs = [qa_scores(predictions[i], gold[i], normalize, v2) if i in predictions else (0, 0)
             for i in ids]  # fmt: skip
    scores = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return ids, {"exact_match": scores[:, 0], "f1": scores[:, 1]}


def metric_from_stats(metric: str, stats: np.ndarray) -> float:
    """A metric (percent) from per-example statistics of `example_stats`: 1-D → 100 ×
    mean; `(n, 3)` entity counts (or `(n, 4)` with the joins, which are not counted)
    → precision, recall or F1 from the column sums (seqeval's formulas, 0 where
    undefined); `(n, 2)` → 100 × correct / total."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {METRICS}")
    stats = np.asarray(stats)
    if len(stats) == 0:
        raise ValueError(f"no examples to compute {metric} from")
    if stats.ndim == 1:
        return 100.0 * float(np.mean(stats, dtype=np.float64))
    if stats.ndim == 2 and stats.shape[1] == 2:
        return 100.0 * int(stats[:, 0].sum()) / int(stats[:, 1].sum())
    if stats.ndim != 2 or stats.shape[1] not in (3, 4):
        raise ValueError(
            f"{metric}: expected 1-D, (n, 2), (n, 3) or (n, 4) statistics, got {stats.shape}"
        )
    correct, predicted, true = (int(c) for c in stats[:, :3].sum(axis=0))
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    value = {"precision": precision, "recall": recall}.get(metric)
    if value is None:
        if metric != "f1":
            raise ValueError(f"{metric}: entity counts give precision, recall or f1")
        value = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return 100 * value


def _qa_rules(kind: str, gold, lang: str | None) -> tuple[Callable[[str], str], bool]:
    if kind != "mlqa":
        return squad_normalize, kind == "squad_v2"
    lang = lang if lang is not None else getattr(gold, "lang", None)
    if lang is None:
        raise ValueError("MLQA is scored per language: pass lang= (or gold as an Answers)")
    mlqa_normalize("", lang)  # an unknown language fails here, before any scoring

    def normalize(text: str) -> str:
        return mlqa_normalize(text, lang)

    return normalize, False


def _token_counts(predictions, gold) -> np.ndarray:
    y_true, y_pred = _tag_lists(predictions, gold)
    counts = [(sum(p == g for p, g in zip(ps, gs, strict=True)), len(gs))
              for ps, gs in zip(y_pred, y_true, strict=True)]  # fmt: skip
    return np.array(counts, dtype=np.int64).reshape(-1, 2)


def _positions(gold: Sequence) -> list[str]:
    return [str(i) for i in range(len(gold))]


def _check_lengths(predictions: Sequence, gold: Sequence, what: str = "examples") -> None:
    if isinstance(predictions, Mapping | str | bytes):
        raise ValueError(f"predictions must be a list (one per {what[:-1]})")
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold {what}")
    if not gold:
        raise ValueError(f"no gold {what} to score")


def _keyed_ids(predictions, gold, allow_missing: bool) -> list[str]:
    """The gold ids in order, after checking the predictions cover exactly those."""
    if not isinstance(predictions, Mapping):
        raise ValueError("predictions must be a dict keyed by question / query id")
    if not gold:
        raise ValueError("no gold examples to score")
    missing = [i for i in gold if i not in predictions]
    if missing and not allow_missing:
        raise ValueError(f"{len(missing)} of {len(gold)} ids have no prediction: {_some(missing)}")
    extra = [i for i in predictions if i not in gold]
    if extra:
        raise ValueError(f"{len(extra)} predicted ids are not in the gold data: {_some(extra)}")
    return list(gold)


def _some(ids: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


# --- headline scores and averages -------------------------------------------------------


def headline_metrics(task: str) -> tuple[str, ...]:
    """The metrics whose mean XTREME-R ranks a task by: QA exact match and F1, tagging
    F1, retrieval mAP@20, the others accuracy (evaluate.py's `avg_metric`)."""
    names = metric_names(task)
    return names if metric_kind(task) in ("squad", "squad_v2", "mlqa") else names[:1]


def headline_score(task: str, metrics: Mapping[str, float]) -> float:
    """The number XTREME-R ranks a task by: the mean of its `headline_metrics`."""
    names = headline_metrics(task)
    return sum(metrics[m] for m in names) / len(names)


def task_average(task: str, by_lang: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Each metric averaged over the given languages (English included, as in
    XTREME's `evaluate.py`), and the task's `score` from those averages."""
    if not by_lang:
        raise ValueError(f"task {task}: no languages to average")
    names = metric_names(task)
    average = {m: sum(scores[m] for scores in by_lang.values()) / len(by_lang) for m in names}
    return {"score": headline_score(task, average), **average}


def xtreme_r_average(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, Any]:
    """Averages of `{task: {lang: {metric: value}}}` as XTREME-R computes them.

    - `tasks`: per task, every metric averaged over its scored languages and the
      headline `score`, with the number of languages scored and officially listed;
    - `categories`: the mean task score of each category whose tasks are all scored;
    - `xtreme_r`: the mean of the ten task scores (None unless all ten are scored);
    - `complete`: every official language of every task scored (otherwise the
      averages are over fewer languages than the benchmark's, and `missing` lists them).
    """
    tasks: dict[str, dict[str, float]] = {}
    missing: dict[str, list[str]] = {}
    for task, by_lang in results.items():
        if not by_lang:
            continue
        official = get_task(task).eval_langs
        tasks[task] = {
            **task_average(task, by_lang),
            "languages": len(by_lang),
            "official_languages": len(official),
        }
        missing[task] = [lang for lang in official if lang not in by_lang]
    categories = {
        name: sum(tasks[t]["score"] for t in members) / len(members)
        for name, members in CATEGORIES.items()
        if all(t in tasks for t in members)
    }
    all_scored = all(t in tasks for t in XTREME_R_TASKS)
    overall = None
    if all_scored:  # evaluate.py reports its overall score only when every task is there
        overall = sum(tasks[t]["score"] for t in XTREME_R_TASKS) / len(XTREME_R_TASKS)
    return {
        "tasks": tasks,
        "categories": categories,
        "xtreme_r": overall,
        "complete": all_scored and not any(missing.get(t) for t in XTREME_R_TASKS),
        "missing": {t: langs for t, langs in missing.items() if langs},
    }
