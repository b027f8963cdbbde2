"""JSON shape of ``update`` (stable; docs/json-output.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.app.check.results import CheckResult
    from patchwarden.app.update.updater import Outcome


def update_dict(
    outcomes: Sequence[Outcome],
    notes: Sequence[str],
    errors: Sequence[CheckResult],
    stale_branches: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    return {
        "groups": [_group(o) for o in outcomes],
        "notes": list(notes),
        "errors": [
            {"file": e.reference.file, "line": e.reference.line, "reason": e.reason} for e in errors
        ],
        "stale_branches": [{"branch": b, "action": a} for b, a in stale_branches],
    }


def _group(o: Outcome) -> dict[str, Any]:
    return {
        "branch": o.group.branch,
        "title": o.group.title,
        "action": o.action,
        "files": o.group.files,
        "changes": [
            {
                "file": m.change.reference.file,
                "line": m.change.reference.line,
                "image": m.change.reference.image,
                "to": str(m.change.expected),
                "update": m.result.update,
            }
            for m in o.group.moves
        ],
        "commit": o.commit,
        "pushed": o.pushed,
        "pull_request": o.pull_request,
        "diff": o.diff,
        "body": o.body,
        "error": o.error,
        "skipped": [
            {
                "file": sk.change.reference.file,
                "line": sk.change.reference.line,
                "image": sk.change.reference.image,
                "reason": sk.reason,
            }
            for sk in o.skipped
        ],
        "left_out": [{"file": f, "reason": why} for f, why in o.left_out],
    }
