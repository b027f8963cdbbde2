"""The built-in catalogers, in a fixed order (no import-time registration).

Each finds packages in the files of one layer; see :class:`patchwarden.scan.model.Cataloger`.
Order: the OS first, then OS package databases (their ``owned_paths`` let the merger drop
language packages the OS installed), then language ecosystems.

:data:`CATALOGERS` is a lazy sequence: the cache keys need only each cataloger's name and
version (:attr:`Catalogers.ids`), so a scan answered from the cache never imports the eight
modules (~20 ms of a ~0.15 s warm scan). ``test_catalogers_registry`` keeps the ids equal to
the classes' own ``name``/``version``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Any, overload

from patchwarden.scan.model import Cataloger

# (name, version, module, class)
_BUILTIN: tuple[tuple[str, int, str, str], ...] = (
    ("osrelease", 1, "osrelease", "OSReleaseCataloger"),
    ("dpkg", 1, "dpkg", "DpkgCataloger"),
    ("apk", 1, "apk", "ApkCataloger"),
    ("rpm", 1, "rpm", "RpmDbCataloger"),
    ("python", 1, "python", "PythonCataloger"),
    ("npm", 1, "npm", "NpmCataloger"),
    ("golang", 1, "golang", "GoBinaryCataloger"),
    ("java", 1, "java", "JavaArchiveCataloger"),
)
_CLASSES = {cls: module for _, _, module, cls in _BUILTIN}


def _class(name: str) -> Any:
    return getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)


class Catalogers(Sequence[Cataloger]):
    """The built-in catalogers, instantiated on first use; :attr:`ids` without that."""

    def __init__(self) -> None:
        self.ids: tuple[tuple[str, int], ...] = tuple((n, v) for n, v, _, _ in _BUILTIN)
        self._items: tuple[Cataloger, ...] | None = None

    def _load(self) -> tuple[Cataloger, ...]:
        if self._items is None:
            self._items = tuple(_class(cls)() for _, _, _, cls in _BUILTIN)
        return self._items

    @overload
    def __getitem__(self, i: int) -> Cataloger: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Cataloger]: ...
    def __getitem__(self, i: int | slice) -> Cataloger | Sequence[Cataloger]:
        return self._load()[i]

    def __len__(self) -> int:
        return len(_BUILTIN)

    def __iter__(self) -> Iterator[Cataloger]:
        return iter(self._load())


CATALOGERS = Catalogers()


def __getattr__(name: str) -> Any:  # PEP 562: ``from ...catalogers import DpkgCataloger``
    if name in _CLASSES:
        return _class(name)
    raise AttributeError(name)


__all__ = ["CATALOGERS", "Catalogers", *_CLASSES]
