"""A three-stage study for the end-to-end tests: MNLI → SQuAD v1.1 → the XQuAD target
stage (SQuAD again), evaluated on XQuAD and Tatoeba, one seed, tiny model."""

import ml_collections

from configs.smoke import get_config as smoke_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """ARG `two_stage`, `two_subtrees`: the smaller studies below."""
    if arg:
        return {"two_stage": two_stage_config, "two_subtrees": two_subtrees_config}[arg]()
    config = smoke_config()
    config.study.sequences = (("mnli", "squad_v1"),)
    config.study.include_baseline = False
    config.study.targets = ("xquad", "tatoeba")
    config.study.seeds = (0,)
    config.hparams.default.steps = 4
    config.hparams.default.checkpoint_every = 2
    return config


def two_stage_config() -> ml_collections.ConfigDict:
    """MNLI, then the XNLI target stage (MNLI again) and Tatoeba's SQuAD v1.1 stage;
    XNLI and Tatoeba evaluated."""
    config = get_config()
    config.study.sequences = (("mnli",),)
    config.study.targets = ("xnli", "tatoeba")
    config.hparams.default.steps = 2
    return config


def two_subtrees_config() -> ml_collections.ConfigDict:
    """Two independent subtrees, MNLI and SQuAD v1.1, each followed by the XNLI target
    stage (four stages); XNLI and Tatoeba evaluated; two steps a stage."""
    config = two_stage_config()
    config.study.sequences = (("mnli",), ("squad_v1",))
    config.study.targets = ("xnli",)
    return config
