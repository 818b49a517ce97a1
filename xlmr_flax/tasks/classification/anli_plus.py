"""ANLI+ (intermediate): ANLI rounds 1-3, MultiNLI and SNLI together, as in the
original study. Each part is read through its own task's layouts, so every
combination of their accepted layouts is accepted."""

import itertools

from xlmr_flax.data.readers import NLI_LABELS
from xlmr_flax.tasks.base import Layout, Task, register
from xlmr_flax.tasks.classification import anli, mnli, snli

PARTS = (anli.TASK, mnli.TASK, snli.TASK)


def _tagged(name: str, examples):
    """Each example's id prefixed by its part (ids repeat across the datasets)."""
    return ({**e, "id": f"{name}-{e['id']}"} for e in examples)


def _combined(layouts: tuple[Layout, ...]) -> Layout:
    counts = [len(x.paths("train", "en")) for x in layouts]

    def paths(split, lang):
        return [p for x in layouts for p in x.paths(split, lang)]

    def read(*files):
        parts, start = [], 0
        for task, layout, n in zip(PARTS, layouts, counts, strict=True):
            parts.append(_tagged(task.name, layout.reader(*files[start : start + n])))
            start += n
        return itertools.chain(*parts)

    names = {x.name for x in layouts}
    name = names.pop() if len(names) == 1 else "+".join(x.name for x in layouts)
    return Layout(name, paths=paths, reader=read)


TASK = register(
    Task(
        name="anli_plus",
        train_examples=1_105_719,  # ANLI rounds 1-3 + MNLI + SNLI
        format="classification",
        source="ANLI R1-R3 + MultiNLI + SNLI",
        metric="accuracy",
        labels=NLI_LABELS,
        layouts=tuple(
            _combined(combination)
            for combination in itertools.product(*(task.layouts for task in PARTS))
        ),
    )
)
