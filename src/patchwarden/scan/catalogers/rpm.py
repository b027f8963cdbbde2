"""RPM packages from the rpm database.

wants: ``var/lib/rpm/rpmdb.sqlite`` and ``usr/lib/sysimage/rpm/rpmdb.sqlite`` (sqlite backend:
RHEL/Rocky/Alma 9, Fedora >= 33, Debian's rpm 4.18 default) and ``var/lib/rpm/Packages`` /
``usr/lib/sysimage/rpm/Packages`` (BerkeleyDB hash: RHEL <= 8, CentOS 7, Amazon Linux 2).
SUSE's NDB ``Packages.db`` is NOT supported (documented gap: empty facts; it is not wanted).

Each database row is an RPM header blob (``il`` and ``dl`` as big-endian int32, ``il`` 16-byte
index entries ``tag, type, offset, count``, then ``dl`` bytes of data). Tags used: NAME 1000,
VERSION 1001, RELEASE 1002, EPOCH 1003, VENDOR 1011, LICENSE 1014, ARCH 1022, SOURCERPM 1044,
DIRINDEXES 1116 / BASENAMES 1117 / DIRNAMES 1118 (and OLDFILENAMES 1027) for owned_paths.

Output per package: name; version ``[EPOCH:]VERSION-RELEASE`` (what ``rpm -q --qf
'%{EPOCHNUM}:...'`` compares); arch (``noarch`` etc.); source_name/source_version from
SOURCERPM ``NAME-VERSION-RELEASE.src.rpm`` (source_version gets the binary's epoch, the srpm
file name carries none); licenses (LICENSE string, whole). ``gpg-pubkey`` pseudo-packages
(imported signing keys) are skipped. Purl: ``pkg:rpm/<vendor ns>/NAME@VERSION-RELEASE?arch=A
&epoch=E`` (namespace from VENDOR, see ``_purl.rpm_namespace``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from collections.abc import Iterator

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

SQLITE_PATHS = frozenset({"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"})
BDB_PATHS = frozenset({"var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages"})
_PATHS = SQLITE_PATHS | BDB_PATHS

NAME, VERSION, RELEASE, EPOCH, VENDOR, LICENSE, ARCH, SOURCERPM = (
    1000, 1001, 1002, 1003, 1011, 1014, 1022, 1044,
)  # fmt: skip
OLDFILENAMES, DIRINDEXES, BASENAMES, DIRNAMES = 1027, 1116, 1117, 1118
_WANTED_TAGS = frozenset(
    {NAME, VERSION, RELEASE, EPOCH, VENDOR, LICENSE, ARCH, SOURCERPM}
    | {OLDFILENAMES, DIRINDEXES, BASENAMES, DIRNAMES}
)
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_MAX_INDEX = 1 << 16
_EMPTY = FileFacts()

TagValue = int | str | list[int] | list[str]


def parse_header(blob: bytes) -> dict[int, TagValue]:
    """The wanted tags of one header blob; raises ValueError/struct.error on corrupt data."""
    il, dl = struct.unpack_from(">ii", blob, 0)
    if not (0 < il <= _MAX_INDEX) or dl < 0:
        raise ValueError("bad header sizes")
    store = 8 + il * 16
    if store + dl > len(blob):
        raise ValueError("truncated header")
    tags: dict[int, TagValue] = {}
    for i in range(il):
        tag, typ, off, count = struct.unpack_from(">iiii", blob, 8 + i * 16)
        if tag not in _WANTED_TAGS or tag in tags or off < 0 or off >= dl or count <= 0:
            continue
        pos = store + off
        end = store + dl
        if typ == _INT32:
            if pos + 4 * count > end:
                continue
            tags[tag] = list(struct.unpack_from(f">{count}i", blob, pos))
        elif typ in (_STRING, _STRING_ARRAY, _I18NSTRING):
            n = 1 if typ == _STRING else count
            strings: list[str] = []
            for _ in range(n):
                z = blob.find(b"\0", pos, end)
                if z < 0:
                    break
                strings.append(blob[pos:z].decode("utf-8", errors="replace"))
                pos = z + 1
            if typ == _STRING_ARRAY:
                tags[tag] = strings
            elif strings:
                tags[tag] = strings[0]
    return tags


def _str(tags: dict[int, TagValue], tag: int) -> str | None:
    v = tags.get(tag)
    return v if isinstance(v, str) and v else None


def split_source_rpm(srpm: str) -> tuple[str, str] | None:
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if srpm.endswith(suffix):
            parts = srpm[: -len(suffix)].rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], f"{parts[1]}-{parts[2]}"
    return None


def owned_paths(tags: dict[int, TagValue]) -> list[str]:
    dirnames, basenames, indexes = tags.get(DIRNAMES), tags.get(BASENAMES), tags.get(DIRINDEXES)
    out: list[str] = []
    if isinstance(basenames, list) and isinstance(dirnames, list) and isinstance(indexes, list):
        for base, idx in zip(basenames, indexes, strict=False):
            if isinstance(base, str) and isinstance(idx, int) and 0 <= idx < len(dirnames):
                path = (str(dirnames[idx]) + base).lstrip("/")
                if path:
                    out.append(path)
        return out
    old = tags.get(OLDFILENAMES)
    if isinstance(old, list):
        out = [str(p).lstrip("/") for p in old if str(p).lstrip("/")]
    return out


def fact_from(tags: dict[int, TagValue]) -> PackageFact | None:
    name, version, release = _str(tags, NAME), _str(tags, VERSION), _str(tags, RELEASE)
    if not name or not version or name == "gpg-pubkey":
        return None
    vr = f"{version}-{release}" if release else version
    epoch_v = tags.get(EPOCH)
    epoch = int(epoch_v[0]) if isinstance(epoch_v, list) and epoch_v else None
    evr = f"{epoch}:{vr}" if epoch is not None else vr
    arch = _str(tags, ARCH)
    src = _str(tags, SOURCERPM)
    split = split_source_rpm(src) if src else None
    source_name, source_version = split if split else (name, vr)
    if epoch is not None:
        source_version = f"{epoch}:{source_version}"
    lic = _str(tags, LICENSE)
    return PackageFact(
        name=name,
        version=evr,
        type=PackageType.RPM,
        purl=_purl.rpm(_purl.rpm_namespace(_str(tags, VENDOR)), name, vr, arch, epoch),
        source_name=source_name,
        source_version=source_version,
        arch=arch,
        licenses=(lic,) if lic else (),
    )


def sqlite_blobs(data: bytes) -> Iterator[bytes]:
    if not data.startswith(b"SQLite format 3\0"):
        return
    buf = bytearray(data)
    if buf[18] == 2 or buf[19] == 2:  # WAL mode: an in-memory copy can only be read as legacy
        buf[18] = buf[19] = 1
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(buf))
        rows = conn.execute("SELECT blob FROM Packages").fetchall()
    finally:
        conn.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob


# --- BerkeleyDB hash database (read only what rpm writes: a hash db of header blobs) ----------
_BDB_HASH_MAGIC = 0x061561
_P_OVERFLOW, _P_HASH_UNSORTED, _P_HASH = 7, 2, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26


def bdb_blobs(data: bytes) -> Iterator[bytes]:
    if len(data) < 512:
        return
    for e in ("<", ">"):
        if struct.unpack_from(e + "I", data, 12)[0] == _BDB_HASH_MAGIC:
            break
    else:
        return
    pagesize = struct.unpack_from(e + "I", data, 20)[0]
    if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
        return
    npages = len(data) // pagesize
    for pgno in range(1, npages):
        page = pgno * pagesize
        ptype = data[page + 25]
        if ptype not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        entries = struct.unpack_from(e + "H", data, page + 20)[0]
        offsets = struct.unpack_from(f"{e}{entries}H", data, page + _PAGE_HEADER)
        for i in range(1, entries, 2):  # odd items are values (even ones are keys)
            item = page + offsets[i]
            kind = data[item]
            if kind == _H_OFFPAGE:
                first, total = struct.unpack_from(e + "II", data, item + 4)
                blob = _bdb_overflow(data, e, pagesize, npages, first, total)
                if blob is not None:
                    yield blob
            elif kind == _H_KEYDATA:
                end = page + (offsets[i - 1] if i > 0 else pagesize)
                yield data[item + 1 : end]


def _bdb_overflow(
    data: bytes, e: str, pagesize: int, npages: int, pgno: int, total: int
) -> bytes | None:
    chunks: list[bytes] = []
    got = 0
    seen: set[int] = set()
    while pgno and got < total:
        if pgno >= npages or pgno in seen:
            return None
        seen.add(pgno)
        page = pgno * pagesize
        if data[page + 25] != _P_OVERFLOW:
            return None
        nxt = struct.unpack_from(e + "I", data, page + 16)[0]
        used = struct.unpack_from(e + "H", data, page + 22)[0]
        chunk = data[page + _PAGE_HEADER : page + _PAGE_HEADER + min(used, pagesize)]
        chunks.append(chunk)
        got += len(chunk)
        pgno = nxt
    blob = b"".join(chunks)
    return blob[:total] if len(blob) >= total else None


class RpmDbCataloger:
    name = "rpm"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path in _PATHS

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            blobs = (
                sqlite_blobs(entry.data) if entry.path in SQLITE_PATHS else bdb_blobs(entry.data)
            )
            pkgs: list[PackageFact] = []
            owned: list[str] = []
            for blob in blobs:
                tags: dict[int, TagValue] = {}
                with contextlib.suppress(ValueError, struct.error):
                    tags = parse_header(blob)
                fact = fact_from(tags) if tags else None
                if fact is not None:
                    pkgs.append(fact)
                    owned.extend(owned_paths(tags))
        except Exception as exc:
            return unreadable(entry.path, exc)
        return FileFacts(packages=tuple(pkgs), owned_paths=tuple(owned))
