"""SQuAD v1.1 (trains XQuAD, MLQA, LAReQA) and v2.0 with unanswerable questions."""

from xlmr_flax.data.readers import read_squad_json
from xlmr_flax.tasks.base import Layout, Task, register

SQUAD_V1 = register(
    Task(
        name="squad_v1",
        train_examples=87_599,  # questions; their windows (stride 128) are a few percent more
        format="span_extraction",
        source="SQuAD v1.1 {train,dev}-v1.1.json",
        metric="squad",
        layouts=(
            Layout(
                "xtreme",
                paths=lambda split, lang: [f"squad/{split}-v1.1.json"],
                reader=read_squad_json,
            ),
        ),
    )
)
SQUAD_V2 = register(
    Task(
        name="squad_v2",
        train_examples=130_319,  # questions
        format="span_extraction",
        source="SQuAD v2.0 {train,dev}-v2.0.json",
        metric="squad_v2",
        layouts=(
            Layout(
                "original",
                paths=lambda split, lang: [f"squad/{split}-v2.0.json"],
                reader=read_squad_json,
            ),
        ),
    )
)
