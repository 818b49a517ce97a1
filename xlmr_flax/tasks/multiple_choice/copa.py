"""COPA, English (XCOPA's second training stage). Its test labels are not public:
the test split is prediction-only wherever it lies."""

from xlmr_flax.data.readers import read_copa_jsonl
from xlmr_flax.data.sources.copa import read_xtreme_copa
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

FILE = {"train": "train", "dev": "val", "test": "test"}
NO_TEST_LABELS = "COPA's test labels are not public"

TASK = register(
    Task(
        name="copa",
        train_examples=400,
        format="multiple_choice",
        source="SuperGLUE COPA/{train,val,test}.jsonl",
        metric="accuracy",
        hooks=ChoiceHooks(choices=2),
        splits=("train", "dev", "test"),
        layouts=(
            Layout(
                "original",  # SuperGLUE's COPA.zip
                paths=lambda split, lang: [f"COPA/{FILE[split]}.jsonl"],
                reader=read_copa_jsonl,
                no_gold={"test": NO_TEST_LABELS},
            ),
            Layout(
                "xtreme",  # COPA's files renamed; the test labels set to 0
                paths=lambda split, lang: [f"xcopa/{FILE[split]}-en.jsonl"],
                reader=read_xtreme_copa,
                no_gold={"test": NO_TEST_LABELS},
            ),
            Layout(
                "xtreme_early",
                paths=lambda split, lang: [f"xcopa/{FILE[split]}.en.jsonl"],
                reader=read_copa_jsonl,
                no_gold={"test": NO_TEST_LABELS},
            ),
            Layout(
                "project",  # what `python -m xlmr_flax.data fetch` writes; the sample data
                paths=lambda split, lang: [f"copa/{FILE[split]}.jsonl"],
                reader=read_copa_jsonl,
                splits=("train", "dev"),
            ),
        ),
    )
)
