"""Installed Python distributions (site-packages, dist-packages, venvs, anywhere).

wants: paths ending in ``.dist-info/METADATA`` or ``.egg-info/PKG-INFO``, and files ending in
``.egg-info`` (older setuptools/distutils write the metadata as a single file; a directory of
that name never reaches ``wants`` since only regular files do). Files over 8 MiB are ignored.
Output: one package from the RFC 822 header (only the part before the first blank line is
parsed): ``Name``, ``Version``, licenses from ``License-Expression`` or a short one-line
``License``; purl ``pkg:pypi/<PEP 503 name>@VERSION``; the name keeps its spelling.
"""

from __future__ import annotations

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

_MAX_SIZE = 8 * 1024 * 1024
_EMPTY = FileFacts()
_WANTED = frozenset({"name", "version", "license", "license-expression"})


def parse_header(data: bytes) -> dict[str, str]:
    end = data.find(b"\n\n")
    if end < 0:
        end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    fields: dict[str, str] = {}
    current: str | None = None
    for line in head.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            if current is not None:
                fields[current] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        current = None
        if sep and key in _WANTED and key not in fields:
            fields[key] = value.strip()
            current = key
    return fields


class PythonCataloger:
    name = "python"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return size <= _MAX_SIZE and (
            path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info"))
        )

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            fields = parse_header(entry.data)
            name, version = fields.get("name", ""), fields.get("version", "")
            if not name or not version or "\n" in name or "\n" in version:
                return _EMPTY
            licenses: tuple[str, ...] = ()
            lic = fields.get("license-expression") or fields.get("license") or ""
            if lic and "\n" not in lic and len(lic) <= 100 and lic.upper() != "UNKNOWN":
                licenses = (lic,)
            pkg = PackageFact(
                name=name,
                version=version,
                type=PackageType.PYTHON,
                purl=_purl.pypi(name, version),
                licenses=licenses,
            )
        except Exception as exc:
            return unreadable(entry.path, exc)
        return FileFacts(packages=(pkg,))
