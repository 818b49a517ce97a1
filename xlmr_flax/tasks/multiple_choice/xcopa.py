"""XCOPA (target): causal commonsense; trained on English SIQA, then COPA."""

from xlmr_flax.data.readers import read_copa_jsonl
from xlmr_flax.data.sources.copa import read_xtreme_copa
from xlmr_flax.formats.multiple_choice import ChoiceHooks
from xlmr_flax.tasks.base import Layout, Task, register

FILE = {"dev": "val", "test": "test"}

TASK = register(
    Task(
        name="xcopa",
        format="multiple_choice",
        source="XCOPA (cambridgeltl/xcopa data/{lang}/{val,test}.{lang}.jsonl)",
        metric="accuracy",
        hooks=ChoiceHooks(choices=2),
        splits=("dev", "test"),
        train_langs=(),
        eval_langs=tuple("et ht id it qu sw ta th tr vi zh".split()),
        train_on=("siqa", "copa"),
        layouts=(
            # The release's data/ folder placed in xcopa/ (as `git clone` leaves it).
            Layout(
                "original",
                paths=lambda split, lang: [f"xcopa/data/{lang}/{FILE[split]}.{lang}.jsonl"],
                reader=read_copa_jsonl,
            ),
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"xcopa/{FILE[split]}-{lang}.jsonl"],
                reader=read_xtreme_copa,
                no_gold={"test": "XTREME's download script sets every XCOPA test label to 0"},
            ),
            # An earlier revision of XTREME's script kept the release's file names and
            # labels; the bundled sample data uses it too.
            Layout(
                "xtreme_early",
                paths=lambda split, lang: [f"xcopa/{FILE[split]}.{lang}.jsonl"],
                reader=read_copa_jsonl,
            ),
        ),
    )
)
