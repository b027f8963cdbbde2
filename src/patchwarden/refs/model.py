"""What reference discovery produces: found references and skipped ones (with a reason)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from patchwarden.core.ref import ImageRef


class RefKind(StrEnum):
    DOCKERFILE = "dockerfile"
    COMPOSE = "compose"
    KUBERNETES = "kubernetes"
    HELM = "helm"
    KUSTOMIZE = "kustomize"


@dataclass(frozen=True, slots=True)
class Reference:
    """One image reference found in a file.

    ``image`` is the text exactly as written (for Helm maps: ``repository:tag`` joined from the
    map's fields, as Helm charts conventionally do); ``ref`` is its normalized form after
    variable substitution. ``line`` is 1-based; ``column`` is 1-based, 0 when unknown.
    ``context`` says where in the file it is (``services.web.image``, ``Deployment/web
    spec.template.spec.containers[0].image``, ``FROM (stage build)``).
    """

    file: str
    line: int
    kind: RefKind
    image: str
    ref: ImageRef
    column: int = 0
    context: str = ""
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A place that looks like an image reference but cannot be resolved, and why."""

    file: str
    line: int
    text: str
    reason: str
    kind: RefKind | None = None


@dataclass(frozen=True, slots=True)
class Inventory:
    references: tuple[Reference, ...]
    skipped: tuple[Skipped, ...]


class ReferenceSource(Protocol):
    """Finds image references in one kind of file.

    ``claims`` decides from the path (and for YAML, the parsed documents' shape) whether this
    source handles the file; ``extract`` never raises for bad content: it returns Skipped entries
    (e.g. "malformed YAML at line 3: ...") so one bad file never stops a run.
    """

    kind: RefKind

    def claims(self, path: Path, text: str) -> bool: ...

    def extract(self, rel_path: str, text: str) -> list[Reference | Skipped]: ...
