"""The task registry: every XTREME-R target and intermediate task, one module each.

from xlmr_flax.tasks import TASKS, get_task
"""

import importlib
import pkgutil

import xlmr_flax.formats  # noqa: F401 (registers the formats the tasks name)
from xlmr_flax.tasks.base import TASKS, Task, get_task, register

# Importing each task module registers its task; task modules lie in a folder per format.
for _folder in pkgutil.iter_modules(__path__):
    if not _folder.ispkg:
        continue
    _package = importlib.import_module(f"{__name__}.{_folder.name}")
    for _module in pkgutil.iter_modules(_package.__path__):
        importlib.import_module(f"{_package.__name__}.{_module.name}")

TARGETS = tuple(sorted(name for name, task in TASKS.items() if task.is_target))

__all__ = ["TARGETS", "TASKS", "Task", "get_task", "register"]
