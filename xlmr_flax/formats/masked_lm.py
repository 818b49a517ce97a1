"""Masked LM (an intermediate task on raw text): lines of text, masked at batching.

Features are each line's token ids; masks are drawn per batch from (seed, step)
(`batching.mask_tokens`), so a resumed run masks the same tokens. Nothing is
predicted or scored.
"""

from __future__ import annotations

from xlmr_flax.data import features as F
from xlmr_flax.formats.base import Format, register_format, sequence_batch


class MaskedLM(Format):
    name = "masked_lm"
    head = "masked_lm"
    predicts_with_head = False

    def featurize(self, task, split, examples, raw_dir, tokenizer, max_length, **kw):
        return F.masked_lm_text(examples, tokenizer, max_length)

    def masking(self, tokenizer) -> tuple[int, int]:
        return tokenizer.mask_token_id, len(tokenizer)

    def batch_shapes(self, rows: int, length: int, choices: int) -> dict[str, tuple[int, ...]]:
        return sequence_batch(rows, length, labels=(rows, length))  # a label per token

    def gold(self, task, lang: str, raw_dir: str, split: str):
        raise ValueError(f"task {task.name}: masked-LM text has no gold labels to score")


FORMAT = register_format(MaskedLM())
