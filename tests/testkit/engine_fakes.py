"""An in-memory engine and store for unit tests of the live-update procedure.

Both implement their seam (``EngineApi``, ``RecordStore``); mypy checks it below.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from patchwarden.app.live.model import RecordStore
from patchwarden.core.ref import ImageRef
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.store.model import UpdateRecord

_ids = itertools.count(1)


@dataclass
class FakeContainer:
    name: str
    image: str
    digest: str | None
    labels: dict[str, str] = field(default_factory=dict)
    state: str = "running"
    local_build: bool = False


class FakeEngine:
    """Containers keyed by id; records every call in ``calls``; ``fail`` maps call -> message.

    ``inspect`` answers and image listings are dicts because the Docker Engine API's JSON is
    what :class:`EngineApi` hands on (``dict[str, Any]`` there too)."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, str] = {}
        self.is_podman = False
        self.exec_results: dict[str, tuple[int | None, str]] = {}
        self.exec_timeouts: list[float] = []
        self.images: list[dict[str, Any]] = []

    def add(
        self,
        name: str,
        image: str,
        digest: str | None,
        labels: dict[str, str] | None = None,
        state: str = "running",
        *,
        local_build: bool = False,
    ) -> str:
        cid = f"{next(_ids):012d}" + "f" * 52
        self.containers[cid] = FakeContainer(
            name, image, digest, dict(labels or {}), state, local_build=local_build
        )
        return cid

    def _find(self, ref: str) -> str:
        for cid, c in self.containers.items():
            if ref in (cid, c.name) or (len(ref) >= 12 and cid.startswith(ref)):
                return cid
        raise EngineError(f"{ref}: not found")

    def _call(self, op: str, ref: str) -> None:
        self.calls.append((op, ref))
        if op in self.fail:
            raise EngineError(self.fail[op])

    def info(self, ref: str) -> ContainerInfo:
        cid = self._find(ref)
        c = self.containers[cid]
        return ContainerInfo(
            cid,
            c.name,
            c.image,
            "img-" + (c.digest or "x"),
            c.digest,
            dict(c.labels),
            c.state,
            local_build=c.local_build,
        )

    def list_containers(self, *, all: bool = True) -> list[ContainerInfo]:
        return [self.info(cid) for cid in self.containers]

    def exists(self, ref: str) -> bool:
        try:
            self._find(ref)
        except EngineError:
            return False
        return True

    def inspect(self, ref: str) -> dict[str, Any]:
        info = self.info(ref)
        return {
            "Id": info.id,
            "Name": "/" + info.name,
            "Config": {"Image": info.image, "Labels": info.labels, "Env": ["A=1"]},
            "HostConfig": {"RestartPolicy": {"Name": "always"}},
            "State": {"Status": info.state},
        }

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return {"Config": {}}

    def pull(self, image: ImageRef) -> None:
        self._call("pull", str(image))

    def tag(self, image: str, repository: str, tag: str) -> None:
        self._call("tag", f"{repository}:{tag}")

    def create(self, config: dict[str, Any], name: str) -> str:
        self._call("create", name)
        image = config["Image"]
        digest = self.pulled_digest
        return self.add(name, image, digest, config.get("Labels"), state="created")

    pulled_digest: str | None = None

    def start(self, ref: str) -> None:
        self._call("start", ref)
        self.containers[self._find(ref)].state = "running"

    def stop(self, ref: str, timeout: int = 10) -> None:
        self._call("stop", ref)
        self.containers[self._find(ref)].state = "exited"

    def rename(self, ref: str, name: str) -> None:
        self._call("rename", name)
        self.containers[self._find(ref)].name = name

    def remove(self, ref: str, *, force: bool = False) -> None:
        self._call("remove", ref)
        del self.containers[self._find(ref)]

    def run_healthcheck(self, ref: str) -> str | None:
        return None

    # hooks: ``exec_results`` maps the hook command (the ``sh -c`` argument) to
    # (exit code or None for a timeout, output); a command not listed exits 0
    def exec_run(self, ref: str, cmd: list[str], timeout: float) -> tuple[int | None, str]:
        c = self.containers[self._find(ref)]
        self._call("exec", f"{c.name}: {cmd[-1]}")
        self.exec_timeouts.append(timeout)
        assert cmd[:2] == ["sh", "-c"] and c.state == "running"
        return self.exec_results.get(cmd[-1], (0, ""))

    # images: dicts as the engine lists them (Id, RepoTags, RepoDigests); a container's image
    # ID is "img-" + its digest
    def add_image(self, repository: str, digest: str, *tags: str) -> str:
        image_id = "img-" + digest
        self.images.append(
            {
                "Id": image_id,
                "RepoTags": [f"{repository}:{t}" for t in tags],
                "RepoDigests": [f"{repository}@{digest}"],
            }
        )
        return image_id

    def list_images(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self.images]

    def remove_image(self, image_id: str) -> None:
        self._call("remove_image", image_id)
        self.images = [i for i in self.images if i["Id"] != image_id]


class MemoryStore:
    """Unit tests only: the real store is patchwarden.store (SQLite)."""

    def __init__(self) -> None:
        self.records: list[UpdateRecord] = []

    def record(self, rec: UpdateRecord) -> UpdateRecord:
        rec = replace(rec, id=len(self.records) + 1)
        self.records.append(rec)
        return rec

    def history(self, container: str | None = None, limit: int = 100) -> list[UpdateRecord]:
        rows = [r for r in reversed(self.records) if container is None or r.container == container]
        return rows[:limit]


if TYPE_CHECKING:  # the fakes implement the seams the real classes implement
    _engine: EngineApi = FakeEngine()
    _store: RecordStore = MemoryStore()
