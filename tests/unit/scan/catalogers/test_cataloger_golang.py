from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from patchwarden.scan.catalogers.golang import (
    MAGIC,
    GoBinaryCataloger,
    parse_modinfo,
    stdlib_version,
)
from testkit.cataloger_helpers import entry, persistent_dir, walk
from testkit.locks import one_at_a_time
from testkit.tools import require_tool

CAT = GoBinaryCataloger()
MIB = 1024 * 1024
SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")

MODINFO = (
    "path\texample.com/tool\n"
    "mod\texample.com/tool\tv1.4.0\th1:abc=\n"
    "dep\tgolang.org/x/net\tv0.17.0\th1:def=\n"
    "dep\tgithub.com/old/lib\tv1.0.0\th1:ghi=\n"
    "=>\tgithub.com/fork/lib\tv1.0.1-fix\th1:jkl=\n"
    "dep\texample.com/local\tv0.0.0\n"
    "=>\t../local\t\t\n"
    "dep\tgithub.com/Azure/go-autorest\tv14.2.0+incompatible\th1:x=\n"
    "build\t-compiler=gc\n"
    "build\tCGO_ENABLED=0\n"
)


def _inline_blob(go_version: str, modinfo: str) -> bytes:
    def varstr(b: bytes) -> bytes:
        n, out = len(b), bytearray()
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out) + b

    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END if modinfo else b""
    header = MAGIC + bytes([8, 2]) + b"\0" * 16
    return header + varstr(go_version.encode()) + varstr(mod)


def test_wants() -> None:
    assert CAT.wants("usr/local/bin/app", 0o755, 2 * MIB)
    assert CAT.wants("app", 0o100, 2 * MIB)
    assert not CAT.wants("usr/local/bin/app", 0o644, 2 * MIB)
    assert not CAT.wants("usr/bin/small", 0o755, MIB - 1)
    assert not CAT.wants("huge", 0o755, 1024 * MIB)


def test_parse_modinfo_and_facts() -> None:
    data = (
        b"\x7fELF" + b"\0" * 1000 + MAGIC + b"junk" + b"\0" * 12 + _inline_blob("go1.21.5", MODINFO)
    )
    facts = CAT.catalog(entry("usr/bin/tool", data, 0o755))
    got = {(p.name, p.version, p.purl) for p in facts.packages}
    assert got == {
        ("example.com/tool", "v1.4.0", "pkg:golang/example.com/tool@v1.4.0"),
        ("golang.org/x/net", "v0.17.0", "pkg:golang/golang.org/x/net@v0.17.0"),
        ("github.com/old/lib", "v1.0.1-fix", "pkg:golang/github.com/old/lib@v1.0.1-fix"),
        (
            "github.com/Azure/go-autorest",
            "v14.2.0+incompatible",
            "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible",
        ),
        ("stdlib", "1.21.5", "pkg:golang/stdlib@1.21.5"),
    }
    info = parse_modinfo("go1.21.5", MODINFO)
    assert info.deps[1].replaced_by == "github.com/fork/lib"


def test_devel_main_and_no_modinfo() -> None:
    devel = "path\tx\nmod\texample.com/x\t(devel)\t\n"
    facts = CAT.catalog(entry("x", _inline_blob("go1.22rc1 X:boringcrypto", devel), 0o755))
    assert [(p.name, p.version) for p in facts.packages] == [("stdlib", "1.22rc1")]
    facts = CAT.catalog(entry("x", _inline_blob("go1.20.3", ""), 0o755))
    assert [(p.name, p.version) for p in facts.packages] == [("stdlib", "1.20.3")]
    assert stdlib_version("devel go1.23-abcdef") is None


def test_truncated_and_not_go() -> None:
    blob = _inline_blob("go1.21.5", MODINFO)
    assert CAT.catalog(entry("x", blob[:40], 0o755)).packages == ()
    assert CAT.catalog(entry("x", b"\x7fELF" + b"\0" * 5000, 0o755)).packages == ()


def _elf64(payload: bytes, base: int = 0x400000) -> bytes:
    """A minimal little-endian ELF64 with one PT_LOAD segment mapping the whole file at base."""
    ehdr_size, phdr_size = 64, 56
    total = ehdr_size + phdr_size + len(payload)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, base, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 64, 0, 0
    )
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
    return ehdr + phdr + payload


def test_old_pointer_format_elf() -> None:
    """Go 1.13-1.17: the header holds pointers to Go string headers (ptr, len)."""
    base = 0x400000
    start = 64 + 56
    vers, mod = b"go1.16.15", SENTINEL_START + MODINFO.encode() + SENTINEL_END
    header_len = 32
    vers_at = start + header_len
    mod_at = vers_at + len(vers)
    strhdr_at = mod_at + len(mod)  # two string headers: (ptr, len) x 2
    payload = MAGIC + bytes([8, 0])
    payload += struct.pack("<QQ", base + strhdr_at, base + strhdr_at + 16)
    payload += vers + mod
    payload += struct.pack("<QQQQ", base + vers_at, len(vers), base + mod_at, len(mod))
    data = _elf64(payload, base)
    facts = CAT.catalog(entry("x", data, 0o755))
    got = {(p.name, p.version) for p in facts.packages}
    assert ("stdlib", "1.16.15") in got
    assert ("golang.org/x/net", "v0.17.0") in got
    assert len(got) == 5


# --- ground truth: a real binary built offline by the real toolchain -------------------------

MODULES = {
    # (zip module path, version): (go.mod module line, files)
    ("example.com/dep", "v0.1.0"): (
        "example.com/dep",
        {"dep.go": 'package dep\n\nfunc Hello() string { return "hi" }\n'},
    ),
    ("example.com/new", "v1.2.0"): (
        "example.com/old",
        {"old.go": 'package old\n\nfunc Name() string { return "new" }\n'},
    ),
}
MAIN_GO = """package main

import (
\t"fmt"

\t"example.com/dep"
\t"example.com/local"
\t"example.com/old"
)

func main() { fmt.Println(dep.Hello(), old.Name(), local.X) }
"""
GO_MOD = """module example.com/hello

go 1.19

require (
\texample.com/dep v0.1.0
\texample.com/local v0.0.0
\texample.com/old v1.0.0
)

replace example.com/old => example.com/new v1.2.0

replace example.com/local => ./local
"""


def _write_proxy(proxy: Path) -> None:
    for (path, version), (declared, files) in MODULES.items():
        d = proxy / path / "@v"
        d.mkdir(parents=True, exist_ok=True)
        gomod = f"module {declared}\n\ngo 1.19\n"
        (d / "list").write_text(version + "\n")
        (d / f"{version}.info").write_text(
            json.dumps({"Version": version, "Time": "2023-01-01T00:00:00Z"})
        )
        (d / f"{version}.mod").write_text(gomod)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"{path}@{version}/go.mod", gomod)
            for name, text in files.items():
                zf.writestr(f"{path}@{version}/{name}", text)
        (d / f"{version}.zip").write_bytes(buf.getvalue())


@pytest.fixture(scope="session")
@one_at_a_time
def go_binary(request: pytest.FixtureRequest) -> Path:
    go = require_tool("go")
    base = persistent_dir(request.config, "go")
    binary = base / "out" / "hello"
    if binary.is_file():
        return binary
    src, proxy = base / "src", base / "proxy"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(proxy, ignore_errors=True)
    _write_proxy(proxy)
    (src / "local").mkdir(parents=True)
    (src / "local" / "go.mod").write_text("module example.com/local\n\ngo 1.19\n")
    (src / "local" / "local.go").write_text("package local\n\nconst X = 1\n")
    (src / "main.go").write_text(MAIN_GO)
    (src / "go.mod").write_text(GO_MOD)
    env = {
        **os.environ,
        "GOPROXY": proxy.as_uri(),
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod -modcacherw",
        "GOPATH": str(base / "gopath"),
        "GOCACHE": str(base / "gocache"),
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    subprocess.run([go, "mod", "tidy"], cwd=src, env=env, check=True, capture_output=True)
    binary.parent.mkdir(exist_ok=True)
    subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=src, env=env, check=True, capture_output=True
    )
    return binary


def _expected_from_go_version_m(out: str) -> set[tuple[str, str]]:
    lines = [line.strip().split("\t") for line in out.splitlines()]
    expected: set[tuple[str, str]] = set()
    go_version = out.splitlines()[0].rsplit(": ", 1)[1].strip()
    expected.add(("stdlib", go_version.removeprefix("go")))
    pending: tuple[str, str] | None = None
    for parts in lines[1:]:
        kind = parts[0]
        if kind in ("dep", "mod"):
            if pending:
                expected.add(pending)
            pending = (parts[1], parts[2]) if len(parts) > 2 and parts[2] != "(devel)" else None
        elif kind == "=>":
            repl_version = parts[2] if len(parts) > 2 else ""
            if pending:  # local directory replacements show "(devel)": no version
                usable = repl_version and repl_version != "(devel)"
                pending = (pending[0], repl_version) if usable else None
    if pending:
        expected.add(pending)
    return expected


@pytest.mark.integration
def test_ground_truth_against_go_version_m(go_binary: Path) -> None:
    go = require_tool("go")
    out = subprocess.run(
        [go, "version", "-m", str(go_binary)], check=True, capture_output=True, text=True
    ).stdout
    expected = _expected_from_go_version_m(out)
    assert ("example.com/dep", "v0.1.0") in expected
    assert ("example.com/old", "v1.2.0") in expected  # replaced: replacement version
    assert not any(name == "example.com/local" for name, _ in expected)  # local replace: no version
    facts = walk(CAT, go_binary.parent, prefix="usr/local/bin/")
    assert list(facts) == ["usr/local/bin/hello"]
    got = {(p.name, p.version) for p in facts["usr/local/bin/hello"].packages}
    assert got == expected


def test_large_binaries_are_read_as_a_stream_with_the_same_result() -> None:
    from patchwarden.scan.catalogers.golang import GoBinaryCataloger
    from patchwarden.scan.model import FileEntry

    modinfo = (
        b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6path\tex.com/app\n"
        b"mod\tex.com/app\tv1.2.3\t\ndep\tgolang.org/x/net\tv0.7.0\th1:x\n"
        b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
    )

    def uvarint(n: int) -> bytes:
        out = bytearray()
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out)

    header = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
    info = header + uvarint(8) + b"go1.21.5" + uvarint(len(modinfo)) + modinfo
    blob = b"\x7fELF" + b"\0" * (40 << 20) + info + b"\0" * 4096
    c = GoBinaryCataloger()
    whole = c.catalog(FileEntry("app", blob, 0o100755, len(blob)))
    pieces = (blob[i : i + 1_000_003] for i in range(0, len(blob), 1_000_003))
    streamed = c.catalog_stream("app", 0o100755, len(blob), pieces)
    assert streamed == whole
    assert {(p.name, p.version) for p in streamed.packages} == {
        ("ex.com/app", "v1.2.3"),
        ("golang.org/x/net", "v0.7.0"),
        ("stdlib", "1.21.5"),
    }
