"""The engine's local images of an updated repository: the name a pulled image runs under, and
retention after a successful update (``keep_images``): the repository's unused images beyond
the container's ``keep_images`` most recent earlier digests are removed; the previous digest,
and any digest an update is moving to, are always kept."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from patchwarden.core.live import LiveOutcome
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.errors import ReferenceFormatError


class LocalImages:
    """``records(name, limit)`` gives the container's history, newest first."""

    def __init__(
        self,
        engine: EngineApi,
        keep: int | None,
        records: Callable[[str, int], Sequence[Any]],
    ) -> None:
        self.engine = engine
        self.keep = keep
        self.records = records
        self.inflight: dict[str, int] = {}  # digest -> updates moving to it
        self._lock = threading.Lock()  # retention vs. digests being moved to

    @contextlib.contextmanager
    def moving_to(self, digest: str) -> Iterator[None]:
        """While an update moves to ``digest``, retention keeps its image."""
        with self._lock:
            self.inflight[digest] = self.inflight.get(digest, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self.inflight[digest] -= 1
                if not self.inflight[digest]:
                    del self.inflight[digest]

    def local_name(self, target: ImageRef) -> str:
        """Tag the pulled image locally so the container is configured by repository:tag."""
        by_digest = f"{target.name}@{target.digest}"
        if target.tag is None:
            return by_digest
        self.engine.tag(by_digest, target.name, target.tag)
        return f"{target.name}:{target.tag}"

    def retain(
        self, name: str, target: ImageRef, previous: str | None, steps: list[str]
    ) -> list[str]:
        """Remove the repository's images no container uses, beyond the ``keep`` most
        recent digests ``name`` ran before; never the current or the previous digest, nor a
        digest another update is moving to. Returns the removed images' digests."""
        if self.keep is None or not target.digest:
            return []
        removed: list[str] = []
        with self._lock:
            try:
                keep = self._kept(name, target.digest, previous)
                used = {_image_id(c.image_id) for c in self.engine.list_containers(all=True)}
                images = self.engine.list_images()
            except EngineError as exc:
                steps.append(f"image retention skipped: {exc.message}")
                return removed
            for img in images:
                digests = _removable(img, target.name, keep, used)
                if digests:
                    removed += self._remove(img, target.name, digests, steps)
        return removed

    def _kept(self, name: str, current: str, previous: str | None) -> set[str]:
        records = self.records(name, 500)
        earlier: list[str] = []
        moved = [
            r.from_digest
            for r in records
            if r.outcome in (LiveOutcome.UPDATED, LiveOutcome.REVERTED)
        ]
        for d in [previous, *moved]:
            if d and d != current and d not in earlier:
                earlier.append(d)
        keep = {current, *earlier[: self.keep], *self.inflight}
        if previous:
            keep.add(previous)
        return keep

    def _remove(
        self, img: dict[str, Any], repository: str, digests: set[str], steps: list[str]
    ) -> list[str]:
        shown = ", ".join(sorted(digests))
        try:
            self.engine.remove_image(str(img.get("Id")))
        except EngineError as exc:
            steps.append(f"could not remove image {shown}: {exc.message}")
            return []
        steps.append(f"removed image {repository}@{shown}")
        return sorted(digests)


def _removable(img: dict[str, Any], repository: str, keep: set[str], used: set[str]) -> set[str]:
    """The digests of ``img`` when it is an unused image of ``repository`` alone, none kept;
    otherwise none."""
    refs = [
        str(r)
        for r in [*(img.get("RepoTags") or []), *(img.get("RepoDigests") or [])]
        if r and not str(r).startswith("<none>")
    ]
    if not refs or {_repository(r) for r in refs} != {repository}:
        return set()
    digests = {r.partition("@")[2] for r in refs if "@" in r}
    if not digests or digests & keep or _image_id(str(img.get("Id"))) in used:
        return set()
    return digests


def _image_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")


def _repository(reference: str) -> str:
    try:
        return parse_reference(reference).name
    except ReferenceFormatError:
        return reference.partition("@")[0].rpartition(":")[0] or reference
