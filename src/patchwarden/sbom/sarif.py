"""SARIF 2.1.0 JSON, written by hand (it is plain JSON; no library needed).

One rule per vulnerability id, one result per (vulnerability, package). A result is located at
the file the package was found in (``artifactLocation.uri``, relative to the image root) and,
logically, at the image. Findings hidden by the ignore file are kept as results with an
``external`` suppression, as SARIF consumers expect.
"""

from __future__ import annotations

from typing import Any

from patchwarden.core.jsonfmt import pretty
from patchwarden.sbom.model import ScanReport, sorted_findings
from patchwarden.scan.model import Finding, FindingStatus, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.UNKNOWN: "note",
}
# GitHub code scanning reads properties.security-severity (a CVSS-like score as a string).
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.UNKNOWN: "0.0",
}


def level(severity: Severity) -> str:
    return _LEVEL[severity]


def _rule(f: Finding) -> dict[str, Any]:
    short = f.summary or f"{f.id} in {f.package.name}"
    rule: dict[str, Any] = {
        "id": f.id,
        "name": f.id.replace("-", ""),
        "shortDescription": {"text": short},
        "fullDescription": {"text": f.summary or f.id},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {
            "security-severity": (
                f"{f.cvss_score:.1f}" if f.cvss_score is not None else _SCORE[f.severity]
            ),
            "tags": ["security", "vulnerability", f.severity.value],
            "aliases": list(f.aliases),
        },
    }
    if f.url:
        rule["helpUri"] = f.url
    return rule


def _message(f: Finding) -> str:
    p = f.package
    text = f"{f.id} ({f.severity.value}) in {p.name} {f.installed_version}"
    if f.status == FindingStatus.FIXED and f.fixed_version:
        return text + f": upgrade to {f.fixed_version}."
    if f.status == FindingStatus.WILL_NOT_FIX:
        return text + ": the distribution will not fix it."
    return text + ": no fixed version exists yet."


def _result(f: Finding, rule_index: int, image: str) -> dict[str, Any]:
    p = f.package
    return {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": _message(f)},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": p.path or image}},
                "logicalLocations": [
                    {"name": p.name, "fullyQualifiedName": f"{image}/{p.path}", "kind": "module"}
                ],
            }
        ],
        "partialFingerprints": {"packageVulnerability": f"{p.purl}|{f.id}"},
        "properties": {
            "package": p.name,
            "installedVersion": f.installed_version,
            "fixedVersion": f.fixed_version,
            "status": f.status.value,
            "purl": p.purl,
            "layer": p.layer,
        },
    }


def sarif_dict(report: ScanReport) -> dict[str, Any]:
    image = report.inventory.image
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    shown = [(f, None) for f in sorted_findings(report.findings)]
    hidden = [(i.finding, i) for i in sorted(report.ignored, key=lambda i: i.finding.id)]
    for f, ignored in shown + hidden:
        if f.id not in index:
            index[f.id] = len(rules)
            rules.append(_rule(f))
        result = _result(f, index[f.id], image.name)
        if ignored is not None:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f"{ignored.reason} (until {ignored.expires.isoformat()})",
                    "location": {
                        "physicalLocation": {
                            "artifactLocation": {"uri": ignored.source.rsplit(":", 1)[0]}
                        }
                    },
                }
            ]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "patchwarden",
                        "version": report.tool_version,
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {
                    "image": image.name,
                    "digest": image.digest,
                    "platform": image.platform,
                },
            }
        ],
    }


def write_sarif(report: ScanReport) -> str:
    return pretty(sarif_dict(report))
