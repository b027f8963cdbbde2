"""Maven artifacts in Java archives.

wants: files ending in ``.jar``, ``.war``, ``.ear`` (any case), up to 512 MiB.

catalog: open the archive as a zip from memory and read every
``META-INF/maven/<group>/<artifact>/pom.properties`` (``groupId``, ``artifactId``,
``version``); a shaded/uber jar yields one package per pom.properties. Nested archives one level
deep (``WEB-INF/lib/*.jar``, ``BOOT-INF/lib/*.jar``, ``lib/*.jar`` in EARs, and ``*.war`` /
``*.jar`` at the top of an EAR) are opened too, but not their own nested archives.
Only when an archive (outer or nested) has no pom.properties at all, its
``META-INF/MANIFEST.MF`` is used: ``Implementation-Title``/``Implementation-Version``
(else ``Bundle-SymbolicName``/``Bundle-Version``), with ``Implementation-Vendor-Id`` as the
group when present (otherwise the purl has no namespace, which is a weaker identity).

Zip-bomb caps: at most 65536 entries per archive, pom.properties/MANIFEST.MF read only when
declared <= 64 KiB and read with a hard 64 KiB limit, nested archives <= 64 MiB each and
256 MiB in total per outer archive (both declared and read sizes are bounded).
Purl: ``pkg:maven/GROUP/ARTIFACT@VERSION``; name = artifactId, namespace = groupId.
"""

from __future__ import annotations

import io
import zipfile

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

MAX_SIZE = 512 * 1024 * 1024
MAX_ENTRIES = 65536
MAX_SMALL = 64 * 1024
MAX_NESTED = 64 * 1024 * 1024
MAX_NESTED_TOTAL = 256 * 1024 * 1024
_EXTS = (".jar", ".war", ".ear")
_NESTED_DIRS = ("WEB-INF/lib/", "BOOT-INF/lib/", "lib/", "APP-INF/lib/")
_EMPTY = FileFacts()


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    if info.file_size > cap:
        return None
    with zf.open(info) as f:
        data = f.read(cap + 1)
    return data if len(data) <= cap else None


def _properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        for sep in ("=", ":"):
            if sep in line:
                k, _, v = line.partition(sep)
                out.setdefault(k.strip(), v.strip())
                break
    return out


def _manifest(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if line.startswith(" ") and key is not None:
            out[key] += line[1:]
            continue
        if not line.strip():
            break  # only the main section
        k, sep, v = line.partition(":")
        key = k.strip() if sep else None
        if key is not None:
            out.setdefault(key, v.strip())
    return out


def _fact(group: str | None, artifact: str, version: str) -> PackageFact:
    return PackageFact(
        name=artifact,
        version=version,
        type=PackageType.JAVA,
        purl=_purl.maven(group, artifact, version),
        namespace=group,
    )


class _Budget:
    def __init__(self) -> None:
        self.nested_bytes = 0
        self.problems: list[str] = []  # archives and entries that could not be read


def _scan_archive(data: bytes, depth: int, budget: _Budget, out: list[PackageFact]) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        where = "the archive" if depth == 0 else "a nested archive"
        budget.problems.append(f"{where} is not a readable zip file ({exc})")
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            return
        found = False
        manifest: zipfile.ZipInfo | None = None
        nested: list[zipfile.ZipInfo] = []
        for info in infos:
            name = info.filename
            if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                raw = _safe_read(zf, info, MAX_SMALL, budget)
                if raw is None:
                    continue
                props = _properties(raw.decode("utf-8", errors="replace"))
                artifact, version = props.get("artifactId"), props.get("version")
                if artifact and version:
                    out.append(_fact(props.get("groupId") or None, artifact, version))
                    found = True
            elif name == "META-INF/MANIFEST.MF":
                manifest = info
            elif depth == 0 and name.lower().endswith((".jar", ".war")):
                top = "/" not in name
                if top or (name.startswith(_NESTED_DIRS) and "/" not in name.split("lib/", 1)[1]):
                    nested.append(info)
        if not found and manifest is not None:
            raw = _safe_read(zf, manifest, MAX_SMALL, budget)
            if raw is not None:
                m = _manifest(raw.decode("utf-8", errors="replace"))
                title = m.get("Implementation-Title") or m.get("Bundle-SymbolicName", "")
                title = title.split(";", 1)[0].strip()
                version = m.get("Implementation-Version") or m.get("Bundle-Version")
                if title and version:
                    out.append(_fact(m.get("Implementation-Vendor-Id") or None, title, version))
        for info in nested:
            if info.file_size > MAX_NESTED:
                continue
            if budget.nested_bytes + info.file_size > MAX_NESTED_TOTAL:
                break
            raw = _safe_read(zf, info, MAX_NESTED, budget)
            if raw is None:
                continue
            budget.nested_bytes += len(raw)
            _scan_archive(raw, depth + 1, budget, out)


def _safe_read(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, budget: _Budget
) -> bytes | None:
    try:
        return _read_capped(zf, info, cap)
    except Exception as exc:  # bad CRC, unsupported compression, truncated data, ...
        budget.problems.append(f"{info.filename}: {type(exc).__name__}: {exc}")
        return None


class JavaArchiveCataloger:
    name = "java"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return size <= MAX_SIZE and path[-4:].lower() in _EXTS

    def catalog(self, entry: FileEntry) -> FileFacts:
        out: list[PackageFact] = []
        budget = _Budget()
        try:
            _scan_archive(entry.data, 0, budget, out)
        except Exception as exc:
            return unreadable(entry.path, exc)
        seen: set[str] = set()
        unique = []
        for p in out:
            if p.purl not in seen:
                seen.add(p.purl)
                unique.append(p)
        problems = tuple(f"{entry.path}: {p}" for p in budget.problems)
        return FileFacts(packages=tuple(unique), problems=problems)
