"""Reference discovery: find every container image reference in a repository.

Entry point: :func:`discover`. Each file kind has one source module (``dockerfile``,
``compose``, ``kubernetes``, ``helm``, ``kustomize``), listed in claim order in
:data:`patchwarden.refs.registry.SOURCES`.
"""

from patchwarden.refs.discover import discover
from patchwarden.refs.model import Inventory, Reference, ReferenceSource, RefKind, Skipped

__all__ = ["Inventory", "RefKind", "Reference", "ReferenceSource", "Skipped", "discover"]
