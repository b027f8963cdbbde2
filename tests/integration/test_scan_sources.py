"""The scanner against real images: a registry, an OCI layout, OCI and docker archives.

Images are multi-layer OCI layouts written here (gzip, zstd and uncompressed layers, with a
whiteout and an opaque directory), pushed and converted with skopeo, an independent client.

docker-archive stores layers uncompressed, so its layer blob digests are the diff_ids; the
other sources keep the compressed blob digests (and skopeo gzips an uncompressed layer when it
pushes or writes an OCI archive, changing that blob's digest). The comparison therefore maps
every package's layer to that layer's diff_id (from the image config), identical for all four;
where the blobs are the same bytes (registry vs OCI archive) the raw digests are compared too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from patchwarden.devtools.oci_builder import (
    OCI_CONFIG,
    OCI_MANIFEST,
    OCILayout,
    build_index,
    layer_tar,
)
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import push
from patchwarden.registry import RegistryClient
from patchwarden.registry.model import Platform
from patchwarden.scan.layer_cache import LayerCache
from patchwarden.scan.model import (
    Cataloger,
    FileEntry,
    FileFacts,
    PackageFact,
    PackageType,
    ScanInventory,
)
from patchwarden.scan.scanner import Scanner
from patchwarden.scan.sources import open_source
from testkit.tools import require_tool

pytestmark = pytest.mark.integration


class Dpkg:
    name, version = "it-dpkg", 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path == "var/lib/dpkg/status"

    def catalog(self, entry: FileEntry) -> FileFacts:
        out, name = [], None
        for line in entry.data.decode().splitlines():
            if line.startswith("Package: "):
                name = line[9:]
            elif line.startswith("Version: ") and name:
                out.append(PackageFact(name, line[9:], PackageType.DEB, f"pkg:deb/debian/{name}"))
        return FileFacts(packages=tuple(out))


class Pip:
    name, version = "it-pip", 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path.endswith(".dist-info/METADATA")

    def catalog(self, entry: FileEntry) -> FileFacts:
        kv = dict(x.split(": ", 1) for x in entry.data.decode().splitlines() if ": " in x)
        n, v = kv["Name"], kv["Version"]
        return FileFacts(packages=(PackageFact(n, v, PackageType.PYTHON, f"pkg:pypi/{n}@{v}"),))


CATS: list[Cataloger] = [Dpkg(), Pip()]


def status(*pkgs: str) -> bytes:
    return "".join(
        f"Package: {p.split('=')[0]}\nVersion: {p.split('=')[1]}\n\n" for p in pkgs
    ).encode()


def meta(n: str, v: str) -> bytes:
    return f"Name: {n}\nVersion: {v}\n".encode()


LAYERS: list[tuple[str, dict[str, bytes]]] = [
    (
        "gzip",
        {
            "var/lib/dpkg/status": status("libc6=2.36", "bash=5.2"),
            "app/old-1.dist-info/METADATA": meta("old", "1"),
            "opt/tool/t-1.dist-info/METADATA": meta("t", "1"),
        },
    ),
    (
        "zstd",
        {
            "var/lib/dpkg/status": status("libc6=2.36", "bash=5.2", "curl=7.88"),
            "app/.wh.old-1.dist-info": b"",
            "opt/tool/.wh..wh..opq": b"",
            "opt/tool/u-2.dist-info/METADATA": meta("u", "2"),
        },
    ),
    (
        "plain",
        {
            "var/lib/dpkg/status": status("libc6=2.36", "bash=5.3", "curl=7.88"),
            "app/new-3.dist-info/METADATA": meta("new", "3"),
        },
    ),
]
EXPECTED = {
    ("libc6", "2.36", 0),
    ("bash", "5.3", 2),
    ("curl", "7.88", 1),
    ("u", "2", 1),
    ("new", "3", 2),
}
MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "plain": "application/vnd.oci.image.layer.v1.tar",
}


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def build_multilayer(directory: Path, tag: str, *, no_zstd: bool = False) -> dict[str, Any]:
    lay = OCILayout(directory)
    descs, diff_ids = [], []
    for kind0, files in LAYERS:
        kind = "gzip" if no_zstd and kind0 == "zstd" else kind0
        tar = layer_tar(files)
        compressors: dict[str, Callable[[bytes], bytes]] = {
            "gzip": lambda t: gzip.compress(t, mtime=0),
            "zstd": lambda t: zstandard.ZstdCompressor().compress(t),
            "plain": lambda t: t,
        }
        blob = compressors[kind](tar)
        descs.append(lay.add_blob(blob, MEDIA[kind]))
        diff_ids.append(_sha(tar))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }
    cfg = lay.add_blob(json.dumps(config).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": descs}
    desc = lay.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
    lay.tag(tag, desc)
    return desc


def skopeo(*args: str) -> None:
    subprocess.run([require_tool("skopeo"), *args], check=True, capture_output=True, timeout=120)


def normalized(inv: ScanInventory) -> set[tuple[str, str, str, str | None]]:
    diff = {lf.digest: lf.diff_id for lf in inv.layers}
    return {(p.name, p.version, p.path, diff[p.layer]) for p in inv.packages}


def test_four_sources_agree(plain_registry: RegistryServer, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    desc = build_multilayer(layout, "v1")
    push(layout, "v1", f"{plain_registry.host}/scan/multi:v1")
    oci_arc, dock_arc = tmp_path / "oci.tar", tmp_path / "docker.tar"
    skopeo("copy", "--quiet", f"oci:{layout}:v1", f"oci-archive:{oci_arc}:v1")
    # skopeo 1.9 cannot put zstd layers into a docker-archive: convert a gzip-only twin
    # (same uncompressed layers, hence the same diff_ids)
    twin = tmp_path / "twin"
    build_multilayer(twin, "v1", no_zstd=True)
    skopeo("copy", "--quiet", f"oci:{twin}:v1", f"docker-archive:{dock_arc}:example.com/multi:v1")

    cache = LayerCache(tmp_path / "cache")
    with RegistryClient() as client:
        src = open_source("registry", f"{plain_registry.host}/scan/multi:v1", registry=client)
        via_reg = Scanner(CATS, cache=cache).scan(src)
        assert client.stats.snapshot()["blob"] == 1 + 3  # config + three layers
        again = Scanner(CATS, cache=cache).scan(src)  # warm: no layer blob fetched again
        assert client.stats.snapshot()["blob"] == 4 and again.packages == via_reg.packages
    via_dir = Scanner(CATS).scan(open_source("oci-layout", f"{layout}:v1"))
    via_oci = Scanner(CATS).scan(open_source("archive", str(oci_arc)))
    via_dock = Scanner(CATS).scan(open_source("archive", f"{dock_arc}:example.com/multi:v1"))

    diff_ids = [lf.diff_id for lf in via_dir.layers]
    for inv in (via_reg, via_dir, via_oci, via_dock):
        assert [lf.diff_id for lf in inv.layers] == diff_ids
        assert normalized(inv) == normalized(via_dir)
        got = {
            (p.name, p.version, [lf.digest for lf in inv.layers].index(p.layer))
            for p in inv.packages
        }
        assert got == EXPECTED
    # skopeo gzips the uncompressed third layer whenever it copies (push, oci-archive): the
    # registry and the OCI archive hold the very same blobs, the original layout differs there
    assert via_reg.packages == via_oci.packages
    assert via_reg.image.digest == via_oci.image.digest
    assert via_dir.image.digest == desc["digest"]
    reg_digests = [lf.digest for lf in via_reg.layers]
    assert [lf.digest for lf in via_dir.layers][:2] == reg_digests[:2]
    # docker-archive blobs are the uncompressed layers: blob digest == diff_id
    assert [lf.digest for lf in via_dock.layers] == diff_ids


def test_multi_arch_platform_selection(plain_registry: RegistryServer, tmp_path: Path) -> None:
    build_index(tmp_path, "m", ["linux/amd64", "linux/arm64"])
    push(tmp_path, "m", f"{plain_registry.host}/scan/index:m")
    with RegistryClient() as client:
        ref = f"{plain_registry.host}/scan/index:m"
        arm = open_source("registry", ref, registry=client, platform=Platform.parse("linux/arm64"))
        info = arm.describe()
        assert info.platform == "linux/arm64"
        inv = Scanner(CATS).scan(arm)
        assert len(inv.layers) == 1 and inv.packages == ()
        from patchwarden.errors import NotFoundError

        bad = open_source(
            "registry", ref, registry=client, platform=Platform.parse("linux/ppc64le")
        )
        with pytest.raises(NotFoundError, match="linux/amd64, linux/arm64") as exc:
            bad.describe()
        assert exc.value.exit_code == 2  # docs/commands/scan.md: a platform not there is usage
    # and through the CLI, as a user meets it
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "scan",
            ref,
            "--platform",
            "linux/ppc64le",
            "--sbom-only",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "no image for platform linux/ppc64le" in proc.stderr
