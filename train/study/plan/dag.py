"""The stage DAG: sequences of stages that share prefixes share their stages.

A stage is (task, hyperparameters, seed) trained on top of its parent. Its id
hashes exactly what its weights depend on: the parent's id, the task and its
training data's fingerprint, the seed and the typed hyperparameters (not how the
run goes: checkpoint and log cadence stay out). So `A→B→T1` and `A→B→T2` share
the stages `A` and `A→B`: each distinct prefix trains once per seed. The root is
the pretrained model; its id hashes its weights' and its tokenizer's content
(train/study/plan/identity.py). ID_SCHEME names this scheme in every workdir.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xlmr_flax.tasks import get_task

ROOT = "root"
ID_SCHEME = 2  # 1: ids of names and every hparams key (before workdir.json existed)


def stable_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class Stage:
    id: str
    parent: str  # a stage id, or the root's id
    task: str
    seed: int
    hparams: Any  # train.hparams.Hyperparameters (hashable), or a mapping in tests
    depth: int  # 1 for the first stage on the pretrained model
    data: tuple[tuple[str, str | None], ...] = ()  # (task, training data fingerprint)


@dataclasses.dataclass(frozen=True)
class StageSequence:
    """One experiment: intermediate path → target stage(s) → evaluation, for one seed."""

    path: tuple[str, ...]  # intermediate tasks, in order
    target: str
    seed: int
    stages: tuple[str, ...]  # stage ids in training order

    @property
    def evaluated_stage(self) -> str | None:
        """The stage whose model is evaluated (None: the pretrained model itself)."""
        return self.stages[-1] if self.stages else None


def ordered_paths(tasks: Sequence[str], orders: Iterable[int], baseline: bool = True):
    """The baseline (no intermediate task) and every ordered k-tuple of distinct tasks."""
    paths = [()] if baseline else []
    for k in orders:
        paths += list(itertools.permutations(tasks, k))
    return paths


# Targets without training data of their own that XTREME-R scores with another
# task's model: Tatoeba embeds its sentences with the SQuAD v1.1 question-answering
# model (Ruder et al., 2021, XTREME-R, fine-tune on SQuAD v1.1 before retrieval;
# google-research/xtreme scripts/run_tatoeba.sh loads that model), so each path's
# Tatoeba score comes from its path→squad_v1 stage, shared with XQuAD and MLQA. The
# encoder at the end of the path is still measured by every stage's alignment unit.
SCORED_WITH = {"tatoeba": "squad_v1"}


def target_stage_tasks(target: str) -> tuple[str, ...]:
    """The training stages of a target: SIQA then COPA for XCOPA, SQuAD v1.1 for
    Tatoeba (`SCORED_WITH`).

    A target trained on another task's data in the same format shares that task's
    stage (XQuAD and MLQA both evaluate the SQuAD v1.1 model, and so does Tatoeba); a
    target whose format differs from its data's (LAReQA: a dual encoder on SQuAD) has
    a stage of its own.
    """
    task = get_task(target)
    if not task.is_target:
        raise ValueError(f"{target!r} is not a target task")
    if target in SCORED_WITH:
        return (SCORED_WITH[target],)
    if len(task.train_on) != 1:
        return task.train_on
    source = get_task(task.train_on[0])
    return (source.name,) if source.format == task.format else (target,)


def hparams_dict(hparams: Any) -> Any:
    if hasattr(hparams, "identity"):
        return hparams.identity()
    return dict(hparams)


def _hashable(hparams: Any) -> Any:
    return hparams if hasattr(hparams, "identity") else tuple(sorted(dict(hparams).items()))


class StageDag:
    def __init__(self, root: str | Mapping[str, Any]):
        """`root`: the pretrained model's identity (train/study/plan/identity.py), or an id."""
        if isinstance(root, str):
            self.root, self.root_identity, self.resolved = root, {"id": root}, True
        else:
            from train.study.plan.identity import is_resolved

            self.root = stable_hash({"scheme": ID_SCHEME, "pretrained": dict(root)})
            self.root_identity, self.resolved = dict(root), is_resolved(root)
        self.stages: dict[str, Stage] = {}
        self.sequences: list[StageSequence] = []
        self._children: dict[str, list[Stage]] | None = None  # by parent, built on demand

    def _add(self, parent: str, task: str, seed: int, hparams: Any, data: Mapping) -> str:
        data_items = tuple(sorted(data.items()))
        stage_id = stable_hash(
            {
                "scheme": ID_SCHEME,
                "parent": parent,
                "task": task,
                "data": dict(data_items),
                "seed": seed,
                "hparams": hparams_dict(hparams),
            }
        )
        depth = 1 if parent == self.root else self.stages[parent].depth + 1
        stage = Stage(stage_id, parent, task, seed, _hashable(hparams), depth, data_items)
        if stage_id not in self.stages:
            self.stages[stage_id] = stage
            self._children = None
        return stage_id

    def add_sequence(self, path, target, seed, hparams_of, data_of=lambda task: {}):
        """`hparams_of(task)`: the stage's hyperparameters; `data_of(task)`: its training
        data's fingerprint per task (a mixture has several)."""
        parent, ids = self.root, []
        for task in (*path, *target_stage_tasks(target)):
            parent = self._add(parent, task, seed, hparams_of(task), data_of(task))
            ids.append(parent)
        sequence = StageSequence(tuple(path), target, seed, tuple(ids))
        self.sequences.append(sequence)
        return sequence

    def identity(self) -> str:
        """The study's identity: the root, every stage and every sequence."""
        return stable_hash(
            {
                "scheme": ID_SCHEME,
                "root": self.root,
                "stages": sorted(self.stages),
                "sequences": [[list(s.path), s.target, s.seed] for s in self.sequences],
            }
        )

    def children(self, stage_id: str) -> list[Stage]:
        if self._children is None:  # one pass: a scan per call made planning quadratic
            index: dict[str, list[Stage]] = {}
            for s in self.stages.values():
                index.setdefault(s.parent, []).append(s)
            for found in index.values():
                found.sort(key=lambda s: (s.seed, s.task, s.id))
            self._children = index
        return list(self._children.get(stage_id, ()))

    def in_order(self) -> list[Stage]:
        """Every stage after its parent (children in id order)."""
        ordered, stack = [], [self.root]
        while stack:
            for child in reversed(self.children(stack.pop())):
                ordered.append(child)
                stack.append(child.id)
        return ordered

    def subtree(self, stage_id: str) -> list[Stage]:
        out, stack = [], [stage_id]
        while stack:
            current = stack.pop()
            out.append(self.stages[current])
            stack += [c.id for c in self.children(current)]
        return out

    def shard(self, index: int, count: int) -> list[Stage]:
        """A disjoint part of the DAG made of whole subtrees of the root's children,
        balanced by stage count (largest first onto the smallest shard)."""
        if not 0 <= index < count:
            raise ValueError(f"shard {index}/{count}: expected 0 <= I < N")
        loads, assignment = [0] * count, {}
        subtrees = sorted(
            (self.subtree(c.id) for c in self.children(self.root)), key=lambda t: (-len(t), t[0].id)
        )
        for tree in subtrees:
            target = loads.index(min(loads))
            loads[target] += len(tree)
            assignment[tree[0].id] = target
        mine = {
            s.id
            for first, shard in assignment.items()
            if shard == index
            for s in self.subtree(first)
        }
        return [s for s in self.in_order() if s.id in mine]

    def naive_stage_runs(self) -> int:
        return sum(len(s.stages) for s in self.sequences)
