"""Social IQa (XCOPA's first training stage)."""

from xlmr_flax.data.readers import read_siqa
from xlmr_flax.data.sources.siqa import read_siqa_v14
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

V14 = {"train": "trn", "dev": "dev", "test": "tst"}

TASK = register(
    Task(
        name="siqa",
        train_examples=33_410,
        format="multiple_choice",
        source="Social IQa (AI2's socialiqa-train-dev.zip; socialIQa_v1.4.tgz)",
        metric="accuracy",
        hooks=ChoiceHooks(choices=3),
        splits=("train", "dev", "test"),
        layouts=(
            Layout(
                "original",  # AI2's zip: examples plus a labels file, 1-3 per line
                paths=lambda split, lang: [
                    f"socialiqa-train-dev/{split}.jsonl",
                    f"socialiqa-train-dev/{split}-labels.lst",
                ],
                reader=read_siqa,
                splits=("train", "dev"),
            ),
            Layout(
                "xtreme",  # socialIQa_v1.4.tgz unpacked in siqa/: the answer letter in `correct`
                paths=lambda split, lang: [f"siqa/socialIQa_v1.4_{V14[split]}.jsonl"],
                reader=read_siqa_v14,
            ),
            Layout(
                "project",  # AI2's files in siqa/ (the sample data)
                paths=lambda split, lang: [f"siqa/{split}.jsonl", f"siqa/{split}-labels.lst"],
                reader=read_siqa,
                splits=("train", "dev"),
            ),
        ),
    )
)
