"""Write real OCI image layouts to a directory, without any container engine.

Output is deterministic: the same inputs give the same digests. Vary ``salt`` or
``created`` to get a different image (e.g. to simulate a re-push that changes a tag's digest).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_CREATED = "2024-01-02T03:04:05.123456789Z"


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: Mapping[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` with fixed mtimes, owners and modes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


@dataclass
class OCILayout:
    """An OCI image layout directory being built. Call :meth:`save` to write index.json."""

    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        index = self.path / "index.json"
        if index.exists() and not self.entries:
            self.entries = list(json.loads(index.read_text()).get("manifests", []))

    def add_blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        digest = sha256(data)
        (self.path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def add_image(
        self,
        files: Mapping[str, bytes] | None = None,
        *,
        platform: str = "linux/amd64",
        created: str = DEFAULT_CREATED,
        labels: Mapping[str, str] | None = None,
        salt: str = "",
    ) -> dict[str, Any]:
        """Write layer, config and manifest blobs; return the manifest descriptor."""
        content = dict(files or {"etc/patchwarden-test": b"hello\n"})
        if salt:
            content["etc/patchwarden-salt"] = salt.encode()
        tar = layer_tar(content)
        layer = self.add_blob(gzip_bytes(tar), OCI_LAYER)
        os_, arch, *rest = platform.split("/")
        config: dict[str, Any] = {
            "created": created,
            "architecture": arch,
            "os": os_,
            "config": {"Labels": dict(labels or {}), "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
            "history": [{"created": created, "created_by": "patchwarden oci_builder"}],
        }
        if rest:
            config["variant"] = rest[0]
        cfg = self.add_blob(_json(config), OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer]}
        desc = self.add_blob(_json(manifest), OCI_MANIFEST)
        plat: dict[str, str] = {"os": os_, "architecture": arch}
        if rest:
            plat["variant"] = rest[0]
        desc["platform"] = plat
        return desc

    def add_index(self, manifests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [dict(m) for m in manifests],
        }
        return self.add_blob(_json(index), OCI_INDEX)

    def tag(self, name: str, descriptor: Mapping[str, Any]) -> None:
        entry = {k: v for k, v in descriptor.items() if k != "platform"}
        entry["annotations"] = {REF_NAME: name}
        self.entries = [e for e in self.entries if e.get("annotations", {}).get(REF_NAME) != name]
        self.entries.append(entry)
        self.save()

    def save(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}
        (self.path / "index.json").write_bytes(_json(index))

    def blob(self, digest: str) -> bytes:
        return (self.path / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def build_image(
    directory: Path | str,
    tag: str,
    *,
    platform: str = "linux/amd64",
    created: str = DEFAULT_CREATED,
    labels: Mapping[str, str] | None = None,
    salt: str = "",
    files: Mapping[str, bytes] | None = None,
) -> str:
    """Write a single-platform image tagged ``tag`` into the layout; return its digest."""
    layout = OCILayout(Path(directory))
    desc = layout.add_image(files, platform=platform, created=created, labels=labels, salt=salt)
    layout.tag(tag, desc)
    return str(desc["digest"])


def build_index(
    directory: Path | str,
    tag: str,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    *,
    created: str = DEFAULT_CREATED,
    labels: Mapping[str, str] | None = None,
    salt: str = "",
    attestation: bool = False,
    files: Mapping[str, bytes] | None = None,
) -> str:
    """Write a multi-platform index tagged ``tag``; return the index digest.

    ``attestation`` adds an ``unknown/unknown`` entry like BuildKit's provenance manifests.
    """
    layout = OCILayout(Path(directory))
    descs = [
        layout.add_image(files, platform=p, created=created, labels=labels, salt=f"{salt}/{p}")
        for p in platforms
    ]
    if attestation:
        att = layout.add_image(platform="unknown/unknown", created=created, salt=f"{salt}/att")
        att["annotations"] = {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": descs[0]["digest"],
        }
        descs.append(att)
    desc = layout.add_index(descs)
    layout.tag(tag, desc)
    return str(desc["digest"])
