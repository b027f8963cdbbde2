"""Whiteouts, opaque dirs, attribution, OS choice and OS/language dedup across layers."""

from __future__ import annotations

from patchwarden.scan.model import Cataloger, ScanInventory
from patchwarden.scan.scanner import Scanner
from testkit.scanner_helpers import (
    DpkgCataloger,
    MemorySource,
    OsReleaseCataloger,
    PipCataloger,
    dpkg_status,
    layer,
    metadata,
    sha,
)

CATS: list[Cataloger] = [DpkgCataloger(), PipCataloger(), OsReleaseCataloger()]
SP = "usr/lib/python3/dist-packages"


def _scan(*layers: bytes) -> ScanInventory:
    return Scanner(CATS, max_workers=3).scan(MemorySource(list(layers)))


def _pk(inv: ScanInventory) -> set[tuple[str, str, str, str]]:
    return {(p.name, p.version, p.path, p.layer) for p in inv.packages}


def test_three_layers_whiteout_opaque_and_attribution() -> None:
    l1 = layer(
        [
            ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            ("var/lib/dpkg/status", dpkg_status(("libc6", "2.36"), ("bash", "5.2"))),
            ("app/a-1.dist-info/METADATA", metadata("a", "1")),
            ("app/b-1.dist-info/METADATA", metadata("b", "1")),
            ("opt/x/c-1.dist-info/METADATA", metadata("c", "1")),
        ]
    )
    l2 = layer(
        [
            # every layer rewrites the status file; libc6 stays attributed to layer 1
            ("var/lib/dpkg/status", dpkg_status(("libc6", "2.36"), ("bash", "5.2"), ("curl", "7"))),
            ("app/.wh.a-1.dist-info", b""),  # whiteout of a directory removes what is under it
            ("opt/x/.wh..wh..opq", b""),  # opaque: lower opt/x content hidden...
            ("opt/x/d-1.dist-info/METADATA", metadata("d", "1")),  # ...but this layer's stays
        ],
        "zstd",
    )
    l3 = layer(
        [
            ("var/lib/dpkg/status", dpkg_status(("libc6", "2.36"), ("bash", "5.3"), ("curl", "7"))),
            ("app/a-1.dist-info/METADATA", metadata("a", "1")),  # re-added: attributed to l3
            ("etc/os-release", b'ID=debian\nVERSION_ID="13"\n'),
        ],
        "plain",
    )
    d1, d2, d3 = sha(l1), sha(l2), sha(l3)
    inv = _scan(l1, l2, l3)
    st = "var/lib/dpkg/status"
    assert _pk(inv) == {
        ("libc6", "2.36", st, d1),
        ("bash", "5.3", st, d3),  # upgraded in layer 3
        ("curl", "7", st, d2),
        ("a", "1", "app/a-1.dist-info/METADATA", d3),
        ("b", "1", "app/b-1.dist-info/METADATA", d1),
        ("d", "1", "opt/x/d-1.dist-info/METADATA", d2),
    }
    assert inv.os is not None and inv.os.version_id == "13"
    assert [lf.digest for lf in inv.layers] == [d1, d2, d3]
    names = [p.name for p in inv.packages]
    assert names == ["bash", "curl", "libc6", "a", "b", "d"]  # deterministic order


def test_deleted_status_file_removes_packages_and_readd_resets_layer() -> None:
    st = dpkg_status(("libc6", "2.36"))
    l1 = layer([("var/lib/dpkg/status", st)])
    l2 = layer([("var/lib/.wh.dpkg", b"")])
    l3 = layer([("var/lib/dpkg/status", st)])
    assert _pk(_scan(l1, l2)) == set()
    assert _pk(_scan(l1, l2, l3)) == {("libc6", "2.36", "var/lib/dpkg/status", sha(l3))}


def test_symlink_over_wanted_file_hides_lower_file() -> None:
    l1 = layer([("var/lib/dpkg/status", dpkg_status(("libc6", "2.36")))])
    l2 = layer([("var/lib/dpkg/status", "sym", "/dev/null")])
    assert _pk(_scan(l1, l2)) == set()


def test_language_packages_owned_by_os_are_dropped() -> None:
    owned = f"/{SP}/pip-23.0.dist-info/METADATA\n/{SP}/pip-23.0.dist-info\n"
    l1 = layer(
        [
            ("var/lib/dpkg/status", dpkg_status(("python3-pip", "23.0"))),
            ("var/lib/dpkg/info/python3-pip.list", owned.encode()),
            (f"{SP}/pip-23.0.dist-info/METADATA", metadata("pip", "23.0")),
            (
                "usr/local/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA",
                metadata("pip", "24.0"),
            ),
        ]
    )
    inv = _scan(l1)
    assert sorted((p.name, p.version) for p in inv.packages) == [
        ("pip", "24.0"),
        ("python3-pip", "23.0"),
    ]


def test_hardlink_keeps_the_file_when_an_upper_layer_deletes_the_target() -> None:
    l1 = layer(
        [
            ("var/lib/dpkg/status", dpkg_status(("bash", "5.2"))),
            ("var/lib/dpkg/status.bak", "lnk", "var/lib/dpkg/status"),
        ]
    )
    l2 = layer([("var/lib/dpkg/.wh.status", b"")])
    inv = _scan(l1, l2)
    assert [(p.name, p.path, p.layer) for p in inv.packages] == [
        ("bash", "var/lib/dpkg/status.bak", inv.layers[0].digest)
    ]
    inv = _scan(l1)  # without the deletion: reported once, at the catalogued path
    assert [(p.name, p.path) for p in inv.packages] == [("bash", "var/lib/dpkg/status")]
