"""Task formats, one module each (docs/formats.md).

    from xlmr_flax.formats import get_format
    get_format(task.format).featurize(task, split, examples, raw_dir, tokenizer, 128)

Importing this package registers every format of its modules; a format defined
elsewhere registers itself with `register_format`.
"""

import importlib
import pkgutil

from xlmr_flax.formats.base import FORMATS, Format, get_format, register_format, unregister_format

# Modules that hold no format: the registry, shared file readers and decoding rules.
_SHARED = ("base", "files", "decode")
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SHARED:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FORMATS", "Format", "get_format", "register_format", "unregister_format"]
