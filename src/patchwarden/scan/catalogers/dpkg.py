"""Debian packages from the dpkg database.

wants (prefix checks only):

* ``var/lib/dpkg/status`` -> packages (paragraphs whose Status state is ``installed``:
  ``install ok installed`` and also held/deinstall-pending ``hold ok installed``,
  ``deinstall ok installed``, which are still on disk, as ``dpkg-query`` shows them as ``?i``).
* ``var/lib/dpkg/status.d/<name>`` (distroless: one or more paragraphs, no Status field) ->
  packages; ``var/lib/dpkg/status.d/<name>.md5sums`` -> owned_paths.
* ``var/lib/dpkg/info/<pkg>.list`` and ``var/lib/dpkg/info/<pkg>.md5sums`` -> owned_paths.
  A per-file cataloger cannot see whether the ``.list`` is absent, so both are read and their
  paths (no leading '/') unioned by the consumer: ``.md5sums`` is a subset of ``.list`` (minus
  directories and conffiles) and only matters in images that deleted the ``.list`` files.

Output per package: name, version (with epoch, as dpkg prints it), arch, source_name (``Source:``
or the package name), source_version (from ``Source: name (version)`` else the version),
purl ``pkg:deb/debian/NAME@VERSION?arch=ARCH`` (no distro qualifier: see ``_purl``).
"""

from __future__ import annotations

from patchwarden.scan.catalogers import _purl
from patchwarden.scan.catalogers._rfc822 import paragraphs
from patchwarden.scan.errors import TooManyFacts
from patchwarden.scan.model import FileEntry, FileFacts, PackageFact, PackageType, unreadable

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
INFO = "var/lib/dpkg/info/"
_FIELDS = frozenset({"Package", "Status", "Version", "Architecture", "Source"})
_EMPTY = FileFacts()
MAX_PACKAGES = 50_000  # per file; a big real status file has a few thousand
MAX_PATHS = 1_000_000  # per .list/.md5sums file


def _too_many(what: str, cap: int) -> TooManyFacts:
    return TooManyFacts(f"more than {cap} {what} in one file")


def parse_status(text: str, *, require_status: bool) -> list[PackageFact]:
    out: list[PackageFact] = []
    for p in paragraphs(text, _FIELDS):
        name = p.get("Package")
        version = p.get("Version")
        if not name or not version:
            continue
        if require_status or "Status" in p:
            words = p.get("Status", "").split()
            if len(words) != 3 or words[2] != "installed":
                continue
        arch = p.get("Architecture") or None
        source_name, source_version = name, version
        src = p.get("Source")
        if src:
            sname, _, rest = src.partition(" ")
            source_name = sname
            rest = rest.strip()
            if rest.startswith("(") and rest.endswith(")") and len(rest) > 2:
                source_version = rest[1:-1].strip()
        out.append(
            PackageFact(
                name=name,
                version=version,
                type=PackageType.DEB,
                purl=_purl.deb(name, version, arch),
                source_name=source_name,
                source_version=source_version,
                arch=arch,
            )
        )
        if len(out) > MAX_PACKAGES:
            raise _too_many("packages", MAX_PACKAGES)
    return out


def parse_list(text: str) -> list[str]:
    """A ``.list`` file: one absolute path per line; '/.' (the root) is dropped."""
    out = []
    for line in text.splitlines():
        path = line.strip().lstrip("/")
        if path and path != ".":
            out.append(path)
            if len(out) > MAX_PATHS:
                raise _too_many("paths", MAX_PATHS)
    return out


def parse_md5sums(text: str) -> list[str]:
    """``<md5>  <path>`` lines, path relative to '/'."""
    out = []
    for line in text.splitlines():
        _, sep, path = line.partition("  ")
        path = path.strip().lstrip("/") if sep else ""
        if path:
            out.append(path)
            if len(out) > MAX_PATHS:
                raise _too_many("paths", MAX_PATHS)
    return out


class DpkgCataloger:
    name = "dpkg"
    version = 1
    max_bytes = 32 * 1024 * 1024  # held whole; a real status file is a few MiB

    def wants(self, path: str, mode: int, size: int) -> bool:
        if not path.startswith("var/lib/dpkg/"):
            return False
        if path == STATUS:
            return True
        if path.startswith(STATUS_D):
            return "/" not in path[len(STATUS_D) :]
        if path.startswith(INFO):
            return path.endswith((".list", ".md5sums")) and "/" not in path[len(INFO) :]
        return False

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            text = entry.data.decode("utf-8", errors="replace")
            path = entry.path
            if path.endswith(".list") and path.startswith(INFO):
                return FileFacts(owned_paths=tuple(parse_list(text)))
            if path.endswith(".md5sums"):
                return FileFacts(owned_paths=tuple(parse_md5sums(text)))
            pkgs = parse_status(text, require_status=path == STATUS)
            return FileFacts(packages=tuple(pkgs))
        except TooManyFacts:
            raise
        except Exception as exc:
            return unreadable(entry.path, exc)
