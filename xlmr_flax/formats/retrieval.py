"""Retrieval (Tatoeba, LAReQA, Mewsli-X): queries ranked against candidates by the cosine
similarity of sentence embeddings.

Training pairs a query with its positive candidate; the other candidates of a batch
are its negatives (a dual encoder, the `sentence_embedding` head). What the queries,
candidates and gold are differs per task, so each retrieval task carries
`RetrievalHooks` (`Task.hooks`) in its own module; this format calls them.

Predictions: `dict[str, list[str]]` query id → ranked candidate ids (scored by
mAP@20), or, for a task whose hooks are not `ranked` (Tatoeba), `list[int]` the index
of the candidate retrieved per example (scored by accuracy). Submission files:
`.json` `{"id": ["candidate", ...], ...}` best first (labels: the relevant ids), or
`.tsv` one index per line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from xlmr_flax.data import features as F
from xlmr_flax.errors import DataError
from xlmr_flax.formats import files
from xlmr_flax.formats.base import (
    FALLBACK_MAX_LENGTH,
    Format,
    register_format,
    sequence_batch,
)

Pair = tuple[str, str, str | tuple[str, str]]  # (id, query, positive candidate)


class RetrievalHooks:
    """What one retrieval task defines: training pairs, queries, the candidate pool and
    the gold. The default `predict` embeds the pool once per predictor and settings,
    embeds the queries, and ranks the `top_k` nearest candidates of each."""

    ranked: bool = True  # predictions rank candidate ids; False: one index per example
    # (query, candidate) token lengths of XTREME-R's evaluation scripts, if it has them.
    reference_lengths: tuple[int, int] | None = None

    def training_pairs(self, task, examples, raw_dir: str, protocol: str) -> Iterator[Pair]:
        raise ValueError(f"task {task.name}: no retrieval training pairs defined")

    def queries(self, examples: list[dict], protocol: str) -> list[str]:
        raise ValueError("no retrieval queries defined")

    def pool_languages(self, task, split: str, raw_dir: str) -> tuple[str, ...]:
        """The languages whose candidates form the pool (empty: one pool for all)."""
        return ()

    def pool(self, task, split: str, raw_dir: str, langs: tuple[str, ...], protocol: str
             ) -> tuple[list[str], list[str]]:  # fmt: skip
        """(candidate ids, candidate texts)."""
        raise ValueError(f"task {task.name}: no candidate pool defined")

    def gold(self, task, lang: str, raw_dir: str, split: str) -> Any:
        raise ValueError(f"task {task.name}: no gold structure defined for this retrieval task")

    def lengths(self, options: Any) -> tuple[int, int]:
        """(query, candidate) token lengths: `max_length` when set; else the reference's
        lengths under "xtreme_r", 256 under "project"."""
        if options.max_length:
            return options.max_length, options.max_length
        if options.retrieval_protocol == "xtreme_r" and self.reference_lengths:
            return self.reference_lengths
        return FALLBACK_MAX_LENGTH, FALLBACK_MAX_LENGTH

    def uses_head(self, options: Any, model_head: str | None) -> bool:
        """Whether a model with head `model_head` embeds through it (a trained
        sentence_embedding head, unless `use_embedding_head` is off) rather than
        through `options.layer` / `options.pooling` of its encoder."""
        return options.use_embedding_head and model_head == "sentence_embedding"

    def predict(self, predictor, task, split: str, lang: str, raw_dir: str, options: Any):
        protocol = F.check_protocol(options.retrieval_protocol)
        query_length, pool_length = self.lengths(options)
        use_head = self.uses_head(options, predictor.model.head)
        examples = list(task.read(raw_dir, split, lang))
        langs = self.pool_languages(task, split, raw_dir)
        key = (task.name, split, os.path.abspath(raw_dir), langs,
               embedding_settings(use_head, options), pool_length, protocol)  # fmt: skip

        def embedded_pool():
            ids, texts = self.pool(task, split, raw_dir, langs, protocol)
            embed = dict(use_head=use_head, options=options, max_length=pool_length)
            return ids, predictor.embed_texts(texts, **embed)

        ids, pool = predictor.cached(key, embedded_pool)
        vectors = predictor.embed_texts(
            self.queries(examples, protocol),
            use_head=use_head,
            options=options,
            max_length=query_length,
        )
        best = predictor.search(vectors, pool, options.top_k, options)
        return {q["id"]: [ids[j] for j in row] for q, row in zip(examples, best, strict=True)}


def embedding_settings(use_head: bool, options: Any) -> tuple:
    """The static settings (layer, pooling, use_head) of the "embedding" forward pass
    (eval.predict.program): the trained sentence_embedding head, or `options.layer` /
    `options.pooling` of the encoder."""
    return (None, None, True) if use_head else (options.layer, options.pooling, False)


def check_gold(task, lang: str, raw_dir: str, split: str) -> None:
    """DataError when (split, lang) has no gold to score (`Task.gold` says why)."""
    reason = task.gold(raw_dir, split, lang)
    if reason is not None:
        raise DataError(f"{task.name} {split} {lang} has no gold to score: {reason}")


def dual_encoder_pairs(task, examples, raw_dir: str, protocol: str = "xtreme_r"):
    """(id, query, positive) training pairs of a retrieval task, in the inputs of
    `protocol` (`features.RETRIEVAL_PROTOCOLS`), as its hooks define them."""
    F.check_protocol(protocol)
    return task.hooks.training_pairs(task, examples, raw_dir, protocol)


class Retrieval(Format):
    name = "retrieval"
    head = "sentence_embedding"  # a dual encoder of sentence embeddings
    predicts_with_head = False  # the encoder, or a sentence_embedding head if any

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        if split != "train":
            raise ValueError(
                f"task {task.name}: {split} retrieval features are built by the evaluator"
            )
        pairs = dual_encoder_pairs(task, examples, raw_dir, **kw)
        return F.retrieval_pairs(pairs, tokenizer, max_length)

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        seq = (rows, length)
        return sequence_batch(rows, length, candidate_input_ids=seq, candidate_attention_mask=seq)

    def sequences_per_example(self, task, raw_dir: str) -> int:
        return 2  # a dual encoder encodes the query and a candidate

    def forward_output(self, task, options, model_head) -> tuple[str, tuple]:
        return "embedding", embedding_settings(task.hooks.uses_head(options, model_head), options)

    def feature_kwargs(self, eval_options: Mapping[str, Any]) -> dict[str, Any]:
        # Retrieval pairs use the evaluation's inputs (config.eval.retrieval_protocol).
        return {"protocol": eval_options.get("retrieval_protocol", "xtreme_r")}

    def predict(self, predictor, task, split, lang, raw_dir, options):
        return task.hooks.predict(predictor, task, split, lang, raw_dir, options)

    def gold(self, task, lang: str, raw_dir: str, split: str):
        return task.hooks.gold(task, lang, raw_dir, split)

    def metric_kind(self, task) -> str:
        return "map" if task.metric == "map@20" else "accuracy"

    def file_extension(self, task) -> str:
        return "json" if task.hooks.ranked else "tsv"  # tsv: as XTREME's Tatoeba files

    def serialize(self, task, value) -> str:
        if task.hooks.ranked:
            return files.json_lines_object(value)
        return "".join(f"{item}\n" for item in value)

    def read_labels(self, path: str, task, lang: str | None):
        if task.hooks.ranked:
            data = files.json_object(path)
            return {i: files.strings(path, i, v, "relevant ids") for i, v in data.items()}
        rows = files.nonempty_label_lines(path)
        return [files.integer(path, n, text, "an index") for n, text in rows]

    def read_predictions(self, path: str, task, gold):
        if task.hooks.ranked:
            data = files.keyed_predictions(path, gold)
            return {i: files.strings(path, i, v, "ranked candidate ids") for i, v in data.items()}
        rows = list(files.label_lines(path))
        files.check_line_count(path, len(rows), len(gold))
        return [files.integer(path, n, text, "a sentence index") for n, text in rows]


FORMAT = register_format(Retrieval())
