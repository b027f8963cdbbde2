"""npm packages installed under ``node_modules``.

wants: ``package.json`` files that are a package's own manifest: the path, after its LAST
``node_modules/`` component, is ``<name>/package.json`` or ``@scope/<name>/package.json``
(so ``node_modules/x/lib/package.json`` and ``node_modules/x/test/fixtures/y/package.json``
are not wanted, nested ``node_modules/a/node_modules/b/package.json`` and pnpm's
``node_modules/.pnpm/a@1/node_modules/a/package.json`` are). Files over 4 MiB are ignored.
Output: one package with ``name`` and ``version`` (both must be strings; manifests without a
version, typically private packages, are skipped); licenses from ``license`` (a string or the
legacy ``{"type": ...}``); purl ``pkg:npm/%40scope/name@VERSION``.
"""

from __future__ import annotations

import json

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

_MAX_SIZE = 4 * 1024 * 1024
_EMPTY = FileFacts()
_NM = "node_modules/"


def is_package_manifest(path: str) -> bool:
    if not path.endswith("/package.json"):
        return False
    i = path.rfind(_NM)
    if i < 0 or (i > 0 and path[i - 1] != "/"):
        return False
    rest = path[i + len(_NM) : -len("/package.json")]
    if not rest or rest[0] == ".":  # .bin, .pnpm, .cache, ...
        return False
    if rest[0] == "@":
        scope, sep, name = rest.partition("/")
        return bool(sep) and len(scope) > 1 and bool(name) and "/" not in name
    return "/" not in rest


class NpmCataloger:
    name = "npm"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return size <= _MAX_SIZE and is_package_manifest(path)

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            doc = json.loads(entry.data)
            if not isinstance(doc, dict):
                return _EMPTY
            name, version = doc.get("name"), doc.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                return _EMPTY
            name, version = name.strip(), version.strip()
            if not name or not version:
                return _EMPTY
            lic = doc.get("license")
            if isinstance(lic, dict):
                lic = lic.get("type")
            licenses = (lic,) if isinstance(lic, str) and lic else ()
            pkg = PackageFact(
                name=name,
                version=version,
                type=PackageType.NPM,
                purl=_purl.npm(name, version),
                licenses=licenses,
            )
        except Exception as exc:
            return unreadable(entry.path, exc)
        return FileFacts(packages=(pkg,))
