"""The evaluations a study makes: each stage's evaluation units (typed, chosen by the
registered evaluators of `eval.evaluators`) from the stage DAG and the config.

After a stage trains, its model is evaluated on every target task whose sequences
end at this stage (zero-shot, every language), on Tatoeba-style retrieval on the
encoder (cross-lingual alignment of every stage; Tatoeba's zero-shot score on each
path's SQuAD v1.1 stage), and on the English dev set of each intermediate task on the
path so far (forgetting). The planner costs these units and compile-only compiles
them; the run (train/study/run/units.py) evaluates them.
"""

from __future__ import annotations

from eval.evaluators import ALIGNMENT_TASK, EvalUnit, StageTasks, stage_units
from eval.scoring.gold import AUTO
from train.study.plan.dag import StageDag


def stage_path(dag: StageDag, stage_id: str) -> list[str]:
    """The tasks trained from the pretrained model up to and including `stage_id`."""
    tasks = []
    while stage_id != dag.root:
        stage = dag.stages[stage_id]
        tasks.append(stage.task)
        stage_id = stage.parent
    return tasks[::-1]


def intermediate_stages(dag: StageDag) -> set[str]:
    return {i for s in dag.sequences for i in s.stages[: len(s.path)]}


def stage_tasks_of(dag: StageDag, stage_id: str) -> StageTasks:
    """What the stage (or the root: the pretrained model) offers its evaluators."""
    targets = {s.target for s in dag.sequences if (s.evaluated_stage or dag.root) == stage_id}
    return StageTasks(
        trained=tuple(stage_path(dag, stage_id)),
        targets=tuple(sorted(targets)),
        intermediate=stage_id in intermediate_stages(dag),
    )


def units(config, dag: StageDag, stage_id: str) -> list[EvalUnit]:
    """The evaluation units of a stage (or of the root: the pretrained model), by name."""
    return stage_units(stage_tasks_of(dag, stage_id), lambda task: eval_split_choice(config, task))


def alignment_unit(config) -> EvalUnit:
    """The unit every stage's encoder is measured on (its records: `alignment`)."""
    return EvalUnit("zero_shot", ALIGNMENT_TASK, eval_split_choice(config, ALIGNMENT_TASK))


def target_unit(config, target: str) -> EvalUnit:
    return EvalUnit("zero_shot", target, eval_split_choice(config, target))


def eval_split_choice(config, task: str) -> str:
    """The config's evaluation split for `task` (`eval.split.<task>`, default auto)."""
    return (config.get("eval") or {}).get("split", {}).get(task, AUTO)
