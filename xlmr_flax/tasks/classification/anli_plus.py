"""ANLI+ (intermediate): ANLI, MultiNLI and SNLI together, as in the original study."""

import itertools

from xlmr_flax.data.readers import NLI_LABELS, read_anli_jsonl, read_glue_tsv, read_snli_jsonl
from xlmr_flax.tasks.base import Layout, Task, register


def _paths(split, lang):
    mnli = "train" if split == "train" else "dev_matched"
    return [f"anli/R1/{split}.jsonl", f"mnli/{mnli}.tsv", f"snli/snli_1.0_{split}.jsonl"]


def _read(anli, mnli, snli):
    tagged = [
        ({**e, "id": f"{name}-{e['id']}"} for e in examples)
        for name, examples in [
            ("anli", read_anli_jsonl(anli)),
            ("mnli", read_glue_tsv(mnli, "sentence1", "sentence2", "gold_label", NLI_LABELS)),
            ("snli", read_snli_jsonl(snli)),
        ]
    ]
    return itertools.chain(*tagged)


TASK = register(
    Task(
        name="anli_plus",
        format="classification",
        source="ANLI R1 + MultiNLI + SNLI",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=(
            Layout(
                "project",
                paths=_paths,
                reader=_read,
            ),
        ),
    )
)
