"""The CPU smoke experiment on the bundled sample data.

    python -m train --config configs/smoke.py --workdir runs/smoke

configs/base.py's tiny branch: a tiny random XLM-R, the bundled sentencepiece tokenizer
and the bundled sample data of every task (ten languages, six scripts, Swahili and
Marathi as the low-resource ones): MNLI and SQuAD v1.1 in both orders, each alone and
the baseline, all ten XTREME-R targets, two seeds, on 8 emulated CPU devices; every
stage trains 8 steps.

ARG `quick` (`configs/smoke.py:quick`): only the baseline and both orders of the
pair, three targets (a classification, a QA and the alignment task), one seed.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    quick = base.parse_arg(arg, quick=bool).get("quick", False)
    config = base.get_config()
    base.tiny(config)
    config.study.intermediate_tasks = ("mnli", "squad_v1")
    config.study.seeds = (0, 1)
    # A learning rate high enough that 8 steps move the tiny model: at 1e-4 the two
    # orders' small updates commuted and left identical scores on every target (an
    # ordering effect of exactly 0 with zero-width intervals); at 3e-3 they differ.
    config.hparams = ml_collections.ConfigDict(
        dict(default=dict(learning_rate=3e-3, steps=8, batch_size=8, max_length=64, warmup=0.1))
    )
    # The report at the end of the run (eval.report.write_report).
    config.report = ml_collections.ConfigDict(dict(n_boot=1000, seed=0))
    if quick:
        config.study.orders = (2,)
        config.study.targets = ("xnli", "xquad", "tatoeba")
        config.study.seeds = (0,)
    return config
