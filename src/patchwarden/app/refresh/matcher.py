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

    def severity(self, vid: str) -> Severity:
        return Severity(self.findings[vid]["severity"])


def brief(findings: Iterable[Finding]) -> dict[str, dict[str, Any]]:
    """Findings as the state store keeps them: one entry per vulnerability id."""
    out: dict[str, dict[str, Any]] = {}
    for f in findings:
        entry = out.setdefault(
            f.id,
            {"severity": f.severity.value, "summary": f.summary[:200], "packages": []},
        )
        if f.severity.rank > Severity(entry["severity"]).rank:
            entry["severity"] = f.severity.value
        pkg = f"{f.package.name} {f.installed_version}"
        if f.fixed_version:
            pkg += f" (fixed in {f.fixed_version})"
        if pkg not in entry["packages"]:
            entry["packages"].append(pkg)
    for entry in out.values():
        entry["packages"].sort()
    return out


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
        by_key: dict[PackageKey, list[Finding]] = defaultdict(list)
        for f in match(index, packages, decode_os(members[0].os)):
            by_key[key_of(f.package)].append(f)
        for sb in members:
            hits = [f for row in sb.packages for f in by_key.get(package_key(row), ())]
            out.append(_image(sb, brief(hits), now))
    return out


def _image(sb: StoredSbom, findings: dict[str, dict[str, Any]], now: str) -> ImageMatch:
    if sb.findings is None:  # the first match of this image: a baseline, nothing is "new"
        return ImageMatch(sb.digest, sb.image, findings)
    added = tuple(sorted(set(findings) - set(sb.findings)))
    new = {k: v for k, v in (sb.new_findings or {}).items() if k in findings}
    for vid in added:
        new[vid] = {"severity": findings[vid]["severity"], "since": now}
    return ImageMatch(sb.digest, sb.image, findings, added, new)
