"""Batch order is a pure function of (seed, step): resume anywhere, split across hosts."""

import itertools

import numpy as np
import pytest

from xlmr_flax.data.batching import TrainBatches, eval_batches
from xlmr_flax.data.cache import cached_features
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

from .test_data_readers import SAMPLE


def synthetic_features(count=50, seed=0):
    rng = np.random.RandomState(seed)
    return [dict(id=str(i), input_ids=np.arange(rng.randint(3, 40), dtype=np.int32) + 5, label=i % 3)
            for i in range(count)]  # fmt: skip


def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_a_loader_started_at_step_k_yields_what_a_fresh_one_yields_from_k():
    features = synthetic_features()
    fresh = list(itertools.islice(TrainBatches(features, 8, seed=3)(), 20))  # spans 3+ epochs
    for k in (0, 1, 5, 6, 13):
        resumed = list(itertools.islice(TrainBatches(features, 8, seed=3)(start_step=k), 20 - k))
        for a, b in zip(resumed, fresh[k:], strict=True):
            same(a, b)


def test_each_epoch_is_a_new_permutation_and_seeds_differ():
    features = synthetic_features()
    loader = TrainBatches(features, 8, seed=3)
    epoch0 = [loader.batch(s)["labels"] for s in range(loader.steps_per_epoch)]
    epoch1 = [
        loader.batch(s)["labels"] for s in range(loader.steps_per_epoch, 2 * loader.steps_per_epoch)
    ]
    assert not all(np.array_equal(a, b) for a, b in zip(epoch0, epoch1, strict=True))
    other = TrainBatches(features, 8, seed=4)

    def lengths(batches, step):
        return batches.batch(step)["attention_mask"].sum(1).tolist()

    assert [lengths(other, s) for s in range(3)] != [lengths(loader, s) for s in range(3)]


def test_batches_are_length_bucketed_and_padded_to_a_multiple():
    loader = TrainBatches(synthetic_features(200), 8, seed=0, bucket_batches=25, length_multiple=16)
    for step in range(loader.steps_per_epoch):
        batch = loader.batch(step)
        assert batch["input_ids"].shape[1] % 16 == 0
        lengths = batch["attention_mask"].sum(1)
        assert lengths.max() - lengths.min() < 16  # sorted within the window: similar lengths


def test_hosts_get_disjoint_slices_of_the_global_batch():
    features = synthetic_features()
    whole = TrainBatches(features, 8, seed=1).batch(4)
    parts = [
        TrainBatches(features, 8, seed=1, process_index=i, process_count=2).batch(4)
        for i in range(2)
    ]
    np.testing.assert_array_equal(np.concatenate([p["labels"] for p in parts]), whole["labels"])


def test_eval_batches_have_one_shape_per_bucket_and_weight_padding_zero():
    features = synthetic_features(21)
    seen = []
    shapes = set()
    for indices, batch in eval_batches(features, 4, bucket_lengths=(16, 32, 48)):
        shapes.add(batch["input_ids"].shape)
        weights = batch["example_weight"]
        assert weights.sum() == len(indices)
        seen += list(indices)
    assert sorted(seen) == list(range(21))
    assert shapes <= {(4, 16), (4, 32), (4, 48)}


def test_multiple_choice_batches_are_batch_by_choices_by_length(tmp_path):
    tokenizer = load_tokenizer(sample_tokenizer_path())
    features = cached_features(
        get_task("copa"), "train", "en", SAMPLE, tokenizer, 64, str(tmp_path)
    )
    batch = TrainBatches(features, 4, seed=0).batch(0)
    assert batch["input_ids"].shape[:2] == (4, 2) and batch["labels"].shape == (4,)


def test_mixture_rates_and_resumable_task_sequence():
    from xlmr_flax.data.mixture import MixtureBatches, mixture_rates

    sizes = {"mnli": 300, "sst2": 100, "qqp": 10_000}
    assert mixture_rates(sizes)["qqp"] == pytest.approx(10_000 / 10_400)
    assert mixture_rates(sizes, "capped", cap=300) == pytest.approx(
        {"mnli": 0.3 / 0.7, "qqp": 0.3 / 0.7, "sst2": 0.1 / 0.7}
    )
    assert mixture_rates(sizes, "uniform")["sst2"] == pytest.approx(1 / 3)
    loaders = {
        name: TrainBatches(synthetic_features(40, seed=i), 4, seed=i)
        for i, name in enumerate(sizes)
    }
    mixture = MixtureBatches(loaders, mixture_rates(sizes, "uniform"), seed=0)
    drawn = [mixture.task_at(s) for s in range(60)]
    for name in sizes:  # each task's own batches are taken in order 0, 1, 2, ...
        assert [p for n, p in drawn if n == name] == list(range(sum(n == name for n, _ in drawn)))
    name, batch = mixture.batch(37)
    same(batch, loaders[name].batch(drawn[37][1]))


def test_masked_lm_batches_mask_real_tokens_reproducibly():
    features = [
        dict(id=str(i), input_ids=np.array([0, *range(10, 60), 2], np.int32)) for i in range(16)
    ]
    loader = TrainBatches(features, 8, seed=0, masking=(1247, 1248))
    batch = loader.batch(3)
    targets = batch["labels"] != -100
    assert 0.08 < targets.mean() < 0.25
    assert not targets[:, 0].any() and not targets[:, 51].any()  # <s> and </s> never masked
    assert (batch["input_ids"][targets] == 1247).mean() > 0.6
    same(batch, TrainBatches(features, 8, seed=0, masking=(1247, 1248)).batch(3))
