"""The image's operating system, from os-release or distro marker files.

wants: ``etc/os-release``, ``usr/lib/os-release``, ``etc/debian_version``,
``etc/alpine-release``. Output: :attr:`FileFacts.os` only. Which file wins when several exist
(os-release beats the marker files) is the merger's choice; each file is parsed on its own.
"""

from __future__ import annotations

import shlex

from patchwarden.scan.model import FileEntry, FileFacts, OSInfo, unreadable

OS_RELEASE_PATHS = frozenset({"etc/os-release", "usr/lib/os-release"})
DEBIAN_VERSION = "etc/debian_version"
ALPINE_RELEASE = "etc/alpine-release"
_PATHS = OS_RELEASE_PATHS | {DEBIAN_VERSION, ALPINE_RELEASE}
_MAX_SIZE = 64 * 1024
_EMPTY = FileFacts()


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell-style quoting and escapes (os-release(5)); junk lines skipped."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key.isidentifier():
            continue
        try:
            parts = shlex.split(value, comments=True, posix=True)
        except ValueError:  # unbalanced quotes: keep the raw value without quote characters
            parts = [value.strip().strip("\"'")]
        values[key] = " ".join(parts)
    return values


class OSReleaseCataloger:
    name = "osrelease"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return size <= _MAX_SIZE and path in _PATHS

    def catalog(self, entry: FileEntry) -> FileFacts:
        try:
            text = entry.data.decode("utf-8", errors="replace")
            info = self._parse(entry.path, text)
        except Exception as exc:  # never raise on content
            return unreadable(entry.path, exc)
        return FileFacts(os=info) if info is not None else _EMPTY

    @staticmethod
    def _parse(path: str, text: str) -> OSInfo | None:
        if path in OS_RELEASE_PATHS:
            v = parse_os_release(text)
            os_id = v.get("ID", "").strip().lower()
            if not os_id:
                return None
            return OSInfo(
                id=os_id,
                version_id=v.get("VERSION_ID") or None,
                pretty_name=v.get("PRETTY_NAME") or None,
                version_codename=v.get("VERSION_CODENAME") or None,
                id_like=tuple(v.get("ID_LIKE", "").split()),
            )
        first = text.strip().split("\n", 1)[0].strip()
        if not first:
            return None
        if path == DEBIAN_VERSION:
            # "12.4" -> "12"; testing/unstable say "trixie/sid": no numeric version.
            major = first.split(".", 1)[0]
            return OSInfo(id="debian", version_id=major if major.isdigit() else None)
        if path == ALPINE_RELEASE:
            return OSInfo(id="alpine", version_id=first)
        return None
