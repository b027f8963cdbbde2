"""Match many stored SBOMs against the advisory index at once, without reading a layer.

Images share most of their packages (one base image under many services), so packages are
made unique per OS first (a package's findings depend only on its type, name, versions,
namespace and the image's OS) and :func:`patchwarden.advisories.match.match` runs once per
OS over the unique set; each image then takes the findings of its own packages. The result
is the same as matching every image on its own (a unit test compares both).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from patchwarden.app.refresh.codec import PackageKey, decode_os, decode_package, key_of, package_key
from patchwarden.scan.model import Finding, Severity

if TYPE_CHECKING:
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.store.sboms import StoredSbom


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """One image's findings after a match: ``findings`` maps each vulnerability id to a brief
    (severity, the packages it affects, whether a fix exists); ``added`` are the ids a
    previous match did not have (empty on the first match of an image)."""

    digest: str
    image: str
    findings: dict[str, dict[str, Any]]
    added: tuple[str, ...] = ()
    new_findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: bool = False  # differs from what the store holds (only these are written)

    def severity(self, vid: str) -> Severity:
        return Severity(self.findings[vid]["severity"])


_RANK = {sev: sev.rank for sev in Severity}
_Part = tuple[str, Severity, str, str]  # (id, severity, summary, "package version (fix)")


def _part(f: Finding) -> _Part:
    pkg = f"{f.package.name} {f.installed_version}"
    if f.fixed_version:
        pkg += f" (fixed in {f.fixed_version})"
    return f.id, f.severity, f.summary[:200], pkg


def merge_parts(parts: Iterable[_Part]) -> dict[str, dict[str, Any]]:
    """Finding parts as the state store keeps them: one entry per vulnerability id (the
    highest severity, the first summary, the affected packages sorted)."""
    out: dict[str, dict[str, Any]] = {}
    ranks: dict[str, int] = {}
    for vid, sev, summary, pkg in parts:
        entry = out.get(vid)
        if entry is None:
            out[vid] = {"severity": sev.value, "summary": summary, "packages": [pkg]}
            ranks[vid] = _RANK[sev]
            continue
        if _RANK[sev] > ranks[vid]:
            entry["severity"], ranks[vid] = sev.value, _RANK[sev]
        if pkg not in entry["packages"]:
            entry["packages"].append(pkg)
    for entry in out.values():
        entry["packages"].sort()
    return out


def brief(findings: Iterable[Finding]) -> dict[str, dict[str, Any]]:
    """Findings as the state store keeps them: one entry per vulnerability id."""
    return merge_parts(_part(f) for f in findings)


def _os_key(doc: dict[str, Any] | None) -> tuple[str, str, str]:
    if not doc:
        return ("", "", "")
    return (
        str(doc.get("id") or ""),
        str(doc.get("version_id") or ""),
        str(doc.get("version_codename") or ""),
    )


def rematch(index: AdvisoryIndex, sboms: Iterable[StoredSbom]) -> list[ImageMatch]:
    """Findings of every SBOM under the index as it is now, and what each gained."""
    from patchwarden.advisories.match import match

    groups: dict[tuple[str, str, str], list[StoredSbom]] = defaultdict(list)
    for sb in sboms:
        groups[_os_key(sb.os)].append(sb)
    now = datetime.now(UTC).isoformat()
    out: list[ImageMatch] = []
    for members in groups.values():
        unique: dict[PackageKey, Any] = {}
        for sb in members:
            for row in sb.packages:
                unique.setdefault(package_key(row), row)
        packages = [decode_package(row) for row in unique.values()]
        by_key: dict[PackageKey, list[_Part]] = defaultdict(list)
        for f in match(index, packages, decode_os(members[0].os)):
            by_key[key_of(f.package)].append(_part(f))  # formatted once per unique package
        for sb in members:
            hits = [p for row in sb.packages for p in by_key.get(package_key(row), ())]
            out.append(_image(sb, merge_parts(hits), now))
    return out


def _image(sb: StoredSbom, findings: dict[str, dict[str, Any]], now: str) -> ImageMatch:
    if sb.findings is None:  # the first match of this image: a baseline, nothing is "new"
        return ImageMatch(sb.digest, sb.image, findings, changed=True)
    added = tuple(sorted(set(findings) - set(sb.findings)))
    new = {k: v for k, v in (sb.new_findings or {}).items() if k in findings}
    for vid in added:
        new[vid] = {"severity": findings[vid]["severity"], "since": now}
    changed = findings != sb.findings or new != (sb.new_findings or {})
    return ImageMatch(sb.digest, sb.image, findings, added, new, changed)
