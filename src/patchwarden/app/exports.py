"""Public names of a use-case package, imported when first used.

Each ``app/<usecase>/__init__.py`` lists its public names and the module that defines them.
They are resolved on first access (PEP 562), so importing one light module of a package (a
result type, the plan) does not pay for the heavy ones: start-up is part of every command's
cost. The same names are imported under ``TYPE_CHECKING`` for the type checker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(package: str, table: Mapping[str, Sequence[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``package.<module>`` for each name in ``table``."""
    where = {name: module for module, names in table.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
