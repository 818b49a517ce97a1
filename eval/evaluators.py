"""The evaluator interface: how a training pipeline scores a model, by evaluator name.

    model = open_model(model_dir, mesh, options=config.eval, cache_dir=features)
    evaluator = get_evaluator("zero_shot")               # or "dev", or one registered
    inputs = evaluator.inputs(task, raw_dir, labels_dir, split)  # what its numbers read
    scores = evaluator.run(model, task, raw_dir, labels_dir, split,
                           examples_dir=..., submission_dir=...)

An evaluator scores one task on one model and returns, per scored language, the
per-example statistics (`example_stats`) and the metrics computed from them; with
`examples_dir` it writes the statistics there (`<split>-<lang>.npy`, read by the
report's bootstrap), with `submission_dir` the test predictions in the layout of
XTREME's `evaluate.py`. `inputs` names every data and gold file the scores depend
on (with the split chosen), so a caller can key stored scores by content.

- `zero_shot`: a target on the split `eval.scoring.gold.plan_evaluation` chooses (`split`:
  `auto`, `test` or `dev`), every language with gold; its test languages are
  predicted for submission.
- `dev`: a task's English dev set (how much of an intermediate task survives).

Which units a study runs is chosen by registration: after each stage, every
registered evaluator names the tasks it evaluates there (`tasks(StageTasks)`), and
each (evaluator, task, split choice) is one `EvalUnit`, named `<unit_prefix><task>`
(its file name in the study's folder; `xnli`, `tatoeba`, `dev-mnli`) and filed in
results.jsonl under its evaluator's record `kind`. A new evaluator is one class
with `unit_prefix`, `kind`, `tasks`, `inputs` and `run`, registered with
`@register_evaluator("name")` (docs/architecture.md). Helpers this module uses but
does not own (split choices and the evaluation plan: `eval.scoring.gold`; the
forward pass: `eval.predict.program`) are imported from there by whoever needs
them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from eval.analysis.records import Kind
from eval.metrics import example_stats, metric_from_stats
from eval.predict.predictor import Predictor
from eval.predict.program import PredictOptions, load_on_mesh
from eval.scoring.example_files import SUFFIX as EXAMPLES_SUFFIX
from eval.scoring.example_files import write_examples
from eval.scoring.gold import (
    AUTO,
    GoldSource,
    file_states,
    plan_evaluation,
)
from eval.scoring.submission import write_predictions
from xlmr_flax.checkpoint import load_model_dir
from xlmr_flax.data.cache import files_fingerprint
from xlmr_flax.formats import get_format
from xlmr_flax.pretrained import PretrainedModel
from xlmr_flax.sharding import is_primary
from xlmr_flax.tasks import TASKS, get_task

ALIGNMENT_TASK = "tatoeba"  # every stage's encoder is measured on it (records: `alignment`)

__all__ = [
    "ALIGNMENT_TASK",
    "EVALUATORS",
    "EvalModel",
    "EvalUnit",
    "Evaluator",
    "LanguageScores",
    "StageTasks",
    "get_evaluator",
    "language_scores",
    "open_model",
    "register_evaluator",
    "stage_units",
]

_EXECUTABLES: dict = {}  # compiled forward passes, shared by every model of the process


@dataclasses.dataclass(frozen=True)
class EvalModel:
    """A model restored once onto the mesh, with the options every evaluator uses."""

    model: PretrainedModel
    mesh: Any
    options: PredictOptions

    @functools.cached_property
    def predictor(self) -> Predictor:
        return Predictor(self.model, self.mesh, self.options, executables=_EXECUTABLES)

    def with_head_of(self, model_dir: str) -> EvalModel:
        """This encoder under the head saved in another model directory (an earlier
        task's head on a later stage's encoder)."""
        _, head, head_kwargs, params = load_model_dir(model_dir)
        params = {**params, "encoder": self.model.params["encoder"]}
        model = PretrainedModel(self.model.config, params, head, head_kwargs, self.model.tokenizer)
        return EvalModel(model, self.mesh, self.options)


def open_model(
    model_dir: str, mesh, options: Mapping[str, Any] | None, cache_dir: str | None
) -> EvalModel:
    """Restores a model directory onto `mesh`; `options` are the evaluation options
    (`config.eval`), `cache_dir` where tokenized features are cached."""
    return EvalModel(
        load_on_mesh(model_dir, mesh), mesh, PredictOptions.create(options, cache_dir=cache_dir)
    )


@dataclasses.dataclass(frozen=True)
class LanguageScores:
    """One scored language: per-example statistics and the metrics they give."""

    task: str
    lang: str
    split: str
    gold: str  # where the gold came from: "raw:<layout>" or "labels"
    ids: list[str]
    stats: dict[str, np.ndarray]  # metric -> per-example statistics
    examples: str | None  # the file the statistics were written to, if any

    def values(self) -> dict[str, float]:
        return {m: metric_from_stats(m, np.asarray(v)) for m, v in sorted(self.stats.items())}


@dataclasses.dataclass(frozen=True)
class StageTasks:
    """What one trained stage (or the pretrained model) offers to evaluate."""

    trained: tuple[str, ...]  # the tasks trained from the pretrained model up to it
    targets: tuple[str, ...]  # the study's targets whose sequences end at it
    intermediate: bool  # it ends an intermediate path (a forgetting measurement)


class Evaluator(Protocol):
    unit_prefix: str  # its units' names: prefix + task (distinct per evaluator)
    kind: Kind  # the record kind its records are filed under

    def tasks(self, stage: StageTasks) -> list[str]:
        """The tasks it evaluates after `stage`."""
        ...

    def inputs(self, task: str, raw_dir: str, labels_dir: str, split: str) -> list[Any]:
        """JSON-able: the split scored and a fingerprint of every file read."""
        ...

    def run(
        self,
        model: EvalModel,
        task: str,
        raw_dir: str,
        labels_dir: str,
        split: str,
        *,
        examples_dir: str | None = None,
        submission_dir: str | None = None,
    ) -> list[LanguageScores]: ...


EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(name: str) -> Callable[[type], type]:
    """Class decorator: makes an instance of the class the evaluator `name`."""

    def register(cls: type) -> type:
        if name in EVALUATORS:
            raise ValueError(f"evaluator {name!r} is registered twice")
        taken = {e.unit_prefix: n for n, e in EVALUATORS.items()}
        if cls.unit_prefix in taken:
            owner = taken[cls.unit_prefix]
            raise ValueError(f"evaluator {name!r}: unit prefix {cls.unit_prefix!r} is {owner!r}'s")
        EVALUATORS[name] = cls()
        return cls

    return register


def get_evaluator(name: str) -> Evaluator:
    if name not in EVALUATORS:
        raise KeyError(f"no evaluator {name!r}; known: {sorted(EVALUATORS)}")
    return EVALUATORS[name]


@dataclasses.dataclass(frozen=True)
class EvalUnit:
    """One evaluation of a stage: an evaluator on a task, on the split choice the
    config gives the task (`auto`, `test` or `dev`; the evaluator resolves it)."""

    evaluator: str
    task: str
    split: str = AUTO

    @property
    def name(self) -> str:
        """Its name in the study's folder and in its key (as every workdir has it)."""
        return get_evaluator(self.evaluator).unit_prefix + self.task

    @property
    def kind(self) -> Kind:
        return get_evaluator(self.evaluator).kind


def stage_units(stage: StageTasks, split_choice: Callable[[str], str]) -> list[EvalUnit]:
    """Every registered evaluator's units after `stage`, by name; `split_choice(task)`
    is the config's split choice for a task."""
    found = {
        EvalUnit(name, task, split_choice(task))
        for name, evaluator in EVALUATORS.items()
        for task in evaluator.tasks(stage)
    }
    return sorted(found, key=lambda u: u.name)


def score_language(
    task: str, predictions: Any, source: GoldSource, raw_dir: str, examples_dir: str | None
) -> LanguageScores:
    """Scores one language against its gold, writing its per-example statistics to
    `examples_dir/<split>-<lang>.npy` when given."""
    gold = source.load(task, raw_dir)
    ids, stats = example_stats(task, predictions, gold, lang=source.lang)
    return language_scores(task, source.lang, source.split, source.origin, ids, stats, examples_dir)


def language_scores(
    task: str,
    lang: str,
    split: str,
    gold: str,
    ids: list[str],
    stats: dict[str, np.ndarray],
    examples_dir: str | None,
) -> LanguageScores:
    """The scores of one language from its per-example statistics, written first to
    `examples_dir/<split>-<lang>.npy` when given (every evaluator's last step)."""
    path = None
    if examples_dir is not None:
        path = os.path.join(examples_dir, f"{split}-{lang}{EXAMPLES_SUFFIX}")
        write_examples(path, ids, stats)
    return LanguageScores(task, lang, split, gold, ids, stats, path)


def _fingerprint(files: tuple[str, ...]) -> str:
    return _hash_files(files, file_states(list(files)))


@functools.lru_cache(maxsize=4096)
def _hash_files(files: tuple[str, ...], _states: tuple) -> str:
    return files_fingerprint(list(files))


@register_evaluator("zero_shot")
class ZeroShot:
    """A target on its scored split, every language with gold; test predictions for
    submission. It also measures every stage's encoder on Tatoeba (alignment)."""

    unit_prefix = ""
    kind = Kind.ZERO_SHOT

    def tasks(self, stage: StageTasks) -> list[str]:
        return sorted({ALIGNMENT_TASK, *stage.targets})

    def inputs(self, task: str, raw_dir: str, labels_dir: str, split: str) -> list[Any]:
        plan = plan_evaluation(task, raw_dir, labels_dir, split)
        files = get_task(task).files
        data = [plan.split, sorted(plan.unscored)]
        data += [[s.lang, s.origin, _fingerprint(s.files)] for _, s in sorted(plan.scored.items())]
        data += [
            [lang, _fingerprint(tuple(files(raw_dir, "test", lang)))] for lang in plan.test_langs
        ]
        return data

    def run(
        self, model, task, raw_dir, labels_dir, split, *, examples_dir=None, submission_dir=None
    ) -> list[LanguageScores]:
        plan = plan_evaluation(task, raw_dir, labels_dir, split)
        predictor = model.predictor
        scores, test_predictions = [], {}
        for lang, source in plan.scored.items():
            predictions = predictor.predict(task, lang, raw_dir, split=plan.split)
            scores.append(score_language(task, predictions, source, raw_dir, examples_dir))
            if plan.split == "test":
                test_predictions[lang] = predictions
        if submission_dir is not None:
            for lang in plan.test_langs:
                if lang not in test_predictions:
                    test_predictions[lang] = predictor.predict(task, lang, raw_dir, split="test")
                if is_primary():
                    write_predictions(submission_dir, task, lang, test_predictions[lang], "test")
        return scores


@register_evaluator("dev")
class EnglishDev:
    """A task's English dev set, with gold from the raw folder only: every task trained
    so far on an intermediate path, with its own head on this encoder (forgetting)."""

    unit_prefix = "dev-"
    kind = Kind.DEV

    def tasks(self, stage: StageTasks) -> list[str]:
        return sorted({t for t in stage.trained if has_dev_score(t)}) if stage.intermediate else []

    def inputs(self, task: str, raw_dir: str, labels_dir: str, split: str) -> list[Any]:
        return [["dev", "en", files_fingerprint(get_task(task).files(raw_dir, "dev", "en"))]]

    def run(
        self, model, task, raw_dir, labels_dir, split, *, examples_dir=None, submission_dir=None
    ) -> list[LanguageScores]:
        spec = get_task(task)
        layout, files = spec.locate(raw_dir, "dev", "en") or (None, [])
        if layout is None or spec.gold(raw_dir, "dev", "en") is not None:
            return []  # forgetting is measured on dev gold only
        source = GoldSource("dev", "en", f"raw:{layout.name}", tuple(files))
        predictions = model.predictor.predict(spec.name, "en", raw_dir, split="dev")
        return [score_language(spec.name, predictions, source, raw_dir, examples_dir)]


def has_dev_score(task: str) -> bool:
    """Single tasks with a dev split whose format predicts with the task's own head
    (not mixtures, masked LM or retrieval, which score the encoder)."""
    return (
        task in TASKS
        and get_format(get_task(task).format).predicts_with_head
        and "dev" in get_task(task).splits
    )
