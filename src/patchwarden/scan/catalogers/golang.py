"""Go modules and the Go standard library, from the build info Go embeds in binaries.

wants: regular files with any executable bit, 1 MiB <= size <= 512 MiB. Go binaries are
practically never under 1 MiB (a hello-world is ~1.8 MiB, stripped ~1.2 MiB); the floor keeps
the scanner from reading every shell script and small ELF in ``/usr/bin``. Non-executable Go
binaries (rare: copied without +x) are missed.

Format (Go's ``debug/buildinfo``): a 32-byte header starting with the 14-byte magic
``\\xff Go buildinf:``, then pointer size (1 byte) and flags (1 byte).

* ``flags & 2`` (Go >= 1.18): right after the header, two uvarint-length-prefixed strings:
  the Go version and the module info.
* otherwise (Go 1.13-1.17): two pointers at offsets 16 and 16+ptrsize, each to a Go string
  header (data pointer, length) in virtual memory; endianness from ``flags & 1``. Virtual
  addresses are mapped to file offsets through ELF program headers. Old-format (Go < 1.18)
  Mach-O and PE binaries are not supported: they yield nothing (documented gap; images are
  Linux, so ELF).

The module info is framed by 16-byte sentinels; its tab-separated lines are ``path``,
``mod PATH VERSION SUM``, ``dep PATH VERSION SUM``, ``=> PATH VERSION SUM`` (replaces the
preceding mod/dep) and ``build K=V``.

Output: the main module (skipped when its version is ``(devel)`` or empty), every dep (a
replaced dep keeps its module path and takes the replacement's version, as govulncheck does;
a dep replaced by a local directory has no version and is skipped), and ``stdlib`` with the
toolchain version (``go1.21.5`` -> ``1.21.5``; ``devel`` toolchains are skipped). Purls:
``pkg:golang/golang.org/x/net@v0.17.0``, ``pkg:golang/stdlib@1.21.5``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

MAGIC = b"\xff Go buildinf:"
MIN_SIZE = 1024 * 1024
MAX_SIZE = 512 * 1024 * 1024
_HEADER = 32
_EMPTY = FileFacts()
_GO_VERSION = re.compile(r"^go(\d+(?:\.\d+)*(?:(?:rc|beta)\d+)?)")


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    replaced_by: str | None = None  # the replacement path when replaced


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str  # "go1.21.5"
    main: Module | None
    deps: tuple[Module, ...]


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    raise ValueError("bad uvarint")


def _inline_string(data: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = _uvarint(data, pos)
    if n < 0 or pos + n > len(data):
        raise ValueError("string out of bounds")
    return data[pos : pos + n], pos + n


class _Elf:
    """Virtual address -> file offset through PT_LOAD segments."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF":
            raise ValueError("not ELF")
        cls, enc = data[4], data[5]
        e = "<" if enc == 1 else ">"
        self.segments: list[tuple[int, int, int]] = []  # vaddr, filesz, offset
        if cls == 2:
            (phoff,) = struct.unpack_from(e + "Q", data, 0x20)
            phentsize, phnum = struct.unpack_from(e + "HH", data, 0x36)
            for i in range(min(phnum, 256)):
                p_type, _, off, vaddr, _, filesz = struct.unpack_from(
                    e + "IIQQQQ", data, phoff + i * phentsize
                )
                if p_type == 1:
                    self.segments.append((vaddr, filesz, off))
        elif cls == 1:
            (phoff,) = struct.unpack_from(e + "I", data, 0x1C)
            phentsize, phnum = struct.unpack_from(e + "HH", data, 0x2A)
            for i in range(min(phnum, 256)):
                p_type, off, vaddr, _, filesz = struct.unpack_from(
                    e + "IIIII", data, phoff + i * phentsize
                )
                if p_type == 1:
                    self.segments.append((vaddr, filesz, off))
        else:
            raise ValueError("bad ELF class")

    def offset(self, addr: int, size: int) -> int:
        for vaddr, filesz, off in self.segments:
            if vaddr <= addr and addr + size <= vaddr + filesz:
                return off + addr - vaddr
        raise ValueError("address not mapped")


def _pointer_strings(data: bytes, at: int, ptr_size: int, big: bool) -> tuple[bytes, bytes]:
    elf = _Elf(data)
    fmt = (">" if big else "<") + ("Q" if ptr_size == 8 else "I")

    def read_ptr(off: int) -> int:
        return int(struct.unpack_from(fmt, data, off)[0])

    def read_string(addr: int) -> bytes:
        hdr = elf.offset(addr, 2 * ptr_size)
        str_addr, str_len = read_ptr(hdr), read_ptr(hdr + ptr_size)
        if str_len > 1 << 24:
            raise ValueError("string too long")
        if str_len == 0:
            return b""
        off = elf.offset(str_addr, str_len)
        return data[off : off + str_len]

    vers = read_string(read_ptr(at + 16))
    mod = read_string(read_ptr(at + 16 + ptr_size))
    return vers, mod


def _raw_buildinfo(data: bytes) -> Iterator[tuple[str, str]]:
    """(go version, module info) for every plausible magic occurrence."""
    start = data.find(MAGIC)
    while start >= 0:
        try:
            ptr_size, flags = data[start + 14], data[start + 15]
            if ptr_size in (4, 8) and flags <= 3:
                if flags & 2:
                    vers, pos = _inline_string(data, start + _HEADER)
                    mod, _ = _inline_string(data, pos)
                else:
                    vers, mod = _pointer_strings(data, start, ptr_size, bool(flags & 1))
                version = vers.decode("utf-8", errors="replace")
                if version.startswith(("go1", "devel")):
                    framed = len(mod) >= 33 and mod[-17:-16] == b"\n"
                    mod = mod[16:-16] if framed else b""
                    yield version, mod.decode("utf-8", errors="replace")
        except (ValueError, IndexError, struct.error):
            pass
        start = data.find(MAGIC, start + 1)


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    main: Module | None = None
    deps: list[Module] = []
    last: str | None = None  # "mod" or "dep": what a "=>" line replaces
    for line in text.split("\n"):
        parts = line.split("\t")
        kind = parts[0]
        if kind in ("mod", "dep") and len(parts) >= 2:
            mod = Module(parts[1], parts[2] if len(parts) > 2 else "")
            if kind == "mod":
                main = mod
            else:
                deps.append(mod)
            last = kind
        elif kind == "=>" and len(parts) >= 2 and last is not None:
            repl_version = parts[2] if len(parts) > 2 else ""
            target = main if last == "mod" else (deps[-1] if deps else None)
            if target is not None:
                new = Module(target.path, repl_version, replaced_by=parts[1])
                if last == "mod":
                    main = new
                else:
                    deps[-1] = new
            last = None
    return BuildInfo(go_version, main, tuple(deps))


def read_buildinfo(data: bytes) -> BuildInfo | None:
    for version, mod in _raw_buildinfo(data):
        return parse_modinfo(version, mod)
    return None


def stdlib_version(go_version: str) -> str | None:
    m = _GO_VERSION.match(go_version.strip())
    return m.group(1) if m else None


def _fact(path: str, version: str) -> PackageFact:
    return PackageFact(
        name=path, version=version, type=PackageType.GO, purl=_purl.golang(path, version)
    )


def facts_from(info: BuildInfo) -> list[PackageFact]:
    out: list[PackageFact] = []
    if info.main and info.main.path and info.main.version not in ("", "(devel)"):
        out.append(_fact(info.main.path, info.main.version))
    for dep in info.deps:
        if dep.path and dep.version and dep.version != "(devel)":
            out.append(_fact(dep.path, dep.version))
    std = stdlib_version(info.go_version)
    if std:
        out.append(_fact("stdlib", std))
    return out


STREAM_WINDOW = 1 << 20  # module info of even huge binaries is a few KiB
SMALL_ENOUGH = 32 << 20  # old pointer-format binaries need the whole file: up to this size


class GoBinaryCataloger:
    name = "golang"
    version = 1
    stream_above = SMALL_ENOUGH

    def wants(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111) and MIN_SIZE <= size <= MAX_SIZE

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            info = read_buildinfo(entry.data)
            if info is None:
                return _EMPTY
            return FileFacts(packages=tuple(facts_from(info)))
        except Exception as exc:
            return unreadable(entry.path, exc)

    def catalog_stream(self, path: str, mode: int, size: int, chunks: Iterator[bytes]) -> FileFacts:
        """The same, for a large file read in chunks: only a window after the magic is kept.

        Go >= 1.18 writes the build info inline after its header, so the window is enough;
        an old pointer-format binary this large yields nothing (its strings live elsewhere).
        """
        try:
            window = _window_after_magic(chunks)
            info = read_buildinfo(window) if window else None
        except Exception as exc:
            return unreadable(path, exc)
        return FileFacts(packages=tuple(facts_from(info))) if info else _EMPTY


def _window_after_magic(chunks: Iterator[bytes]) -> bytes:
    """Bytes from the first magic on, up to STREAM_WINDOW; b"" when there is none."""
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        at = data.find(MAGIC)
        if at < 0:
            tail = data[-(len(MAGIC) - 1) :]
            continue
        window = bytearray(data[at : at + STREAM_WINDOW])
        for more in chunks:
            if len(window) >= STREAM_WINDOW:
                break
            window += more[: STREAM_WINDOW - len(window)]
        for _ in chunks:  # drain: the reader expects the entry consumed
            pass
        return bytes(window)
    return b""
