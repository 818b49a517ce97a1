"""The task registry: every XTREME-R target and intermediate task, one module each.

from xlmr_flax.tasks import TASKS, get_task
"""

import importlib
import pkgutil

from xlmr_flax.tasks.base import FORMATS, TASKS, Task, get_task, register

# Importing each task module registers its task.
for _format in ("classification", "multiple_choice", "span_extraction", "token_tagging",
                "retrieval", "masked_lm"):  # fmt: skip
    _package = importlib.import_module(f"{__name__}.{_format}")
    for _module in pkgutil.iter_modules(_package.__path__):
        importlib.import_module(f"{_package.__name__}.{_module.name}")

TARGETS = tuple(sorted(name for name, task in TASKS.items() if task.is_target))

__all__ = ["FORMATS", "TARGETS", "TASKS", "Task", "get_task", "register"]
