"""What every report writer reads: one scan's inventory, findings and how they were filtered.

Writers (one module per format) take a :class:`ScanReport` and return a ``str``; they never
print, never read files and never look at the clock: everything they show is in the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from patchwarden.scan.model import Finding, FindingStatus, Package, ScanInventory, Severity

SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.UNKNOWN,
)


@dataclass(frozen=True, slots=True)
class IgnoredFinding:
    """A finding hidden by an ignore-file entry that has not expired."""

    finding: Finding
    reason: str
    expires: date
    source: str  # where the entry is: "path:line"


@dataclass(frozen=True, slots=True)
class Filters:
    """How the shown findings were chosen; writers report it so a reader can tell."""

    sbom_only: bool = False  # no advisory matching at all
    severities: tuple[Severity, ...] = ()  # shown severities; empty = all
    ignore_unfixed: bool = False  # no-fix and will-not-fix findings hidden
    ignore_file: str | None = None  # the ignore file read, if any
    hidden: int = 0  # findings hidden by --severity / --ignore-unfixed


@dataclass(frozen=True, slots=True)
class ScanReport:
    inventory: ScanInventory
    findings: tuple[Finding, ...]  # shown: after filters and ignore entries
    timestamp: datetime  # when the scan ran (timezone-aware)
    tool_version: str
    ignored: tuple[IgnoredFinding, ...] = ()
    filters: Filters = field(default_factory=Filters)

    @property
    def matched(self) -> bool:
        """Whether advisories were matched (False with --sbom-only)."""
        return not self.filters.sbom_only


def finding_key(f: Finding) -> tuple[int, str, str, str]:
    """Highest severity first, then id, then package."""
    return (-f.severity.rank, f.id, f.package.name, f.package.path)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_key)


def sorted_packages(packages: Iterable[Package]) -> list[Package]:
    return sorted(packages, key=lambda p: (p.type.value, p.name, p.version, p.path))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s.value: counts.get(s, 0) for s in SEVERITY_ORDER}


def status_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.status for f in findings)
    return {s.value: counts.get(s, 0) for s in FindingStatus}


@dataclass(frozen=True, slots=True)
class Upgrade:
    """ "Upgrade PACKAGE to TARGET: fixes FIXES of its TOTAL findings" for one installed package."""

    package: Package
    installed_version: str
    target: str  # the newest fixed version any of its findings needs (in the records' terms)
    fixes: int
    total: int


def upgrades(findings: Iterable[Finding]) -> list[Upgrade]:
    """One upgrade per installed package that has fixable findings, most fixes first."""
    by_pkg: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        by_pkg.setdefault((f.package.name, f.package.path, f.installed_version), []).append(f)
    out = []
    for fs in by_pkg.values():
        fixed = [f for f in fs if f.status == FindingStatus.FIXED and f.fixed_version]
        if not fixed:
            continue
        from patchwarden.versions.ecosystems import sort_key  # (univers: only when needed)

        key = sort_key(fixed[0].ecosystem)
        target = max((f.fixed_version for f in fixed if f.fixed_version), key=key)
        out.append(Upgrade(fs[0].package, fs[0].installed_version, target, len(fixed), len(fs)))
    out.sort(key=lambda u: (-u.fixes, u.package.name, u.package.path))
    return out
