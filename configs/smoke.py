"""The CPU smoke experiment on the bundled sample data.

    python -m train --config configs/smoke.py --workdir runs/smoke

Tiny random XLM-R, the bundled sentencepiece tokenizer and the bundled sample
data of every task (ten languages, six scripts, Swahili and Marathi as the
low-resource ones): MNLI and SQuAD v1.1 in both orders, each alone and the
baseline, all ten XTREME-R targets, two seeds, on 8 emulated CPU devices.

ARG `quick` (`configs/smoke.py:quick`): only the baseline and both orders of the
pair, three targets (a classification, a QA and the alignment task), one seed.

ARG `adaptive` (`configs/smoke.py:adaptive`): an adaptive study (docs/adaptive.md) of
the pair's two orders on the targets with a low-resource language, seeds in rounds.
"""

import ml_collections

from configs.common import design_block, tiny_eval
from xlmr_flax.data import sample_data_dir
from xlmr_flax.tasks import TARGETS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Named size from xlmr_flax.config; its vocabulary is resized to the tokenizer.
    config.model = "tiny"
    # A transformers checkpoint (directory or hub name) to start from; empty: a
    # random model of `config.model`, written in transformers format first.
    config.init_checkpoint = ""
    config.tokenizer = ""  # empty: the bundled sample tokenizer
    config.raw_data = sample_data_dir()
    # The study: intermediate paths × targets × seeds (see train/study/plan/plan.py).
    config.study = ml_collections.ConfigDict(
        dict(
            intermediate_tasks=("mnli", "squad_v1"),
            orders=(1, 2),  # each task alone, and both orders of the pair
            include_baseline=True,  # no intermediate task
            sequences=(),  # explicit paths instead of orders, e.g. (("mnli", "squad_v1"),)
            targets=TARGETS,
            seeds=(0, 1),
        )
    )
    # A learning rate high enough that 8 steps move the tiny model: at 1e-4 the two
    # orders' small updates commuted and left identical scores on every target (an
    # ordering effect of exactly 0 with zero-width intervals); at 3e-3 they differ.
    config.hparams = ml_collections.ConfigDict(
        dict(default=dict(learning_rate=3e-3, steps=8, batch_size=8, max_length=64, warmup=0.1))
    )
    config.eval = tiny_eval()
    # The report at the end of the run (eval.report.write_report).
    config.report = ml_collections.ConfigDict(dict(n_boot=1000, seed=0))
    config.mesh = (-1, 1, 1)  # (data, fsdp, tensor); -1: the remaining devices
    config.cpu_devices = 8  # emulated on a CPU-only machine; ignored by accelerators
    if arg == "quick":
        config.study.orders = (2,)
        config.study.targets = ("xnli", "xquad", "tatoeba")
        config.study.seeds = (0,)
    elif arg == "adaptive":
        config.study.orders = (2,)
        config.study.include_baseline = False
        config.study.targets = ("xnli", "panx", "tatoeba")
        config.study.seeds = (0, 1, 2, 3, 4)
        # The pre-registered design (configs/common.py, design_block), recorded
        # before the first look; delta in score points: the sample test sets are tiny.
        # No futility stop: the run shows a comparison carried through every round.
        config.design = design_block("adaptive", delta=5.0, looks=(3, 4, 5), futility=0.0)
    elif arg:
        raise ValueError(
            f"configs/smoke.py: unknown argument {arg!r}; expected 'quick', 'adaptive' or none"
        )
    return config
