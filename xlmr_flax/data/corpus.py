"""All text of a task's examples: for training tokenizers and checking coverage."""

from __future__ import annotations

from collections.abc import Iterator

from xlmr_flax.tasks.base import Task

TEXT_FIELDS = ("text_a", "text_b", "context", "question", "source", "target", "text", "description")


def example_texts(example: dict) -> Iterator[str]:
    for field in TEXT_FIELDS:
        if isinstance(example.get(field), str) and example[field]:
            yield example[field]
    yield from example.get("choices", [])
    if example.get("tokens"):
        yield " ".join(example["tokens"])


def task_texts(task: Task, raw_dir: str) -> Iterator[str]:
    """Every text of every split and language of `task` found under `raw_dir`."""
    for split, lang in task.available(raw_dir):
        for example in task.read(raw_dir, split, lang):
            yield from example_texts(example)
