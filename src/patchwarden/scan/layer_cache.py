"""Per-layer :class:`LayerFacts` cached as JSON, keyed by blob digest and cataloger versions."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from patchwarden.core.files import write_atomic
from patchwarden.core.sealed import prune_stale_tmp, seal, unseal
from patchwarden.scan.model import (
    Cataloger,
    FileFacts,
    LayerFacts,
    OSInfo,
    Package,
    PackageFact,
    PackageType,
)

log = logging.getLogger(__name__)
READER_VERSION = 3  # bump when the layer reader's output for the same input changes
_PKG_OPTIONAL = ("source_name", "source_version", "arch", "namespace")


def cataloger_ids(catalogers: Sequence[Cataloger]) -> list[tuple[str, int]]:
    """(name, version) of each cataloger, sorted; a lazy set (``CATALOGERS``) knows them
    without importing the catalogers."""
    ids = getattr(catalogers, "ids", None)
    if ids is None:
        ids = [(c.name, int(c.version)) for c in catalogers]
    return sorted(ids)


def cache_key(digest: str, catalogers: Sequence[Cataloger], max_file_bytes: int = 0) -> str:
    ident = {
        "reader": READER_VERSION,
        "digest": digest,
        "catalogers": cataloger_ids(catalogers),
        "max_file_bytes": max_file_bytes,
    }
    raw = json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


def _pkg_json(p: PackageFact) -> dict[str, Any]:
    d: dict[str, Any] = {"n": p.name, "v": p.version, "t": p.type.value, "p": p.purl}
    for k in _PKG_OPTIONAL:
        if (val := getattr(p, k)) is not None:
            d[k] = val
    if p.licenses:
        d["l"] = list(p.licenses)
    return d


def _pkg(d: dict[str, Any]) -> PackageFact:
    return PackageFact(
        name=d["n"],
        version=d["v"],
        type=PackageType(d["t"]),
        purl=d["p"],
        source_name=d.get("source_name"),
        source_version=d.get("source_version"),
        arch=d.get("arch"),
        namespace=d.get("namespace"),
        licenses=tuple(d.get("l", ())),
    )


def _os_json(o: OSInfo) -> dict[str, Any]:
    return {
        "id": o.id,
        "version_id": o.version_id,
        "pretty_name": o.pretty_name,
        "version_codename": o.version_codename,
        "id_like": list(o.id_like),
    }


def facts_to_json(lf: LayerFacts) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for path, f in lf.files.items():
        d: dict[str, Any] = {}
        if f.packages:
            d["pk"] = [_pkg_json(p) for p in f.packages]
        if f.owned_paths:
            d["own"] = list(f.owned_paths)
        if f.os is not None:
            d["os"] = _os_json(f.os)
        files[path] = d
    return {
        "digest": lf.digest,
        "diff_id": lf.diff_id,
        "files": files,
        "whiteouts": list(lf.whiteouts),
        "opaque_dirs": list(lf.opaque_dirs),
        "entries": lf.entries,
        "warnings": list(lf.warnings),
        "links": lf.links,
    }


def facts_from_json(d: dict[str, Any]) -> LayerFacts:
    files: dict[str, FileFacts] = {}
    for path, f in d["files"].items():
        o = f.get("os")
        files[path] = FileFacts(
            packages=tuple(_pkg(p) for p in f.get("pk", ())),
            owned_paths=tuple(f.get("own", ())),
            os=None
            if o is None
            else OSInfo(
                id=o["id"],
                version_id=o.get("version_id"),
                pretty_name=o.get("pretty_name"),
                version_codename=o.get("version_codename"),
                id_like=tuple(o.get("id_like", ())),
            ),
        )
    return LayerFacts(
        digest=str(d["digest"]),
        diff_id=d.get("diff_id"),
        files=files,
        whiteouts=tuple(d.get("whiteouts", ())),
        opaque_dirs=tuple(d.get("opaque_dirs", ())),
        entries=int(d.get("entries", 0)),
        warnings=tuple(d.get("warnings", ())),
        links={str(k): str(v) for k, v in d.get("links", {}).items()},
    )


class SharedBlobs(Protocol):
    """A second tier shared by a fleet of workers (``store.shared.SharedContent``): entries
    are sealed and content-addressed, so any process may use any other's."""

    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, body: bytes) -> None: ...


class LayerCache:
    """A directory of ``<key[:2]>/<key>.json`` files. Corrupt entries read as misses. With
    ``shared``, a local miss is looked up there (and kept locally), and every entry written
    here is written there too: a base layer is catalogued once for the whole fleet."""

    def __init__(self, root: Path, shared: SharedBlobs | None = None) -> None:
        self.root = Path(root)
        self.shared = shared

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _read(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except OSError:
            if self.shared is None:
                raise
        raw = self.shared.read(key)
        if raw is None or unseal(raw) is None:
            raise FileNotFoundError(path)
        self._write_local(key, raw)
        return raw

    def get(
        self, digest: str, catalogers: Sequence[Cataloger], max_file_bytes: int = 0
    ) -> LayerFacts | None:
        key = cache_key(digest, catalogers, max_file_bytes)
        path = self._path(key)
        try:
            raw = self._read(key)
        except OSError:
            return None
        try:
            payload = unseal(raw)
            if payload is None:
                raise ValueError("not a sealed patchwarden cache entry (truncated or edited)")
            facts = facts_from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            log.warning("ignoring corrupt layer cache entry %s: %s", path, exc)
            return None
        return facts if facts.digest == digest else None

    def put(
        self, facts: LayerFacts, catalogers: Sequence[Cataloger], max_file_bytes: int = 0
    ) -> None:
        key = cache_key(facts.digest, catalogers, max_file_bytes)
        self._write(key, json.dumps(facts_to_json(facts), separators=(",", ":")).encode())

    # -- whole-image results: a rescan of unchanged layers skips their facts and the merge --

    def get_image(
        self, layers: Sequence[str], catalogers: Sequence[Cataloger], max_file_bytes: int = 0
    ) -> tuple[OSInfo | None, tuple[Package, ...]] | None:
        key = image_key(layers, catalogers, max_file_bytes)
        path = self._path(key)
        try:
            payload = unseal(self._read(key))
            if payload is None:
                raise ValueError("not a sealed patchwarden cache entry (truncated or edited)")
            d = json.loads(payload)
            os_info = None if d["os"] is None else _os(d["os"])
            packages = tuple(_package(p) for p in d["packages"])
        except OSError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            log.warning("ignoring corrupt image cache entry %s: %s", path, exc)
            return None
        return (os_info, packages) if d.get("layers") == list(layers) else None

    def put_image(
        self,
        layers: Sequence[str],
        catalogers: Sequence[Cataloger],
        max_file_bytes: int,
        os_info: OSInfo | None,
        packages: Sequence[Package],
    ) -> None:
        data = {
            "layers": list(layers),
            "os": None if os_info is None else _os_json(os_info),
            "packages": [
                {**_pkg_json(_as_fact(p)), "layer": p.layer, "path": p.path} for p in packages
            ],
        }
        key = image_key(layers, catalogers, max_file_bytes)
        self._write(key, json.dumps(data, separators=(",", ":")).encode())

    def _write(self, key: str, data: bytes) -> None:
        sealed = seal(data)
        self._write_local(key, sealed)
        if self.shared is not None:
            self.shared.write(key, sealed)

    def _write_local(self, key: str, sealed: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            prune_stale_tmp(path.parent)  # left by a killed scan
            write_atomic(path, sealed, mode=0o600)
        except OSError as exc:  # a cache that cannot be written is not a failed scan
            log.warning("could not write layer cache entry %s: %s", path, exc)


def image_key(layers: Sequence[str], catalogers: Sequence[Cataloger], max_file_bytes: int) -> str:
    return cache_key("image:" + ",".join(layers), catalogers, max_file_bytes)


def _os(o: dict[str, Any]) -> OSInfo:
    return OSInfo(
        id=o["id"],
        version_id=o.get("version_id"),
        pretty_name=o.get("pretty_name"),
        version_codename=o.get("version_codename"),
        id_like=tuple(o.get("id_like", ())),
    )


def _as_fact(p: Package) -> PackageFact:
    return PackageFact(
        name=p.name,
        version=p.version,
        type=p.type,
        purl=p.purl,
        source_name=p.source_name,
        source_version=p.source_version,
        arch=p.arch,
        namespace=p.namespace,
        licenses=p.licenses,
    )


def _package(d: dict[str, Any]) -> Package:
    f = _pkg(d)
    return Package(
        name=f.name,
        version=f.version,
        type=f.type,
        purl=f.purl,
        layer=str(d["layer"]),
        path=str(d["path"]),
        source_name=f.source_name,
        source_version=f.source_version,
        arch=f.arch,
        namespace=f.namespace,
        licenses=f.licenses,
    )
