"""Batched zero-shot prediction: a restored model on a mesh → predictions per task and language.

    model = load_on_mesh("runs/x/stages/<id>/model", mesh)
    predictor = Predictor(model, mesh, {"batch_size": 64})
    by_lang = predictor.predict_all("xnli", raw_dir="download/")   # {lang: [label, ...]}

Each task's format (`xlmr_flax.formats`) featurises, decodes and says what its
predictions are; the predictor runs the model for it (`features`, `sequence_batches`,
`choice_batches`, `outputs`, `embed_texts`, `search`). The contracts (what
`eval.metrics` scores):

| task(s) | prediction |
|---|---|
| classification (XNLI, ...) | `list[str]` label per example, file order |
| multiple choice (XCOPA, ...) | `list[int]` chosen choice per example |
| token tagging (UD-POS, PAN-X, CCG) | `list[list[str]]` one tag per word (its first sub-word's) |
| span extraction (XQuAD, MLQA, TyDiQA) | `dict[str, str]` question id → answer text |
| Tatoeba | `list[int]` index of the nearest English sentence per source sentence |
| LAReQA | `dict[str, list[str]]` question id → 20 best sentence ids (`lareqa_candidate_id`) |
| Mewsli-X | `dict[str, list[str]]` mention id → 20 best entity ids |

Examples are sorted by length and padded to fixed bucket lengths and a fixed
number of rows (a multiple of the data-parallel size), so each (output kind,
bucket shape) compiles once (`Predictor.compilations` counts them); padding rows
are computed and dropped, padding tokens are masked, so a prediction does not
depend on the batch size or the bucket boundaries.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import Mesh

from eval.predict.program import PredictOptions, forward_function, load_on_mesh, model_shardings
from eval.predict.retrieval import data_parallel_size, top_k_on_mesh
from xlmr_flax.data import features as F
from xlmr_flax.data.batching import PAD_ID, eval_batches, round_up
from xlmr_flax.data.cache import cached_features, featurize
from xlmr_flax.formats import get_format
from xlmr_flax.formats.base import FALLBACK_MAX_LENGTH
from xlmr_flax.formats.decode import top_k
from xlmr_flax.formats.retrieval import embedding_settings
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.sharding import (
    DEFAULT_RULES,
    batch_sharding,
    is_cpu,
    make_mesh,
    to_host,
    to_mesh,
)
from xlmr_flax.tasks import Task, get_task

# Where callers find them: the options and the restoring of models are the predictor's.
__all__ = ["PredictOptions", "Predictor", "forward_function", "load_on_mesh"]

Batch = dict[str, np.ndarray]


class Predictor:
    """Runs one restored model over tasks and languages with compiled, sharded batches.

    `options` (a mapping, ConfigDict or `PredictOptions`) sets the defaults; every
    `predict` call can override them. Compiled functions are kept per (output kind,
    static settings, batch shape) for the predictor's life: `compilations` counts
    them, `compiled_shapes` lists them.
    """

    def __init__(
        self,
        model: PretrainedModel,
        mesh: Mesh | None = None,
        options: Any = None,
        *,
        tokenizer: Any | None = None,
        rules: Mapping[str, Any] = DEFAULT_RULES,
        executables: dict[tuple, Callable] | None = None,
    ):
        self.model = model
        self.mesh = make_mesh() if mesh is None else mesh
        self.rules = dict(rules)
        self.options = (
            options if isinstance(options, PredictOptions) else PredictOptions.create(options)
        )
        self.tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        self.rows_multiple = data_parallel_size(self.mesh, self.rules)
        self._param_shardings = model_shardings(
            model.config, model.head, model.head_kwargs, self.mesh, self.rules
        )
        self._params = jax.device_put(model.params, self._param_shardings)
        # Shared between predictors of same-shaped models on one mesh (a study's stages).
        self._executables = {} if executables is None else executables
        self._pools: dict[tuple, Any] = {}
        self.compilations = 0

    def with_options(self, **overrides: Any) -> PredictOptions:
        """The predictor's options with `overrides` applied (unknown names are an error)."""
        if not overrides:
            return self.options
        return PredictOptions.create(dataclasses.asdict(self.options), **overrides)

    @property
    def compiled_shapes(self) -> list[tuple]:
        """(kind, static settings, batch shapes) of every compiled function."""
        return [key[1:] for key in self._executables]

    # --- compiled forward passes -------------------------------------------------------

    def _forward(self, kind: str, static: tuple) -> Callable:
        return forward_function(self.model.graphdef, self.model.config, kind, static)

    def _executable(self, kind: str, static: tuple, shapes: Mapping[str, tuple]) -> Callable:
        shapes_of_params = tuple(x.shape for x in jax.tree.leaves(self._params))
        model_key = (self.model.graphdef, shapes_of_params, self.mesh)
        key = (model_key, kind, static, tuple(sorted(shapes.items())))
        if key in self._executables:
            return self._executables[key]
        started = time.perf_counter()
        forward = self._forward(kind, static)
        in_batch = {k: batch_sharding(self.mesh, len(s), self.rules) for k, s in shapes.items()}
        abstract = {
            k: jax.ShapeDtypeStruct(s, jnp.int32, sharding=in_batch[k]) for k, s in shapes.items()
        }
        out = jax.eval_shape(forward, self._params, abstract)
        out_shardings = jax.tree.map(lambda a: batch_sharding(self.mesh, a.ndim, self.rules), out)
        jitted = jax.jit(
            forward, in_shardings=(self._param_shardings, in_batch), out_shardings=out_shardings
        )
        executable = jitted.lower(self._params, abstract).compile()
        self._executables[key] = executable
        self.compilations += 1
        logging.info(
            "compiled %s %s for %s in %.1f s (%d so far)",
            kind,
            static,
            dict(shapes),
            time.perf_counter() - started,
            self.compilations,
        )
        return executable

    def run(
        self, kind: str, batches: Iterable[tuple[np.ndarray, Batch]], static: tuple = ()
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(indices, outputs) per batch, padding rows dropped. `kind` is "logits",
        "tags", "spans" or "embedding" (`static` = (layer, pooling, use_head)).

        On CPU each batch is waited for (emulated devices deadlock when sharded calls
        queue up); elsewhere one batch is in flight while the previous one is fetched.
        """
        pending = None
        for indices, arrays in batches:
            inputs = {
                k: to_mesh(v, batch_sharding(self.mesh, v.ndim, self.rules))
                for k, v in arrays.items()
            }
            outputs = self._executable(kind, static, {k: v.shape for k, v in arrays.items()})(
                self._params, inputs
            )
            if is_cpu():
                jax.block_until_ready(outputs)
            if pending is not None:
                yield _fetch(*pending)
            pending = (indices, outputs)
        if pending is not None:
            yield _fetch(*pending)

    # --- batches ----------------------------------------------------------------------

    def _rows(self, options: PredictOptions) -> int:
        return round_up(max(1, options.batch_size), self.rows_multiple)

    def sequence_batches(
        self, features: Sequence[F.Feature], options: PredictOptions, max_length: int
    ) -> Iterator[tuple[np.ndarray, Batch]]:
        """Length-bucketed `input_ids` / `attention_mask` batches of fixed row count."""
        for indices, batch in eval_batches(
            features, self._rows(options), options.buckets(max_length)
        ):
            yield indices, {k: batch[k] for k in ("input_ids", "attention_mask")}

    def choice_batches(
        self, features: Sequence[F.Feature], options: PredictOptions, max_length: int
    ) -> Iterator[tuple[np.ndarray, Batch]]:
        """`[rows, choices, length]` batches, grouped by choice count, bucketed by the
        longest choice sequence of each example."""
        rows, buckets = self._rows(options), options.buckets(max_length)
        longest = [max(len(c) for c in f["choices"]) for f in features]
        for count in sorted({len(f["choices"]) for f in features}):
            group = [i for i, f in enumerate(features) if len(f["choices"]) == count]
            group = sorted(group, key=lambda i: longest[i])
            for start in range(0, len(group), rows):
                indices = np.asarray(group[start : start + rows])
                top = max(longest[i] for i in indices)
                length = next((b for b in buckets if b >= top), buckets[-1])
                ids = np.full((rows, count, length), PAD_ID, np.int32)
                for row, i in enumerate(indices):
                    for j, choice in enumerate(features[i]["choices"]):
                        ids[row, j, : min(len(choice), length)] = choice[:length]
                yield (
                    indices,
                    {"input_ids": ids, "attention_mask": (ids != PAD_ID).astype(np.int32)},
                )

    # --- tasks ------------------------------------------------------------------------

    def predict(
        self,
        task_name: str,
        lang: str,
        raw_dir: str,
        *,
        split: str | None = None,
        **overrides: Any,
    ) -> Any:
        """Predictions for one language of a task's `split` (default: its eval split),
        in the contract of the module docstring. `overrides` are `PredictOptions`."""
        task = get_task(task_name)
        split = split or task.eval_split
        options = self.with_options(**overrides)
        started = time.perf_counter()
        compiled = self.compilations
        fmt = get_format(task.format)
        if fmt.predicts_with_head:
            self._check_head(task, raw_dir)
        result = fmt.predict(self, task, split, lang, raw_dir, options)
        logging.info(
            "%s %s %s: %d predictions in %.1f s, %d new compilation(s)",
            task.name,
            split,
            lang,
            len(result),
            time.perf_counter() - started,
            self.compilations - compiled,
        )
        return result

    def predict_all(
        self,
        task_name: str,
        langs: Sequence[str] | None = None,
        *,
        raw_dir: str,
        split: str | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """{lang: predictions} for `langs` (default: the task's languages of `split`
        whose files exist under `raw_dir`, in the task's order)."""
        if isinstance(langs, str):
            raise TypeError(f"langs={langs!r}: a sequence of language codes (raw_dir= by name)")
        task = get_task(task_name)
        split = split or task.eval_split
        if langs is None:
            langs = [lang for s, lang in task.available(raw_dir) if s == split]
        return {
            lang: self.predict(task_name, lang, raw_dir, split=split, **overrides) for lang in langs
        }

    def _check_head(self, task: Task, raw_dir: str) -> None:
        """The model's head is the one the task's format trains, with its label count."""
        head, kwargs = self.model.head, self.model.head_kwargs
        if head != task.head:
            raise ValueError(
                f"{task.name} needs a {task.head} head; the model has {head or 'none'}"
            )
        labels = get_format(task.format).labels(task, raw_dir)
        if labels is not None and kwargs.get("num_labels") != len(labels):
            raise ValueError(
                f"{task.name} has {len(labels)} labels; the model's head has "
                f"{kwargs.get('num_labels')}"
            )

    # --- what formats predict with (xlmr_flax.formats.base.Predictor) -----------------

    def features(
        self,
        task: Task,
        split: str,
        lang: str,
        raw_dir: str,
        options: PredictOptions,
        examples: list[dict],
        **kw: Any,
    ) -> list[F.Feature]:
        """The features of one file, cached under `options.cache_dir` if set."""
        tokenizer, max_length = self._tokenizer(), options.length_for(task)
        if options.cache_dir:
            return cached_features(
                task, split, lang, raw_dir, tokenizer, max_length, options.cache_dir, **kw
            )
        return featurize(task, split, lang, raw_dir, tokenizer, max_length, examples, **kw)

    def outputs(
        self, kind: str, batches: Iterable[tuple[np.ndarray, Batch]], count: int, static=()
    ) -> dict[str, list[np.ndarray]]:
        """Every output of `kind` (see `run`) per feature, back in feature order."""
        results = list(self.run(kind, batches, static))
        names = results[0][1].keys() if results else ()
        return {name: _scatter(count, results, name) for name in names}

    def cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        """`build()`, kept for the predictor's life under `key` (candidate pools)."""
        if key not in self._pools:
            self._pools[key] = build()
        return self._pools[key]

    def _tokenizer(self):
        if self.tokenizer is None:
            raise ValueError("the model has no tokenizer; pass tokenizer= to the predictor")
        return self.tokenizer

    # --- retrieval --------------------------------------------------------------------

    def embed_texts(
        self,
        texts: Sequence[str],
        *,
        use_head: bool = False,
        options: PredictOptions | None = None,
        max_length: int | None = None,
    ) -> np.ndarray:
        """`[len(texts), hidden]` float32 sentence vectors: the model's sentence_embedding
        head (`use_head`) or `options.layer` / `options.pooling` of the encoder."""
        options = options or self.options
        max_length = max_length or options.max_length or FALLBACK_MAX_LENGTH
        if use_head and self.model.head != "sentence_embedding":
            raise ValueError(f"the model has no sentence_embedding head ({self.model.head})")
        static = embedding_settings(use_head, options)
        features = F.sentences(enumerate(texts), self._tokenizer(), max_length)
        if not features:
            return np.zeros((0, self.model.config.hidden_size), np.float32)
        batches = self.sequence_batches(features, options, max_length)
        return np.stack(self.outputs("embedding", batches, len(features), static)["embedding"])

    def search(
        self, queries: np.ndarray, candidates: np.ndarray, k: int, options: PredictOptions
    ) -> np.ndarray:
        """Indices `[queries, min(k, candidates)]` of the most cosine-similar candidates."""
        on_device = options.device_top_k if options.device_top_k is not None else not is_cpu()
        if on_device:
            return top_k_on_mesh(queries, candidates, k, self.mesh, rules=self.rules)[0]
        return top_k(queries, candidates, k)[0]


def _fetch(indices: np.ndarray, outputs: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    host = to_host(outputs)
    return indices, {k: v[: len(indices)] for k, v in host.items()}


def _scatter(
    count: int, results: Iterable[tuple[np.ndarray, dict[str, np.ndarray]]], name: str
) -> list[np.ndarray]:
    """Per-feature rows of output `name`, back in feature order."""
    rows: list[Any] = [None] * count
    for indices, outputs in results:
        for row, i in enumerate(indices):
            rows[int(i)] = outputs[name][row]
    return rows
