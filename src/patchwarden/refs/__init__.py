"""Reference discovery: find every container image reference in a repository.

Entry point: :func:`discover`. Each file kind has one source module (``dockerfile``,
``compose``, ``kubernetes``, ``helm``, ``kustomize``), listed in claim order in
:data:`patchwarden.refs.registry.SOURCES`.
"""

from __future__ import annotations

from typing import Any

from patchwarden.refs.model import Inventory, Reference, ReferenceSource, RefKind, Skipped

__all__ = ["Inventory", "RefKind", "Reference", "ReferenceSource", "Skipped", "discover"]


def __getattr__(name: str) -> Any:  # PEP 562: the parsers load only when discovery runs
    if name == "discover":
        from patchwarden.refs.discover import discover

        return discover
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
