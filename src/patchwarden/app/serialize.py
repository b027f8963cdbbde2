"""Plain-dict forms of results, the stable JSON contract (docs/json-output.md)."""

from __future__ import annotations

from typing import Any

from patchwarden.app.results import CheckReport, CheckResult, Status, Version
from patchwarden.refs.model import Inventory, Reference, Skipped


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
    return out


def check_dict(report: CheckReport) -> dict[str, Any]:
    return {
        "results": [result_dict(r) for r in report.results],
        "skipped": [skipped_dict(s) for s in report.skipped],
        "summary": {s.value: report.count(s) for s in Status},
        "requests": report.requests,
    }
