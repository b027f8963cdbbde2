"""The layer reader: compressions, verification, hostile input, cataloger failures."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from patchwarden.scan.errors import CorruptImageError, HostileLayerError, LayerDigestError
from patchwarden.scan.layer_cache import LayerCache
from patchwarden.scan.layers import read_layer
from patchwarden.scan.limits import Limits
from patchwarden.scan.model import Cataloger, LayerFacts, LayerRef
from patchwarden.scan.scanner import Scanner
from testkit.scanner_helpers import (
    DpkgCataloger,
    ExplodingCataloger,
    MemorySource,
    PipCataloger,
    compress,
    dpkg_status,
    layer,
    metadata,
    sha,
    tar_bytes,
)

STATUS = dpkg_status(("libc6", "2.36-9"), ("bash", "5.2-1"))


def _read(
    blob: bytes,
    catalogers: Sequence[Cataloger] | None = None,
    limits: Limits | None = None,
    digest: str | None = None,
) -> LayerFacts:
    ref = LayerRef(digest or sha(blob), "x", len(blob))
    return read_layer(io.BytesIO(blob), ref, catalogers or [DpkgCataloger()], limits or Limits())


@pytest.mark.parametrize("kind", ["gzip", "zstd", "plain"])
def test_reads_each_compression_by_magic(kind: str) -> None:
    blob = layer([("./var/lib/dpkg/status", STATUS), ("etc/hostname", b"x")], kind)
    facts = _read(blob)
    assert facts.entries == 2
    assert [p.name for p in facts.files["var/lib/dpkg/status"].packages] == ["libc6", "bash"]


def test_multi_member_gzip_and_multi_frame_zstd() -> None:
    tar = tar_bytes([("var/lib/dpkg/status", STATUS)])
    half = len(tar) // 2
    gz = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    assert "var/lib/dpkg/status" in _read(gz).files
    zs = compress(tar[:half], "zstd") + compress(tar[half:], "zstd")
    assert "var/lib/dpkg/status" in _read(zs).files


def test_whiteouts_and_opaque_dirs_recorded() -> None:
    blob = layer([("usr/lib/.wh.libfoo.so", b""), ("opt/app/.wh..wh..opq", b""), (".wh.tmp", b"")])
    facts = _read(blob)
    assert facts.whiteouts == ("tmp", "usr/lib/libfoo.so")
    assert facts.opaque_dirs == ("opt/app",)


def test_bad_digest_names_expected_and_actual() -> None:
    blob = layer([("var/lib/dpkg/status", STATUS)])
    wrong = "sha256:" + "ab" * 32
    with pytest.raises(LayerDigestError) as ei:
        _read(blob, digest=wrong)
    assert wrong in str(ei.value) and sha(blob) in str(ei.value)
    assert "sha256:abababababab" in ei.value.message


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../x", "/../../etc/shadow"])
def test_path_traversal_refused(name: str) -> None:
    with pytest.raises(HostileLayerError, match="path traversal"):
        _read(layer([(name, b"root::0:0")]))


def test_hardlink_traversal_refused() -> None:
    blob = layer([("var/lib/dpkg/status", STATUS), ("x", "lnk", "../../etc/passwd")])
    with pytest.raises(HostileLayerError, match="path traversal"):
        _read(blob)


def test_decompression_bomb_refused() -> None:
    blob = layer([("zeros", bytes(4 * 1024 * 1024))])
    assert len(blob) < 10_000
    with pytest.raises(HostileLayerError, match="decompression bomb"):
        _read(blob, limits=Limits(max_layer_bytes=1024 * 1024))


def test_decompression_bomb_of_many_small_files_refused() -> None:
    blob = layer([(f"z{i}", bytes(256 * 1024)) for i in range(8)])
    with pytest.raises(HostileLayerError, match=r"layer expands beyond 1048576 bytes"):
        _read(blob, limits=Limits(max_layer_bytes=1024 * 1024))


def test_too_many_entries_refused() -> None:
    blob = layer([(f"f{i}", b"") for i in range(50)])
    with pytest.raises(HostileLayerError, match="more than 10 tar entries"):
        _read(blob, limits=Limits(max_entries=10))


def test_truncated_gzip_is_corrupt() -> None:
    blob = layer([("var/lib/dpkg/status", STATUS * 50)])
    with pytest.raises(CorruptImageError, match="gzip data is corrupt or truncated"):
        _read(blob[: len(blob) // 2])


def test_not_a_tar_is_corrupt() -> None:
    with pytest.raises(CorruptImageError, match="not a valid tar"):
        _read(gzip.compress(b"this is not a tar archive at all" * 40))


def test_empty_blob_is_an_empty_layer() -> None:
    assert _read(b"").entries == 0


def test_cataloger_exception_is_a_warning() -> None:
    facts = _read(layer([("var/lib/dpkg/status", STATUS)]), [ExplodingCataloger(), DpkgCataloger()])
    assert len(facts.files["var/lib/dpkg/status"].packages) == 2
    assert any("test-boom" in w and "kaboom" in w for w in facts.warnings)


def test_oversized_wanted_file_skipped_with_warning() -> None:
    facts = _read(layer([("var/lib/dpkg/status", STATUS)]), limits=Limits(max_file_bytes=10))
    assert "var/lib/dpkg/status" not in facts.files
    assert any("per-file limit" in w for w in facts.warnings)


def test_hardlink_to_wanted_file_resolved_in_layer() -> None:
    meta = metadata("requests", "2.31.0")
    blob = layer(
        [
            ("a/x-1.dist-info/METADATA", meta),
            ("b/x-1.dist-info/METADATA", "lnk", "a/x-1.dist-info/METADATA"),
        ]
    )
    facts = _read(blob, [PipCataloger()])
    assert facts.files["a/x-1.dist-info/METADATA"].packages[0].name == "requests"
    # the link is the same file: recorded (it replaces lower files) but not catalogued again
    assert facts.files["b/x-1.dist-info/METADATA"].packages == ()
    assert facts.links == {"b/x-1.dist-info/METADATA": "a/x-1.dist-info/METADATA"}


def test_hardlinks_are_catalogued_once() -> None:
    """100 links to one database: one catalog call, packages counted once (was 101 calls and
    101x the packages: a 48 KB layer gave 1.88 million packages)."""
    status = dpkg_status(*((f"p{i}", "1.0") for i in range(50)))
    links = [(f"var/lib/dpkg/info/l{i}.list", "lnk", "var/lib/dpkg/status") for i in range(100)]
    cat = DpkgCataloger()
    src = MemorySource([layer([("var/lib/dpkg/status", status), *links])])
    inv = Scanner([cat]).scan(src)
    assert cat.calls == 1
    assert len(inv.packages) == 50
    assert {p.path for p in inv.packages} == {"var/lib/dpkg/status"}


def test_chained_hardlinks_point_at_the_catalogued_file() -> None:
    meta = metadata("requests", "2.31.0")
    facts = _read(
        layer(
            [
                ("a/x-1.dist-info/METADATA", meta),
                ("b", "lnk", "a/x-1.dist-info/METADATA"),
                ("c/x-1.dist-info/METADATA", "lnk", "b"),
            ]
        ),
        [PipCataloger()],
    )
    assert facts.links["c/x-1.dist-info/METADATA"] == "a/x-1.dist-info/METADATA"


def test_package_bomb_in_one_layer_refused() -> None:
    status = dpkg_status(*((f"p{i}", "1.0") for i in range(30)))
    with pytest.raises(HostileLayerError, match="more than 20 packages"):
        _read(layer([("var/lib/dpkg/status", status)]), limits=Limits(max_packages=20))


def test_owned_path_bomb_in_one_layer_refused() -> None:
    lst = "".join(f"/usr/f{i}\n" for i in range(30)).encode()
    with pytest.raises(HostileLayerError, match="more than 20 paths"):
        _read(layer([("var/lib/dpkg/info/a.list", lst)]), limits=Limits(max_owned_paths=20))


def test_packages_across_layers_bounded_per_scan() -> None:
    a = layer([("var/lib/dpkg/status", dpkg_status(*((f"a{i}", "1") for i in range(15))))])
    b = layer(
        [
            ("x/var/lib/dpkg/status", b""),
            ("var/lib/dpkg/status", dpkg_status(*((f"b{i}", "1") for i in range(15)))),
        ]
    )
    limits = Limits(max_packages=20, max_scan_packages=25)
    with pytest.raises(HostileLayerError, match="25 packages"):
        Scanner([DpkgCataloger()], limits=limits).scan(MemorySource([a, b]))


def test_cataloger_max_bytes_caps_files_held_whole() -> None:
    from patchwarden.scan.catalogers.dpkg import DpkgCataloger as RealDpkg
    from patchwarden.scan.layers import Collector

    col = Collector([RealDpkg()], Limits(), "sha256:" + "0" * 64)
    assert col.too_big("var/lib/dpkg/status", 250 * 1024 * 1024, [RealDpkg()])
    assert any("33554432-byte per-file limit" in w for w in col.warnings)
    assert not col.too_big("var/lib/dpkg/status", 4 * 1024 * 1024, [RealDpkg()])


@pytest.mark.parametrize(
    "bad",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # bit flip (gzip trailer -> digest/crc)
    ],
)
def test_failed_layer_is_not_cached(tmp_path: Path, bad: Callable[[bytes], bytes]) -> None:
    good = layer([("var/lib/dpkg/status", STATUS * 20)])
    src = MemorySource([bad(good)], digests=[sha(good)])
    cache = LayerCache(tmp_path)
    with pytest.raises(CorruptImageError):
        Scanner([DpkgCataloger()], cache=cache).scan(src)
    assert not list(tmp_path.rglob("*.json"))


def test_scan_limits_from_environment() -> None:
    from patchwarden.errors import UsageError

    limits = Limits.from_env({"PATCHWARDEN_SCAN_MAX_LAYER_BYTES": "8_388_608"})
    assert limits.max_layer_bytes == 8 * 1024 * 1024
    assert limits.max_entries == Limits().max_entries
    with pytest.raises(UsageError, match="PATCHWARDEN_SCAN_MAX_ENTRIES must be a positive"):
        Limits.from_env({"PATCHWARDEN_SCAN_MAX_ENTRIES": "-1"})


def test_a_cataloger_refusing_a_bomb_refuses_the_layer_naming_the_file() -> None:
    from patchwarden.scan.catalogers import dpkg
    from patchwarden.scan.catalogers.dpkg import DpkgCataloger as RealDpkg

    status = b"".join(
        f"Package: p{i}\nStatus: install ok installed\nVersion: 1\n\n".encode()
        for i in range(dpkg.MAX_PACKAGES + 1)
    )
    with pytest.raises(HostileLayerError, match="var/lib/dpkg/status: more than 50000"):
        _read(layer([("var/lib/dpkg/status", status)]), [RealDpkg()])


def test_layer_content_must_match_the_config_diff_id() -> None:
    raw = tar_bytes([("var/lib/dpkg/status", STATUS)])
    blob = compress(raw, "gzip")
    good = LayerRef(sha(blob), "x", len(blob), diff_id=sha(raw))
    assert read_layer(io.BytesIO(blob), good, [DpkgCataloger()], Limits()).files
    lying = LayerRef(sha(blob), "x", len(blob), diff_id=sha(raw + b"\0"))
    with pytest.raises(CorruptImageError, match="config's diff_id says"):
        read_layer(io.BytesIO(blob), lying, [DpkgCataloger()], Limits())
