"""JSON shapes of `inventory` and `check` (stable; docs/json-output.md)."""

from __future__ import annotations

from typing import Any

from patchwarden.app.check.results import CheckReport, CheckResult, Status, Version
from patchwarden.app.check.vulns import Assessment, by_severity
from patchwarden.refs.model import Inventory, Reference, Skipped
from patchwarden.scan.model import Finding


def reference_dict(ref: Reference) -> dict[str, Any]:
    return {
        "file": ref.file,
        "line": ref.line,
        "column": ref.column,
        "kind": ref.kind.value,
        "image": ref.image,
        "normalized": str(ref.ref),
        "registry": ref.ref.registry,
        "repository": ref.ref.repository,
        "tag": ref.ref.tag,
        "digest": ref.ref.digest,
        "context": ref.context,
        "platform": ref.platform,
    }


def skipped_dict(s: Skipped) -> dict[str, Any]:
    return {
        "file": s.file,
        "line": s.line,
        "kind": s.kind.value if s.kind else None,
        "text": s.text,
        "reason": s.reason,
    }


def inventory_dict(inv: Inventory) -> dict[str, Any]:
    return {
        "references": [reference_dict(r) for r in inv.references],
        "skipped": [skipped_dict(s) for s in inv.skipped],
    }


def _version(v: Version | None) -> dict[str, Any] | None:
    return None if v is None else {"tag": v.tag, "digest": v.digest}


def result_dict(res: CheckResult) -> dict[str, Any]:
    out = reference_dict(res.reference)
    out.update(
        status=res.status.value,
        current=_version(res.current),
        candidate=_version(res.candidate),
        update=res.update,
        reason=res.reason,
    )
    if res.vulns is not None:
        out["vulnerabilities"] = assessment_dict(res.vulns)
    if res.trust is not None:
        out["verification"] = res.trust
    return out


def _finding_brief(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "package": f.package.name,
        "severity": f.severity.value,
        "installed_version": f.installed_version,
        "source_name": f.package.source_name,
        "matched_version": f.matched_version,
        "fixed_version": f.fixed_version,
        "status": f.status.value,
    }


def assessment_dict(a: Assessment) -> dict[str, Any]:
    return {
        "current": {
            "total": len(a.current),
            "by_severity": by_severity(a.current),
            "fixable": a.fixable_now,
            "findings": [_finding_brief(f) for f in a.current],
        },
        "options": [
            {
                "tag": o.tag,
                "digest": o.digest,
                "update": o.update,
                "total": len(o.findings),
                "by_severity": by_severity(o.findings),
                "fixed": [_finding_brief(f) for f in o.fixed],
                "introduced": [_finding_brief(f) for f in o.introduced],
                "gate": o.gate,
            }
            for o in a.options
        ],
        "recommended": a.recommended.tag if a.recommended else None,
        "summary": a.summary(),
    }


def check_dict(report: CheckReport) -> dict[str, Any]:
    return {
        "results": [result_dict(r) for r in report.results],
        "skipped": [skipped_dict(s) for s in report.skipped],
        "summary": {s.value: report.count(s) for s in Status},
        "requests": report.requests,
    }
