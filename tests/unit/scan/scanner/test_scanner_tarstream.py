"""The streaming tar reader against tarfile-written archives of every header flavour."""

from __future__ import annotations

import io
import tarfile

import pytest

from patchwarden.scan.errors import CorruptImageError, HostileLayerError
from patchwarden.scan.tarstream import TarReader


def archive(fmt: int, entries: list[tuple[str, bytes | None, str | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


LONG = "usr/lib/" + "x" * 150 + "/METADATA"
ENTRIES = [
    ("etc", None, None),
    ("etc/os-release", b"ID=debian\n", None),
    (LONG, b"Name: a\nVersion: 1\n", None),
    ("usr/lib/" + "l" * 120, None, "target/" + "t" * 120),
    ("big", b"z" * 100_000, None),
    ("\u00e9t\u00e9.txt", b"", None),
]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_headers_and_data_match_tarfile(fmt: int) -> None:
    entries = (
        ENTRIES
        if fmt != tarfile.USTAR_FORMAT
        else [e for e in ENTRIES if len(e[0]) < 100 and (e[2] or "") == ""]
    )
    blob = archive(fmt, entries)
    reader = TarReader(io.BytesIO(blob).read, "sha256:test")
    got = []
    for h in reader:
        data = (
            reader.read_data()
            if h.name == "etc/os-release" or h.name.endswith("METADATA")
            else None
        )
        got.append((h.name.rstrip("/"), h.size, h.linkname, h.isreg, h.issym, data))
    want = []
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar:
            data = None
            if m.name == "etc/os-release" or m.name.endswith("METADATA"):
                member = tar.extractfile(m)
                assert member is not None
                data = member.read()
            want.append((m.name, m.size, m.linkname, m.isreg(), m.issym(), data))
    assert got == want


def test_streamed_data_in_pieces() -> None:
    blob = archive(tarfile.PAX_FORMAT, [("a", b"0123456789" * 1000, None), ("b", b"tail", None)])
    reader = TarReader(io.BytesIO(blob).read, "sha256:test")
    it = iter(reader)
    next(it)
    assert b"".join(reader.iter_data(chunk=777)) == b"0123456789" * 1000
    b = next(it)
    assert b.name == "b" and reader.read_data() == b"tail"


def test_bad_checksum_and_truncation_are_corrupt() -> None:
    blob = bytearray(archive(tarfile.PAX_FORMAT, [("a", b"data", None)]))
    blob[0] ^= 0xFF
    with pytest.raises(CorruptImageError, match="checksum"):
        list(TarReader(io.BytesIO(bytes(blob)).read, "sha256:test"))
    good = archive(tarfile.USTAR_FORMAT, [("a", b"d" * 5000, None)])
    reader = TarReader(io.BytesIO(good[:1200]).read, "sha256:test")
    with pytest.raises(CorruptImageError, match="unexpected end"):
        for _ in reader:
            reader.read_data()


def test_huge_pax_record_is_refused() -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 2 << 20
    blob = header.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 1024
    with pytest.raises(HostileLayerError, match="metadata record"):
        list(TarReader(io.BytesIO(blob).read, "sha256:test"))


def _patched(field: slice, value: bytes) -> bytes:
    import io as _io
    import tarfile as _tarfile

    buf = _io.BytesIO()
    with _tarfile.open(fileobj=buf, mode="w", format=_tarfile.USTAR_FORMAT) as tar:
        info = _tarfile.TarInfo("etc/x")
        info.size = 3
        tar.addfile(info, _io.BytesIO(b"abc"))
    raw = bytearray(buf.getvalue())
    raw[field] = value
    raw[148:156] = b" " * 8
    raw[148:156] = f"{sum(raw[:512]):06o}\0 ".encode()
    return bytes(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [(slice(100, 108), b"zzzzzzz\0"), (slice(124, 136), b"zzzzzzzzzzz\0")],
)
def test_malformed_header_fields_are_corrupt_not_internal(field: slice, value: bytes) -> None:
    import io as _io

    from patchwarden.scan.errors import CorruptImageError
    from patchwarden.scan.tarstream import TarReader

    reader = TarReader(_io.BytesIO(_patched(field, value)).read, "sha256:" + "ab" * 32)
    with pytest.raises(CorruptImageError, match="layer sha256:abababababab is not a valid tar"):
        list(reader)


def test_non_ascii_pax_size_is_corrupt() -> None:
    import io as _io
    import tarfile as _tarfile

    from patchwarden.scan.errors import CorruptImageError
    from patchwarden.scan.tarstream import TarReader

    buf = _io.BytesIO()
    with _tarfile.open(fileobj=buf, mode="w", format=_tarfile.PAX_FORMAT) as tar:
        info = _tarfile.TarInfo("etc/x")
        info.size = 1
        info.pax_headers = {"size": "\uff11\uff12"}
        tar.addfile(info, _io.BytesIO(b"x"))
    with pytest.raises(CorruptImageError, match="bad PAX size"):
        list(TarReader(_io.BytesIO(buf.getvalue()).read, "sha256:" + "ab" * 32))
