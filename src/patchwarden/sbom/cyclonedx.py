"""CycloneDX 1.5 / 1.6 JSON via cyclonedx-python-lib (the only module that imports it).

The image is ``metadata.component`` (type container); every package is a ``library`` component
with its purl and ``patchwarden:*`` properties (layer, path, source package); the OS is an
``operating-system`` component. Each vulnerability id is one entry whose ``affects`` lists the
packages it was found in; will-not-fix findings carry an ``analysis`` saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.model.tool import Tool
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from patchwarden.sbom.model import IgnoredFinding, ScanReport, sorted_findings, sorted_packages
from patchwarden.scan.model import Finding, FindingStatus, Package

VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}
_SEVERITY = {
    "critical": VulnerabilitySeverity.CRITICAL,
    "high": VulnerabilitySeverity.HIGH,
    "medium": VulnerabilitySeverity.MEDIUM,
    "low": VulnerabilitySeverity.LOW,
    "unknown": VulnerabilitySeverity.UNKNOWN,
}


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _refs(packages: Iterable[Package]) -> dict[Package, str]:
    """A unique bom-ref per package: its purl, plus ``#path`` when the purl repeats."""
    out: dict[Package, str] = {}
    seen: set[str] = set()
    for p in packages:
        ref = p.purl or f"{p.type.value}:{p.name}@{p.version}"
        if ref in seen:
            ref = f"{ref}#{p.path}"
        n = 2
        while ref in seen:
            ref, n = f"{ref}#{n}", n + 1
        seen.add(ref)
        out[p] = ref
    return out


def _component(p: Package, ref: str) -> Component:
    props = [Property(name="patchwarden:package-type", value=p.type.value)]
    props.append(Property(name="patchwarden:layer", value=p.layer))
    props.append(Property(name="patchwarden:path", value=p.path))
    if p.source_name:
        props.append(Property(name="patchwarden:source-name", value=p.source_name))
    if p.source_version:
        props.append(Property(name="patchwarden:source-version", value=p.source_version))
    return Component(
        name=p.name,
        version=p.version,
        group=p.namespace,
        type=ComponentType.LIBRARY,
        bom_ref=ref,
        purl=_purl(p.purl),
        licenses=[DisjunctiveLicense(name=x) for x in p.licenses],
        properties=props,
    )


def _rating(f: Finding) -> VulnerabilityRating:
    method = VulnerabilityScoreSource.CVSS_V3 if f.severity_source.startswith("cvss_v3") else None
    return VulnerabilityRating(
        source=VulnerabilitySource(name=f.severity_source) if f.severity_source else None,
        severity=_SEVERITY[f.severity.value],
        score=Decimal(str(f.cvss_score)) if f.cvss_score is not None else None,
        method=method if f.cvss_score is not None else None,
    )


def _vulnerability(
    vid: str, group: list[Finding], refs: dict[Package, str], ignored: list[IgnoredFinding]
) -> Vulnerability:
    first = group[0]
    affects = []
    for f in group:
        versions = [
            BomTargetVersionRange(
                version=f.installed_version, status=ImpactAnalysisAffectedStatus.AFFECTED
            )
        ]
        if f.fixed_version:
            versions.append(
                BomTargetVersionRange(
                    version=f.fixed_version, status=ImpactAnalysisAffectedStatus.UNAFFECTED
                )
            )
        affects.append(BomTarget(ref=refs[f.package], versions=versions))
    statuses = {f.status for f in group}
    analysis = None
    if statuses == {FindingStatus.WILL_NOT_FIX}:
        analysis = VulnerabilityAnalysis(
            state=ImpactAnalysisState.EXPLOITABLE,
            responses=[ImpactAnalysisResponse.WILL_NOT_FIX],
            detail="The distribution decided not to fix this vulnerability in this release.",
        )
    elif statuses == {FindingStatus.NO_FIX}:
        analysis = VulnerabilityAnalysis(
            state=ImpactAnalysisState.EXPLOITABLE,
            responses=[ImpactAnalysisResponse.CAN_NOT_FIX],
            detail="No fixed version has been released yet.",
        )
    fixes = [f"{f.package.name} {f.fixed_version}" for f in group if f.fixed_version]
    props = [Property(name="patchwarden:status", value=f.status.value) for f in group[:1]]
    props += [
        Property(name="patchwarden:ignored", value=f"{i.source}: {i.reason} (until {i.expires})")
        for i in ignored
    ]
    return Vulnerability(
        bom_ref=f"vuln:{vid}",
        id=vid,
        source=VulnerabilitySource(name=first.ecosystem, url=XsUri(first.url))
        if first.url
        else None,
        references=[
            VulnerabilityReference(id=a, source=VulnerabilitySource(name=first.ecosystem))
            for a in first.aliases
        ],
        ratings=[_rating(f) for f in group],
        description=first.summary or None,
        recommendation=("Upgrade to " + ", ".join(dict.fromkeys(fixes))) if fixes else None,
        analysis=analysis,
        affects=affects,
        properties=props,
    )


def build_bom(report: ScanReport) -> Bom:
    inv = report.inventory
    packages = sorted_packages(set(inv.packages) | {f.package for f in report.findings})
    refs = _refs(packages)
    bom = Bom()
    bom.metadata.timestamp = report.timestamp
    bom.metadata.tools.tools.add(
        Tool(vendor="patchwarden", name="patchwarden", version=report.tool_version)
    )
    image = inv.image
    image_props = [Property(name="patchwarden:platform", value=image.platform)]
    root = Component(
        name=image.name,
        version=image.digest,
        type=ComponentType.CONTAINER,
        bom_ref=f"image:{image.name}",
        properties=image_props if image.platform else [],
    )
    bom.metadata.component = root
    if inv.os:
        bom.components.add(
            Component(
                name=inv.os.id,
                version=inv.os.version_id,
                type=ComponentType.OPERATING_SYSTEM,
                bom_ref=f"os:{inv.os.id}",
                description=inv.os.pretty_name,
            )
        )
    for p in packages:
        bom.components.add(_component(p, refs[p]))
    bom.register_dependency(root, list(bom.components))
    ignored_by_id: dict[str, list[IgnoredFinding]] = {}
    for i in report.ignored:
        ignored_by_id.setdefault(i.finding.id, []).append(i)
    groups: dict[str, list[Finding]] = {}
    for f in sorted_findings(report.findings):
        groups.setdefault(f.id, []).append(f)
    for vid, group in groups.items():
        bom.vulnerabilities.add(_vulnerability(vid, group, refs, ignored_by_id.get(vid, [])))
    return bom


def write_cyclonedx(report: ScanReport, spec_version: str = "1.6") -> str:
    if spec_version not in VERSIONS:
        raise ValueError(f"unsupported CycloneDX version {spec_version!r} (1.5 or 1.6)")
    outputter = make_outputter(build_bom(report), OutputFormat.JSON, VERSIONS[spec_version])
    return outputter.output_as_string(indent=2) + "\n"
