"""Batches whose order is a pure function of (seed, step).

A loader can therefore start at any step and yields exactly what an
uninterrupted loader would from there: resuming needs only the step number.
Training batches are bucketed by length within a window of the epoch's
shuffled order; evaluation batches are sorted by length and padded to a few
fixed lengths, with `example_weight` 0 on padding examples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from xlmr_flax.data.features import IGNORE, Feature

PAD_ID = 1  # XLM-R's <pad>


def round_up(length: int, multiple: int) -> int:
    return -(-length // multiple) * multiple


def _pad_ids(sequences: Sequence[np.ndarray], rows: int, length: int) -> np.ndarray:
    ids = np.full((rows, length), PAD_ID, np.int32)
    for i, seq in enumerate(sequences):
        n = min(len(seq), length)
        ids[i, :n] = seq[:n]
    return ids


def pad_batch(
    features: Sequence[Feature], length: int, pad_to: int | None = None
) -> dict[str, np.ndarray]:
    """Stacks features into arrays of `length` tokens (`input_ids`, `attention_mask`, plus
    per-token and per-example fields), adding zero-weight rows up to `pad_to` examples."""
    rows = len(features) if pad_to is None else pad_to
    out = {"input_ids": _pad_ids([f["input_ids"] for f in features], rows, length)}
    out["attention_mask"] = (out["input_ids"] != PAD_ID).astype(np.int32)
    if features and "candidate_input_ids" in features[0]:  # dual-encoder pairs
        candidates = [f["candidate_input_ids"] for f in features]
        out["candidate_input_ids"] = _pad_ids(candidates, rows, length)
        out["candidate_attention_mask"] = (out["candidate_input_ids"] != PAD_ID).astype(np.int32)
    for name in ("labels", "word_ids"):  # per-token
        if features and name in features[0]:
            out[name] = np.full((rows, length), IGNORE, np.int32)
            for i, f in enumerate(features):
                n = min(len(f[name]), length)
                out[name][i, :n] = f[name][:n]
    # Per-example targets, under the names the losses read.
    for name, key in (("label", "labels"), ("start_position", "start_positions"),
                      ("end_position", "end_positions")):  # fmt: skip
        if features and name in features[0]:
            out[key] = np.zeros(rows, np.int32)
            out[key][: len(features)] = [f[name] for f in features]
    out["example_weight"] = (np.arange(rows) < len(features)).astype(np.float32)
    return out


def mask_tokens(
    batch: dict[str, np.ndarray],
    rng: np.random.Generator,
    mask_token_id: int,
    vocab_size: int,
    probability: float = 0.15,
) -> dict[str, np.ndarray]:
    """BERT/XLM-R masking: 15 % of real tokens become targets; of those 80 % turn into
    <mask>, 10 % into a random token, 10 % stay. Specials (<s>, </s>) are never chosen."""
    ids = batch["input_ids"]
    special = (ids == PAD_ID) | (ids <= 3) | (ids == mask_token_id)
    chosen = (rng.random(ids.shape) < probability) & ~special
    action = rng.random(ids.shape)
    masked = np.where(chosen & (action < 0.8), mask_token_id, ids)
    random_ids = rng.integers(4, vocab_size - 1, ids.shape)
    masked = np.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
    labels = np.where(chosen, ids, IGNORE).astype(np.int32)
    return {**batch, "input_ids": masked.astype(np.int32), "labels": labels}


class TrainBatches:
    """`batch(step)` for any step; iterating from `start_step` gives the same batches.

    Each epoch shuffles with `(seed, epoch)`; within windows of `bucket_batches`
    batches, examples are sorted by length so a batch pads little, and the window's
    batches are shuffled again. The last incomplete batch of an epoch is dropped.
    `process_index / process_count` select this host's rows of each global batch.
    """

    def __init__(
        self,
        features: Sequence[Feature],
        global_batch_size: int,
        seed: int,
        *,
        bucket_batches: int = 32,
        length_multiple: int = 16,
        max_length: int | None = None,
        process_index: int = 0,
        process_count: int = 1,
        masking: tuple[int, int] | None = None,
    ):
        if global_batch_size % process_count:
            raise ValueError(
                f"batch {global_batch_size} does not split over {process_count} processes"
            )
        self.steps_per_epoch = len(features) // global_batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{len(features)} examples are fewer than one batch of {global_batch_size}"
            )
        self.features, self.batch_size, self.seed = features, global_batch_size, seed
        self.bucket_batches, self.length_multiple, self.max_length = (
            bucket_batches,
            length_multiple,
            max_length,
        )
        self.rows = slice(
            process_index * global_batch_size // process_count,
            (process_index + 1) * global_batch_size // process_count,
        )
        self._epoch, self._plan = None, None
        self.masking = masking  # (mask token id, vocabulary size) for masked-LM

    def _epoch_plan(self, epoch: int) -> list[np.ndarray]:
        if self._epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.features))[: self.steps_per_epoch * self.batch_size]
            window = self.bucket_batches * self.batch_size
            batches = []
            for start in range(0, len(order), window):
                chunk = order[start : start + window]
                chunk = chunk[np.argsort([len(self._ids(i)) for i in chunk], kind="stable")]
                group = [
                    chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)
                ]
                batches += [group[k] for k in rng.permutation(len(group))]
            self._epoch, self._plan = epoch, batches
        return self._plan

    def _ids(self, index: int):
        f = self.features[index]
        return f["input_ids"] if "input_ids" in f else f["choices"][0]

    def batch(self, step: int) -> dict[str, np.ndarray]:
        epoch, position = divmod(step, self.steps_per_epoch)
        indices = self._epoch_plan(epoch)[position][self.rows]
        chosen = [self.features[i] for i in indices]
        if "choices" in chosen[0]:
            return multiple_choice_batch(chosen, self.length_multiple, self.max_length)
        longest = max(len(self._ids(i)) for i in self._epoch_plan(epoch)[position])
        length = round_up(longest, self.length_multiple)
        batch = pad_batch(chosen, min(length, self.max_length or length))
        if self.masking:  # masks drawn from (seed, step): the same on a resumed run
            rng = np.random.default_rng([self.seed, step, self.rows.start])
            batch = mask_tokens(batch, rng, *self.masking)
        return batch

    def __call__(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
        step = start_step
        while True:
            yield self.batch(step)
            step += 1


def multiple_choice_batch(features: Sequence[Feature], multiple: int, max_length: int | None):
    """[batch, choices, length] arrays; every example must have the same number of choices."""
    counts = {len(f["choices"]) for f in features}
    if len(counts) != 1:
        raise ValueError(
            f"examples with different numbers of choices in one batch: {sorted(counts)}"
        )
    longest = max(len(c) for f in features for c in f["choices"])
    length = min(round_up(longest, multiple), max_length or longest + multiple)
    flat = [dict(input_ids=c) for f in features for c in f["choices"]]
    out = pad_batch(flat, length)
    shape = (len(features), counts.pop(), length)
    return {
        "input_ids": out["input_ids"].reshape(shape),
        "attention_mask": out["attention_mask"].reshape(shape),
        "labels": np.asarray([f["label"] for f in features], np.int32),
        "example_weight": np.ones(len(features), np.float32),
    }


def eval_batches(
    features: Sequence[Feature], batch_size: int, bucket_lengths: Sequence[int]
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(feature indices, batch) in length order, each padded to the smallest bucket length
    that fits and to `batch_size` rows, so there is one compiled shape per bucket."""
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    buckets = sorted(bucket_lengths)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        longest = max(len(features[i]["input_ids"]) for i in indices)
        length = next((b for b in buckets if b >= longest), buckets[-1])
        yield indices, pad_batch([features[i] for i in indices], length, pad_to=batch_size)
