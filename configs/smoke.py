"""The CPU smoke experiment on the bundled sample data.

    python -m train --config configs/smoke.py --workdir runs/smoke

Tiny random XLM-R, the bundled sentencepiece tokenizer and parallel sample text
in ten languages (six scripts, Swahili as the low-resource language).
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Named size from xlmr_flax.config; its vocabulary is resized to the tokenizer.
    config.model = "tiny"
    # A transformers checkpoint (directory or hub name) to start from; empty: a
    # random model of `config.model`, written in transformers format first.
    config.init_checkpoint = ""
    config.tokenizer = ""  # empty: the bundled sample tokenizer
    config.alignment = ml_collections.ConfigDict(
        dict(reference_lang="en", layer=-1, pooling="mean", max_length=64, batch_size=8)
    )
    return config
