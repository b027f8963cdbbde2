"""Local sources: rootfs, OCI layout directories and hand-made docker archives."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from patchwarden.devtools.oci_builder import OCILayout, build_index
from patchwarden.registry.model import Platform
from patchwarden.scan.errors import CorruptImageError, ImageSelectionError, SourceNotFoundError
from patchwarden.scan.model import Cataloger
from patchwarden.scan.scanner import Scanner
from patchwarden.scan.sources import open_source
from patchwarden.scan.sources.archive import ArchiveSource
from testkit.scanner_helpers import DpkgCataloger, OsReleaseCataloger, dpkg_status, sha, tar_bytes

CATS: list[Cataloger] = [DpkgCataloger(), OsReleaseCataloger()]
STATUS = dpkg_status(("libc6", "2.36"))


def test_rootfs_walks_without_following_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "var/lib/dpkg").mkdir(parents=True)
    (outside / "var/lib/dpkg/status").write_bytes(dpkg_status(("evil", "1")))
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(STATUS)
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to(outside / "etc-os-release")
    (root / "escape").symlink_to(outside)  # a directory symlink out of the tree
    inv = Scanner(CATS).scan(open_source("rootfs", str(root)))
    assert [(p.name, p.path) for p in inv.packages] == [("libc6", "var/lib/dpkg/status")]
    assert inv.packages[0].layer == f"rootfs:{root.resolve()}"


def test_missing_rootfs_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        open_source("rootfs", str(tmp_path / "nope"))


def test_oci_layout_tag_and_platform(tmp_path: Path) -> None:
    build_index(tmp_path, "multi", ["linux/amd64", "linux/arm64"])
    src = open_source("oci-layout", f"{tmp_path}:multi", platform=Platform.parse("linux/arm64"))
    assert src.describe().platform == "linux/arm64"
    with pytest.raises(ImageSelectionError, match="available platforms: linux/amd64, linux/arm64"):
        open_source(
            "oci-layout", f"{tmp_path}:multi", platform=Platform.parse("linux/s390x")
        ).describe()
    with pytest.raises(ImageSelectionError, match=r"no image tagged 'nope'.*multi"):
        open_source("oci-layout", f"{tmp_path}:nope").describe()


def _docker_archive(path: Path, images: dict[str, bytes]) -> dict[str, str]:
    """A legacy `docker save` tar: <id>/layer.tar + <config>.json + manifest.json."""
    manifest, members, diff = [], {}, {}
    for i, (tag, layer_tar) in enumerate(images.items()):
        cfg = json.dumps(
            {
                "os": "linux",
                "architecture": "amd64",
                "rootfs": {"type": "layers", "diff_ids": [sha(layer_tar)]},
            }
        ).encode()
        cfg_name = sha(cfg).split(":")[1] + ".json"
        members[f"id{i}/layer.tar"] = layer_tar
        members[cfg_name] = cfg
        manifest.append({"Config": cfg_name, "RepoTags": [tag], "Layers": [f"id{i}/layer.tar"]})
        diff[tag] = sha(layer_tar)
    members["manifest.json"] = json.dumps(manifest).encode()
    path.write_bytes(tar_bytes(list(members.items())))
    return diff


def test_docker_archive_picks_by_repotag(tmp_path: Path) -> None:
    a = tar_bytes([("var/lib/dpkg/status", STATUS)])
    b = tar_bytes([("var/lib/dpkg/status", dpkg_status(("musl", "1.2")))])
    arc = tmp_path / "save.tar"
    diff = _docker_archive(arc, {"example.com/a:1": a, "b:2": b})
    with pytest.raises(ImageSelectionError, match="holds 2 images"):
        open_source("archive", str(arc)).describe()
    inv = Scanner(CATS).scan(open_source("archive", f"{arc}:docker.io/library/b:2"))
    assert [(p.name, p.layer) for p in inv.packages] == [("musl", diff["b:2"])]
    inv = Scanner(CATS).scan(open_source("archive", f"{arc}:example.com/a:1"))
    assert [p.name for p in inv.packages] == ["libc6"]


def test_docker_archive_config_must_match_its_name(tmp_path: Path) -> None:
    """A config swapped under another's name would hand the scan another image's diff_ids."""
    import tarfile

    a = tar_bytes([("var/lib/dpkg/status", STATUS)])
    arc = tmp_path / "save.tar"
    _docker_archive(arc, {"a:1": a})
    with tarfile.open(arc) as tar:
        members = {
            m.name: f.read() for m in tar if m.isfile() and (f := tar.extractfile(m)) is not None
        }
    cfg_name = next(n for n in members if n.endswith(".json") and n != "manifest.json")
    members[cfg_name] = members[cfg_name].replace(b'"amd64"', b'"arm64"')
    arc.write_bytes(tar_bytes(list(members.items())))
    with pytest.raises(CorruptImageError, match="does not match its name"):
        open_source("archive", str(arc)).describe()


def test_oci_archive_reads_blobs_in_place(tmp_path: Path) -> None:
    lay = OCILayout(tmp_path / "lay")
    desc = lay.add_image({"var/lib/dpkg/status": STATUS})
    lay.tag("v1", desc)
    arc = tmp_path / "oci.tar"
    with tarfile.open(arc, "w") as tar:
        for p in sorted((tmp_path / "lay").rglob("*")):
            tar.add(p, arcname=os.path.relpath(p, tmp_path / "lay"), recursive=False)
    via_arc = Scanner(CATS).scan(open_source("archive", str(arc)))
    via_dir = Scanner(CATS).scan(open_source("oci-layout", str(tmp_path / "lay")))
    assert via_arc.packages == via_dir.packages and via_arc.packages
    assert via_arc.image.digest == desc["digest"]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_docker_archive_is_scanned_like_the_plain_one(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker save app | gzip > app.tar.gz` (and zstd): what --help promises."""
    import gzip

    import zstandard

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    layer = tar_bytes([("var/lib/dpkg/status", STATUS)])
    plain = tmp_path / "save.tar"
    _docker_archive(plain, {"app:1": layer})
    data = plain.read_bytes()
    packed = tmp_path / f"save.tar.{'gz' if kind == 'gzip' else 'zst'}"
    packed.write_bytes(
        gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data)
    )

    src = open_source("archive", str(packed))
    assert isinstance(src, ArchiveSource)
    inv = Scanner(CATS).scan(src)

    assert [p.name for p in inv.packages] == ["libc6"]
    assert inv.packages == Scanner(CATS).scan(open_source("archive", str(plain))).packages
    assert str(packed) in inv.image.name and "patchwarden-archive-" not in inv.image.name
    assert len(list((tmp_path / "tmp").iterdir())) == 1  # the inflated copy, until closed
    src.close()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_compressed_archive_that_inflates_past_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import tempfile

    from patchwarden.errors import ExitCode
    from patchwarden.scan.errors import ScanError
    from patchwarden.scan.sources.archive import ArchiveSource

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (8 << 20)))  # 8 MiB of zeros in ~8 KiB

    with pytest.raises(ScanError, match="inflates to more than 1 MiB") as exc:
        ArchiveSource(str(bomb), Platform.host(), max_archive_bytes=1 << 20)
    assert exc.value.exit_code == ExitCode.ERRORS
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.tar.gz"]  # no partial copy left


def test_a_truncated_compressed_archive_is_a_clear_error(tmp_path: Path) -> None:
    import gzip

    from patchwarden.scan.errors import CorruptImageError

    plain = tmp_path / "save.tar"
    _docker_archive(plain, {"app:1": tar_bytes([("var/lib/dpkg/status", STATUS)])})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(gzip.compress(plain.read_bytes())[:200])
    with pytest.raises(CorruptImageError, match="could not be decompressed"):
        open_source("archive", str(cut))
