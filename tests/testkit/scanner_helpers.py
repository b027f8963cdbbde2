"""Shared helpers for the scanner tests: in-memory layers, tiny catalogers, counting sources."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import zstandard

from patchwarden.scan.model import (
    FileEntry,
    FileFacts,
    ImageInfo,
    LayerRef,
    OSInfo,
    PackageFact,
    PackageType,
)

Entry = (
    tuple[str, bytes] | tuple[str, str, str]
)  # (name, data) or (name, "sym"|"lnk"|"dir", target)


def tar_bytes(entries: Sequence[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e[0])
            info.mode = 0o644
            if len(e) == 2:
                data = e[1]
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            kind, target = e[1], e[2]
            info.type = {"sym": tarfile.SYMTYPE, "lnk": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[
                kind
            ]
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def compress(data: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dpkg_status(*pkgs: tuple[str, str]) -> bytes:
    return "".join(
        f"Package: {n}\nStatus: install ok installed\nVersion: {v}\n\n" for n, v in pkgs
    ).encode()


class DpkgCataloger:
    name = "test-dpkg"

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.calls = 0

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path == "var/lib/dpkg/status" or path.startswith("var/lib/dpkg/info/")

    def catalog(self, entry: FileEntry) -> FileFacts:
        self.calls += 1
        if entry.path.endswith(".list"):
            owned = tuple(line for line in entry.data.decode().splitlines() if line)
            return FileFacts(owned_paths=owned)
        pkgs = []
        name = None
        for line in entry.data.decode().splitlines():
            if line.startswith("Package: "):
                name = line.split(": ", 1)[1]
            elif line.startswith("Version: ") and name:
                v = line.split(": ", 1)[1]
                pkgs.append(PackageFact(name, v, PackageType.DEB, f"pkg:deb/debian/{name}@{v}"))
        return FileFacts(packages=tuple(pkgs))


class PipCataloger:
    name = "test-pip"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path.endswith(".dist-info/METADATA")

    def catalog(self, entry: FileEntry) -> FileFacts:
        fields = dict(
            line.split(": ", 1) for line in entry.data.decode().splitlines() if ": " in line
        )
        n, v = fields["Name"], fields["Version"]
        return FileFacts(packages=(PackageFact(n, v, PackageType.PYTHON, f"pkg:pypi/{n}@{v}"),))


class OsReleaseCataloger:
    name = "test-os"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path in ("etc/os-release", "usr/lib/os-release")

    def catalog(self, entry: FileEntry) -> FileFacts:
        kv = dict(line.split("=", 1) for line in entry.data.decode().splitlines() if "=" in line)
        return FileFacts(os=OSInfo(kv["ID"].strip('"'), kv.get("VERSION_ID", "").strip('"')))


class ExplodingCataloger:
    name = "test-boom"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path == "var/lib/dpkg/status"

    def catalog(self, entry: FileEntry) -> FileFacts:
        raise RuntimeError("kaboom")


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


@dataclass
class MemorySource:
    """An image from in-memory blobs; counts :meth:`open_layer` calls."""

    blobs: list[bytes]
    opens: int = 0
    digests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.digests:
            self.digests = [sha(b) for b in self.blobs]

    def describe(self) -> ImageInfo:
        layers = tuple(
            LayerRef(d, "application/vnd.oci.image.layer.v1.tar", len(b))
            for d, b in zip(self.digests, self.blobs, strict=True)
        )
        return ImageInfo(name="memory", digest=None, platform="linux/amd64", layers=layers)

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        self.opens += 1
        return io.BytesIO(self.blobs[self.digests.index(layer.digest)])


def layer(entries: Sequence[Entry], kind: str = "gzip") -> bytes:
    return compress(tar_bytes(entries), kind)
