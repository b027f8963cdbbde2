"""Alpine packages from ``lib/apk/db/installed``.

wants: exactly ``lib/apk/db/installed``. Output: one package per paragraph with ``P:`` name,
``V:`` version, ``A:`` arch, ``o:`` origin (source_name; source_version = version, as the origin
is built at the same version), ``L:`` license (one SPDX-ish expression, kept whole); purl
``pkg:apk/alpine/NAME@VERSION?arch=ARCH``. ``F:`` (directory) and ``R:`` (file in the last
``F:``) lines -> owned_paths ``F/R`` (files only, no directories).
"""

from __future__ import annotations

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

INSTALLED = "lib/apk/db/installed"
_EMPTY = FileFacts()


def _flush(fields: dict[str, str], out: list[PackageFact]) -> None:
    name, version = fields.get("P"), fields.get("V")
    if not name or not version:
        return
    arch = fields.get("A") or None
    lic = fields.get("L")
    out.append(
        PackageFact(
            name=name,
            version=version,
            type=PackageType.APK,
            purl=_purl.apk(name, version, arch),
            source_name=fields.get("o") or name,
            source_version=version,
            arch=arch,
            licenses=(lic,) if lic else (),
        )
    )


def parse_installed(text: str) -> tuple[list[PackageFact], list[str]]:
    pkgs: list[PackageFact] = []
    owned: list[str] = []
    fields: dict[str, str] = {}
    directory = ""
    for line in text.splitlines():
        if not line.strip():
            _flush(fields, pkgs)
            fields = {}
            directory = ""
            continue
        if len(line) < 2 or line[1] != ":":
            continue
        key, value = line[0], line[2:].strip()
        if key == "F":
            directory = value.strip("/")
        elif key == "R":
            if value:
                owned.append(f"{directory}/{value}" if directory else value)
        elif key in "PVAoL" and key not in fields:
            fields[key] = value
    _flush(fields, pkgs)
    return pkgs, owned


class ApkCataloger:
    name = "apk"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path == INSTALLED

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            pkgs, owned = parse_installed(entry.data.decode("utf-8", errors="replace"))
        except Exception as exc:
            return unreadable(entry.path, exc)
        return FileFacts(packages=tuple(pkgs), owned_paths=tuple(owned))
