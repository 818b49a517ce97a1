"""The stage DAG: shared prefixes train once, ids are content hashes, shards partition it."""

import pytest

from train.study.plan.dag import StageDag, ordered_paths, target_stage_tasks
from xlmr_flax.tasks import TARGETS

NINE = "anli_plus mnli qqp sst2 squad_v2 hellaswag ccg cosmosqa commonsenseqa".split()


def build(paths, targets, seeds, hparams=lambda task: {"lr": 1e-5}):
    dag = StageDag("root")
    for seed in seeds:
        for path in paths:
            for target in targets:
                dag.add_sequence(path, target, seed, hparams)
    return dag


def test_paths_are_the_baseline_and_ordered_tuples():
    assert ordered_paths(["a", "b"], (1, 2)) == [(), ("a",), ("b",), ("a", "b"), ("b", "a")]
    assert len(ordered_paths(NINE, (1, 2))) == 82


def test_target_stages():
    assert target_stage_tasks("xcopa") == ("siqa", "copa")
    assert target_stage_tasks("tatoeba") == ("squad_v1",)  # XTREME-R: the SQuAD v1.1 model
    assert target_stage_tasks("xquad") == target_stage_tasks("mlqa") == ("squad_v1",)
    assert target_stage_tasks("lareqa") == ("lareqa",)  # a dual encoder, not the QA model
    with pytest.raises(ValueError, match="not a target"):
        target_stage_tasks("mnli")


def test_shared_prefixes_train_once():
    dag = build([("mnli", "squad_v1"), ("mnli",)], ["xnli", "udpos"], [0])
    a, b, c, _ = dag.sequences
    assert a.stages[:2] == b.stages[:2] and a.stages[-1] != b.stages[-1]
    assert c.stages[0] == a.stages[0]  # mnli alone is the prefix of mnli→squad
    assert len(dag.stages) == 2 + 2 + 2  # mnli, mnli→squad, 2 targets under each
    assert dag.naive_stage_runs() == 3 + 3 + 2 + 2


def test_ids_depend_on_parent_seed_and_hyperparameters():
    one = build([("mnli",)], ["xnli"], [0])
    assert set(build([("mnli",)], ["xnli"], [0]).stages) == set(one.stages)  # stable
    assert not set(build([("mnli",)], ["xnli"], [1]).stages) & set(one.stages)
    other_lr = build([("mnli",)], ["xnli"], [0], lambda task: {"lr": 2e-5})
    assert not set(other_lr.stages) & set(one.stages)
    order = build([("qqp", "mnli")], ["xnli"], [0])
    mnli_first = build([("mnli", "qqp")], ["xnli"], [0])
    assert not {s.id for s in order.stages.values() if s.task == "xnli"} & {
        s.id for s in mnli_first.stages.values() if s.task == "xnli"}  # fmt: skip


def test_full_study_counts():
    dag = build(ordered_paths(NINE, (1, 2)), TARGETS, range(3))
    # Tatoeba's SQuAD v1.1 stage is XQuAD's and MLQA's: 246 more runs, no more stages.
    assert dag.naive_stage_runs() == 7050 + 3 * 82
    assert len(dag.stages) == 2457  # 3 seeds × (81 intermediate + 82 paths × 9 target stages)


def test_parents_come_first_and_shards_partition_whole_subtrees():
    dag = build(
        ordered_paths(["mnli", "qqp", "sst2"], (1, 2)), ["xnli", "xcopa", "tatoeba"], [0, 1]
    )
    order = [s.id for s in dag.in_order()]
    assert sorted(order) == sorted(dag.stages)
    position = {sid: i for i, sid in enumerate(order)}
    assert all(
        position[s.parent] < position[s.id] for s in dag.stages.values() if s.parent != "root"
    )
    for count in (1, 2, 3, 7):
        shards = [dag.shard(i, count) for i in range(count)]
        ids = [s.id for shard in shards for s in shard]
        assert sorted(ids) == sorted(dag.stages)  # every stage exactly once
        owner = {s.id: i for i, shard in enumerate(shards) for s in shard}
        assert all(
            owner[s.id] == owner[s.parent] for s in dag.stages.values() if s.parent != "root"
        )
