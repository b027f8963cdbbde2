from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest

from patchwarden.scan.catalogers.rpm import RpmDbCataloger, parse_header, split_source_rpm
from patchwarden.scan.model import PackageFact
from testkit.cataloger_helpers import entry, persistent_dir, walk
from testkit.locks import one_at_a_time
from testkit.tools import require_tool

CAT = RpmDbCataloger()

SPECS = {
    "tinya": (
        "Epoch: 2\nVersion: 1.2.3\nRelease: 4.el9\nLicense: MIT and BSD\nVendor: Red Hat, Inc.\n",
        ["usr/share/tinya/a.txt", "usr/share/tinya/b.txt"],
    ),
    "tinyb": (
        "Version: 0.9\nRelease: 1.fc39\nLicense: GPL-2.0-or-later\nVendor: Fedora Project\n",
        ["usr/bin/tinyb"],
    ),
    # Many files: a header bigger than a 4 KiB BerkeleyDB page (stored on overflow pages).
    "tinyc": (
        "Epoch: 0\nVersion: 3.0\nRelease: 7.el8_9\nLicense: ASL 2.0\n",
        [f"usr/lib/tinyc/module_{i:03d}.dat" for i in range(300)],
    ),
}
QF = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n"


def _spec(name: str, fields: str, files: list[str]) -> str:
    install = "\n".join(
        f"mkdir -p %{{buildroot}}/{Path(f).parent}\necho {i} > %{{buildroot}}/{f}"
        for i, f in enumerate(files)
    )
    return (
        f"Name: {name}\n{fields}Summary: tiny\nBuildArch: noarch\n%description\ntiny\n"
        f"%install\n{install}\n%files\n" + "\n".join("/" + f for f in files) + "\n"
    )


@pytest.fixture(scope="session")
@one_at_a_time
def rpmdb(request: pytest.FixtureRequest) -> Path:
    """A sqlite rpmdb made by the real rpm 4.18 with three rpms built by rpmbuild."""
    rpm = require_tool("rpm")
    rpmbuild = require_tool("rpmbuild")
    base = persistent_dir(request.config, "rpm")
    db = base / "db"
    if (db / "rpmdb.sqlite").is_file() and (base / "done").is_file():
        return db
    shutil.rmtree(base / "top", ignore_errors=True)
    shutil.rmtree(db, ignore_errors=True)
    rpms = []
    for name, (fields, files) in SPECS.items():
        spec = base / f"{name}.spec"
        spec.write_text(_spec(name, fields, files))
        subprocess.run(
            [rpmbuild, "-bb", "--define", f"_topdir {base / 'top'}", str(spec)],
            check=True,
            capture_output=True,
        )
    rpms = sorted(str(p) for p in (base / "top" / "RPMS").rglob("*.rpm"))
    assert len(rpms) == len(SPECS)
    db.mkdir()
    subprocess.run([rpm, "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
    subprocess.run(
        [
            rpm,
            "--dbpath",
            str(db),
            "-i",
            "--justdb",
            "--nodeps",
            "--nosignature",
            "--nodigest",
            *rpms,
        ],
        check=True,
        capture_output=True,
    )
    (base / "done").write_text("ok")
    return db


def _rpm_qa(db: Path) -> set[tuple[str, ...]]:
    rpm = require_tool("rpm")
    out = subprocess.run(
        [rpm, "--dbpath", str(db), "-qa", "--qf", QF], check=True, capture_output=True, text=True
    ).stdout
    rows: set[tuple[str, ...]] = set()
    for line in out.splitlines():
        name, epoch, version, release, arch, srpm, lic = line.split("\t")
        evr = f"{version}-{release}" if epoch == "(none)" else f"{epoch}:{version}-{release}"
        rows.add((name, evr, arch, srpm, lic))
    return rows


def _rpm_qal(db: Path) -> list[str]:
    rpm = require_tool("rpm")
    out = subprocess.run(
        [rpm, "--dbpath", str(db), "-qal"], check=True, capture_output=True, text=True
    ).stdout
    return sorted(p.lstrip("/") for p in out.split())


def _ours(facts_packages: tuple[PackageFact, ...]) -> set[tuple[str, ...]]:
    rows: set[tuple[str, ...]] = set()
    for p in facts_packages:
        assert p.source_version is not None and p.arch is not None
        src = f"{p.source_name}-{p.source_version.split(':', 1)[-1]}.src.rpm"
        rows.add((p.name, p.version, p.arch, src, p.licenses[0]))
    return rows


def test_wants() -> None:
    assert CAT.wants("var/lib/rpm/rpmdb.sqlite", 0o644, 10)
    assert CAT.wants("usr/lib/sysimage/rpm/rpmdb.sqlite", 0o644, 10)
    assert CAT.wants("var/lib/rpm/Packages", 0o644, 10)
    assert not CAT.wants("var/lib/rpm/rpmdb.sqlite-wal", 0o644, 10)
    assert not CAT.wants("var/lib/rpm/Packages.db", 0o644, 10)  # NDB: documented gap


def test_split_source_rpm() -> None:
    assert split_source_rpm("openssl-3.0.7-24.el9.src.rpm") == ("openssl", "3.0.7-24.el9")
    assert split_source_rpm("python3.11-3.11.5-1.el9_3.src.rpm") == ("python3.11", "3.11.5-1.el9_3")
    assert split_source_rpm("garbage") is None


def test_corrupt_headers() -> None:
    with pytest.raises((ValueError, struct.error)):
        parse_header(b"\x00\x00\x00\x05\x00\x00\x00\x10")
    assert (
        parse_header(struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, 100, 1) + b"abc\0")
        == {}
    )


@pytest.mark.integration
def test_ground_truth_sqlite(rpmdb: Path) -> None:
    expected = _rpm_qa(rpmdb)
    assert len(expected) == 3
    facts = walk(CAT, rpmdb, prefix="var/lib/rpm/")
    assert list(facts) == ["var/lib/rpm/rpmdb.sqlite"]
    f = facts["var/lib/rpm/rpmdb.sqlite"]
    assert _ours(f.packages) == expected
    purls = {p.name: p.purl for p in f.packages}
    assert purls["tinya"] == "pkg:rpm/redhat/tinya@1.2.3-4.el9?arch=noarch&epoch=2"
    assert purls["tinyb"] == "pkg:rpm/fedora/tinyb@0.9-1.fc39?arch=noarch"
    assert purls["tinyc"] == "pkg:rpm/redhat/tinyc@3.0-7.el8_9?arch=noarch&epoch=0"
    assert sorted(f.owned_paths) == _rpm_qal(rpmdb)


@pytest.mark.integration
@pytest.mark.parametrize("pagesize", [512, 4096])
def test_ground_truth_berkeleydb(rpmdb: Path, tmp_path: Path, pagesize: int) -> None:
    """RHEL <= 8 layout: the same real header blobs in a hash database written by libdb itself.

    (Debian's rpm cannot write BerkeleyDB any more, so db5.3_load builds the file.)
    """
    db_load = require_tool("db5.3_load")
    conn = sqlite3.connect(f"file:{rpmdb / 'rpmdb.sqlite'}?mode=ro", uri=True)
    rows = conn.execute("SELECT hnum, blob FROM Packages").fetchall()
    conn.close()
    dump = "".join(
        "".join(f"\\{b:02x}" for b in struct.pack("<I", hnum))
        + "\n"
        + "".join(f"\\{b:02x}" for b in blob)
        + "\n"
        for hnum, blob in rows
    )
    target = tmp_path / "Packages"
    subprocess.run(
        [db_load, "-c", f"db_pagesize={pagesize}", "-T", "-t", "hash", str(target)],
        input=dump.encode(),
        check=True,
        capture_output=True,
    )
    f = CAT.catalog(entry("var/lib/rpm/Packages", target.read_bytes()))
    assert _ours(f.packages) == _rpm_qa(rpmdb)
    assert sorted(f.owned_paths) == _rpm_qal(rpmdb)


def test_sqlite_garbage() -> None:
    assert (
        CAT.catalog(
            entry("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\x00" + b"\x02" * 200)
        ).packages
        == ()
    )
