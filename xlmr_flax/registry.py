"""A name -> item table that tasks, task formats and metric kinds register into."""

from __future__ import annotations

from typing import Generic, TypeVar

Item = TypeVar("Item")


class Registry(dict[str, Item], Generic[Item]):
    """A dict whose `add` refuses a name twice and whose `lookup` names the known ones;
    `what` says what an item is in those messages ("task", "format")."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def add(self, name: str, item: Item) -> Item:
        if name in self:
            raise ValueError(f"{self.what} {name!r} registered twice")
        self[name] = item
        return item

    def remove(self, name: str) -> None:
        """Removes an item (a test's toy one, once the test is done)."""
        self.pop(name, None)

    def lookup(self, name: str) -> Item:
        if name not in self:
            raise ValueError(f"unknown {self.what} {name!r}; known: {sorted(self)}")
        return self[name]
