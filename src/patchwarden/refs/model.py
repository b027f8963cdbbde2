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
    GITHUB_ACTIONS = "github-actions"
    GITLAB_CI = "gitlab-ci"
    DEVCONTAINER = "devcontainer"


@dataclass(frozen=True, slots=True)
class Reference:
    """One image reference found in a file.

    ``image`` is the text exactly as written (for Helm maps: ``repository:tag`` joined from the
    map's fields, as Helm charts conventionally do); ``ref`` is its normalized form after
    variable substitution. ``line`` is 1-based; ``column`` is 1-based, 0 when unknown.
    ``context`` says where in the file it is (``services.web.image``, ``Deployment/web
    spec.template.spec.containers[0].image``, ``FROM (stage build)``).

    ``parts`` locates each piece of the reference that a rewriter may need to edit, as
    ``(field, line, column)`` triples (1-based): for a Helm image map ``("registry", ...)``,
    ``("repository", ...)``, ``("tag", ...)``, ``("digest", ...)``; for Kustomize ``newName``,
    ``newTag``, ``digest``; for a Dockerfile ``("image", ...)`` with the physical line of the
    image text (which may differ from ``line`` when the FROM continues over several lines).
    Empty when the reference is one scalar at ``line``/``column``.
    """

    file: str
    line: int
    kind: RefKind
    image: str
    ref: ImageRef
    column: int = 0
    context: str = ""
    platform: str | None = None
    parts: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A place that looks like an image reference but cannot be resolved, and why."""

    file: str
    line: int
    text: str
    reason: str
    kind: RefKind | None = None
    column: int = 0


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

    def extract(
        self, rel_path: str, text: str, *, path: Path | None = None
    ) -> list[Reference | Skipped]:
        """``path`` is the file on disk when known, for sources that read sibling files
        (compose reads the ``.env`` next to the compose file)."""
        ...
