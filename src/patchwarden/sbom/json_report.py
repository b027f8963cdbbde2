"""The patchwarden JSON report: the stable contract of ``scan --format json``.

Keys are only ever added within a major version (docs/json-output.md, docs/commands/scan.md).
"""

from __future__ import annotations

from typing import Any

from patchwarden.core.jsonfmt import pretty
from patchwarden.sbom.model import (
    IgnoredFinding,
    ScanReport,
    severity_counts,
    sorted_findings,
    sorted_packages,
    status_counts,
    upgrades,
)
from patchwarden.scan.model import Finding, Package, Severity


def package_dict(p: Package) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "type": p.type.value,
        "purl": p.purl,
        "layer": p.layer,
        "path": p.path,
        "source_name": p.source_name,
        "source_version": p.source_version,
        "arch": p.arch,
        "namespace": p.namespace,
        "licenses": list(p.licenses),
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "aliases": list(f.aliases),
        "package": f.package.name,
        "installed_version": f.installed_version,
        "fixed_version": f.fixed_version,
        "fixed_versions": list(f.fixed_versions),
        "status": f.status.value,
        "severity": f.severity.value,
        "ecosystem": f.ecosystem,
        "purl": f.package.purl,
        "path": f.package.path,
        "layer": f.package.layer,
        "source_name": f.package.source_name,
        "source_version": f.package.source_version,
        "matched_version": f.matched_version,
        "summary": f.summary,
        "cvss_score": f.cvss_score,
        "severity_source": f.severity_source,
        "records": list(f.records),
        "url": f.url,
    }


def ignored_dict(i: IgnoredFinding) -> dict[str, Any]:
    d = finding_dict(i.finding)
    d["ignore"] = {"reason": i.reason, "expires": i.expires.isoformat(), "source": i.source}
    return d


def report_dict(report: ScanReport) -> dict[str, Any]:
    inv = report.inventory
    image = inv.image
    flt = report.filters
    findings = sorted_findings(report.findings)
    return {
        "image": image.name,
        "digest": image.digest,
        "platform": image.platform,
        "os": (
            {
                "id": inv.os.id,
                "version_id": inv.os.version_id,
                "pretty_name": inv.os.pretty_name,
                "version_codename": inv.os.version_codename,
            }
            if inv.os
            else None
        ),
        "layers": [layer.digest for layer in image.layers],
        "packages": [package_dict(p) for p in sorted_packages(inv.packages)],
        "matched": report.matched,
        "vulnerabilities": [finding_dict(f) for f in findings],
        "ignored": [
            ignored_dict(i) for i in sorted(report.ignored, key=lambda i: (i.finding.id, i.source))
        ],
        "summary": {
            "packages": len(inv.packages),
            "vulnerabilities": len(findings),
            "by_severity": severity_counts(findings),
            "by_status": status_counts(findings),
            "ignored": len(report.ignored),
            "hidden_by_filters": flt.hidden,
            "unrated": sum(1 for f in findings if f.severity is Severity.UNKNOWN),
            "upgrades": [
                {
                    "package": u.package.name,
                    "path": u.package.path,
                    "installed_version": u.installed_version,
                    "upgrade_to": u.target,
                    "fixes": u.fixes,
                    "of": u.total,
                }
                for u in upgrades(findings)
            ],
        },
        "filters": {
            "sbom_only": flt.sbom_only,
            "severities": [s.value for s in flt.severities],
            "ignore_unfixed": flt.ignore_unfixed,
            "ignore_file": flt.ignore_file,
        },
        "tool": {"name": "patchwarden", "version": report.tool_version},
        "timestamp": report.timestamp.isoformat(),
    }


def write_json(report: ScanReport) -> str:
    return pretty(report_dict(report))
