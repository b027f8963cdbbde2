"""What ``registry retain`` must never delete: digests that are deployed or needed for a
rollback. Each source returns ``{digest or "tag:<tag>": [reasons]}``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from patchwarden.config.schema import Config
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import ReferenceFormatError
from patchwarden.store.model import UpdateRecord

Protected = dict[str, list[str]]


def merge(*parts: Protected) -> Protected:
    out: dict[str, list[str]] = defaultdict(list)
    for part in parts:
        for k, v in part.items():
            out[k] += v
    return dict(out)


def from_paths(paths: Sequence[Path], config: Config, repo: ImageRef) -> Protected:
    from patchwarden.app.inventory import run_inventory

    out: dict[str, list[str]] = defaultdict(list)
    for ref in run_inventory(paths, config).references:
        if ref.ref.name != repo.name:
            continue
        key = ref.ref.digest or f"tag:{ref.ref.tag or 'latest'}"
        out[key].append(f"deployed: {ref.file}:{ref.line} ({ref.image})")
    return dict(out)


class _Engine(Protocol):
    def list_containers(self, *, all: bool = True) -> list[ContainerInfo]: ...


def from_engine(engine: _Engine, repo: ImageRef, label: str) -> Protected:
    out: dict[str, list[str]] = defaultdict(list)
    for c in engine.list_containers(all=True):
        ref = c.image_ref()
        if ref is None or ref.name != repo.name or not c.digest:
            continue
        out[c.digest].append(f"used by container {c.name} ({c.state or 'unknown'}) on {label}")
    return dict(out)


def _name(image: str) -> str | None:
    try:
        return parse_reference(image).name
    except ReferenceFormatError:
        return None


def from_history(records: Iterable[UpdateRecord], repo: ImageRef, keep: int) -> Protected:
    """The last ``keep`` distinct good digests of each container (newest first): what
    ``engine rollback`` may go back to."""
    seen: dict[str, list[str]] = defaultdict(list)
    for r in records:
        good = r.outcome == "updated" or (r.action == "rollback" and r.outcome == "rolled-back")
        pairs = [(r.to_image, r.to_digest)] if good else []
        pairs.append((r.from_image, r.from_digest))  # what the container ran before
        for image, digest in pairs:
            if not digest or _name(image) != repo.name:
                continue
            if digest not in seen[r.container] and len(seen[r.container]) < keep:
                seen[r.container].append(digest)
    out: dict[str, list[str]] = defaultdict(list)
    for container, digests in seen.items():
        for n, d in enumerate(digests, start=1):
            out[d].append(f"rollback version #{n} of container {container} (state store)")
    return dict(out)
