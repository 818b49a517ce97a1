"""The mean padded length of each training task's batches, as the trainer pads them,
measured on a sample of its English training data with the study's tokenizer.

The data is read before the tokenizer is asked for, so a study whose data is absent
never waits on the model hub; a hub tokenizer that is neither cached nor reachable
(no network, HF_HUB_OFFLINE) is reported in one line, and every length is then
counted at its maximum, an upper bound the plan names.
"""

from __future__ import annotations

import random
from typing import Any

from train.hparams import stage_tasks
from train.study.plan.dag import StageDag, hparams_dict
from xlmr_flax.data.batching import TrainBatches
from xlmr_flax.data.cache import featurize
from xlmr_flax.errors import DataError
from xlmr_flax.formats import get_format
from xlmr_flax.tasks import get_task
from xlmr_flax.tokenizer import load_tokenizer, sample_tokenizer_path

LENGTH_SAMPLE = 2048  # training examples per task featurised to measure padded lengths


def training_sample(config, task) -> list | None:
    """Up to LENGTH_SAMPLE English training examples of `task`; None when absent."""
    try:
        examples = list(task.data_task("train").read(config.raw_data, "train", "en"))
    except (OSError, DataError, ValueError):
        return None
    if len(examples) > LENGTH_SAMPLE:  # files are often ordered (by topic, by length)
        examples = random.Random(0).sample(examples, LENGTH_SAMPLE)
    return examples


def padded_length(config, task, tokenizer, examples, max_length: int, batch_size: int):
    """(mean, longest) tokens per sequence of `examples`' batches, batched as the
    trainer batches them; None with fewer examples than one batch."""
    kw = get_format(task.format).feature_kwargs(config.get("eval") or {})  # as the trainer
    features = featurize(
        task, "train", "en", config.raw_data, tokenizer, max_length, examples=examples, **kw
    )
    if len(features) < batch_size:
        return None
    loader = TrainBatches(features, batch_size, seed=0, max_length=max_length)
    lengths = [loader.batch(s)["input_ids"].shape[-1] for s in range(loader.steps_per_epoch)]
    return sum(lengths) / len(lengths), max(lengths)


Lengths = dict[tuple[str, int], float]  # by (task, maximum length)


def measured_lengths(config, dag: StageDag) -> tuple[Lengths, Lengths, str]:
    """(mean padded length, longest batch's length) of every task whose data is
    present, and what the rest assumed. The tokenizer is loaded once, for the first
    task with data."""
    tokenizer: Any = None
    lengths: Lengths = {}
    longest: Lengths = {}
    absent: list[str] = []
    seen: set[tuple[str, int]] = set()
    for stage in dag.in_order():
        hp = hparams_dict(stage.hparams)
        key = (stage_tasks(stage.task)[0], hp["max_length"])
        if key in seen or key[0] in absent:
            continue
        seen.add(key)
        task = get_task(key[0])
        examples = training_sample(config, task)
        if examples is None:
            absent.append(key[0])
            continue
        if tokenizer is None:
            name = config.tokenizer or sample_tokenizer_path()
            try:
                tokenizer = load_tokenizer(name)
            except (OSError, ValueError) as err:
                return {}, {}, f"{err}"
        measured = padded_length(config, task, tokenizer, examples, key[1], hp["batch_size"])
        if measured is not None:
            lengths[key], longest[key] = measured
    if absent:
        return lengths, longest, f"training data absent for {', '.join(sorted(absent))}"
    return lengths, longest, "" if lengths else "fewer training examples than one batch"
