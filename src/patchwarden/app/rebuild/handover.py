"""``rebuild --then update|rollout``: hand each pushed build's digest to the next step.

- ``update``: every reference to the built repository under the rebuild's directory is pinned
  to the new digest: a reference to the moving tag (or to no tag, or to this build's own
  immutable tag) keeps its tag and gains ``@sha256:...``; a reference to an older immutable
  tag moves to this build's immutable tag and digest. The edits go through ``update``'s own
  planner and :class:`~patchwarden.app.update.updater.Updater` (the pins are verified against
  the registry, files are rewritten minimally, committed per image, pushed, pull request).
- ``rollout``: ``rollout start REPO@DIGEST`` for each pushed build.

Nothing is handed over for a build that was not pushed. Exit codes combine as documented in
docs/commands/rebuild.md: an error anywhere wins (3), then a stopped build (1), then a
rollout waiting for approval (7), then an update refused by the trust gate (6), then
references ``update`` skipped (5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from patchwarden.app.check.results import CheckResult, Status, Version
from patchwarden.app.rebuild.model import BuildResult, Handover, Outcome, Then
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import ExitCode
from patchwarden.policy.model import UpdateLevel
from patchwarden.refs.model import Inventory

if TYPE_CHECKING:
    from patchwarden.app.update.updater import Updater


Starter = Callable[[str], tuple[ExitCode, dict[str, Any]]]


def pin_results(inventory: Inventory, pushed: Sequence[BuildResult]) -> list[CheckResult]:
    """One "outdated" result per reference to a pushed build's repository whose text must
    change: the shape ``update``'s planner takes (with ``pin_digest``)."""
    out: list[CheckResult] = []
    for r in pushed:
        if r.digest is None or not r.tags:
            continue
        dest = parse_reference(r.destination)
        immutable = r.tags[0]
        moving = r.tags[1] if len(r.tags) > 1 else None
        for ref in inventory.references:
            if ref.ref.name != dest.name:
                continue
            tag = ref.ref.tag
            new_tag = tag if tag in (None, moving, immutable) else immutable
            if new_tag == tag and ref.ref.digest == r.digest:
                continue
            out.append(
                CheckResult(
                    reference=ref,
                    status=Status.OUTDATED,
                    current=Version(tag, ref.ref.digest),
                    candidate=Version(new_tag, r.digest),
                    update=UpdateLevel.DIGEST,
                    reason=f"rebuilt by patchwarden rebuild ({r.name})",
                )
            )
    return out


def pushed_builds(results: Sequence[BuildResult]) -> list[BuildResult]:
    return [r for r in results if r.outcome == Outcome.PUSHED and r.digest]


def combined_exit(results: Sequence[BuildResult]) -> ExitCode:
    codes = {h.exit_code for r in results for h in r.then}
    if ExitCode.ERRORS in codes or any(r.outcome == Outcome.FAILED for r in results):
        return ExitCode.ERRORS
    if any(r.outcome == Outcome.STOPPED for r in results):
        return ExitCode.FINDINGS
    for code in (ExitCode.PENDING, ExitCode.UNTRUSTED, ExitCode.SKIPPED):
        if code in codes:
            return code
    return ExitCode.OK


class UpdateMode(StrEnum):
    """How far ``--then update`` goes, as ``update``'s flags: write the files, commit on a
    branch, push it, or open/update the pull request (closed set)."""

    write = "write"
    commit = "commit"
    push = "push"
    pull_request = "pull-request"


def run_update(
    pushed: Sequence[BuildResult],
    inventory: Inventory,
    updater: Updater,
    get_manifest: Callable[[ImageRef], object],
) -> Handover:
    """Pin the new digests where the built images are referenced, through ``update``."""
    name = ", ".join(r.name for r in pushed)
    t0 = time.monotonic()
    from patchwarden.app.update.action import UpdateAction
    from patchwarden.app.update.plan import Grouping, plan_groups, verify_pins

    results = pin_results(inventory, pushed)
    groups, _ = plan_groups(results, Grouping.image, pin_digest=True)
    groups, unverified = verify_pins(groups, get_manifest)
    outcomes = updater.run(groups) if groups else []
    failed = [o for o in outcomes if o.action == UpdateAction.FAILED or o.left_out]
    skipped = any(o.skipped for o in outcomes)
    errors = [r.reason for r in unverified]
    data: dict[str, Any] = {
        "groups": [
            {
                "branch": o.group.branch,
                "action": str(o.action),
                "files": o.group.files,
                "changes": [
                    {
                        "file": m.change.reference.file,
                        "line": m.change.reference.line,
                        "to": str(m.change.expected),
                    }
                    for m in o.group.moves
                ],
                "commit": o.commit,
                "pushed": o.pushed,
                "pull_request": o.pull_request,
                "error": o.error,
                "skipped": [
                    {
                        "file": k.change.reference.file,
                        "line": k.change.reference.line,
                        "reason": k.reason,
                    }
                    for k in o.skipped
                ],
            }
            for o in outcomes
        ],
        "errors": errors,
    }
    moves = sum(len(o.group.moves) for o in outcomes)
    if failed or unverified:
        why = "; ".join([*(o.error or "files left out" for o in failed), *errors])
        return Handover(
            Then.update, name, False, f"update failed: {why}", ExitCode.ERRORS, data, _since(t0)
        )
    if not outcomes:
        detail = "no reference to the rebuilt image needs a new pin"
        return Handover(Then.update, name, True, detail, ExitCode.OK, data, _since(t0))
    prs = [o.pull_request for o in outcomes if o.pull_request]
    detail = f"{moves} reference(s) pinned in {len(outcomes)} group(s)" + (
        f": {', '.join(prs)}" if prs else ""
    )
    code = ExitCode.SKIPPED if skipped else ExitCode.OK
    return Handover(Then.update, name, True, detail, code, data, _since(t0))


def start_rollouts(pushed: Sequence[BuildResult], start: Starter) -> list[Handover]:
    """``rollout start REPO@DIGEST`` per pushed build; ``start`` returns (exit code, report)."""
    out: list[Handover] = []
    for r in pushed:
        image = f"{r.destination}@{r.digest}"
        t0 = time.monotonic()
        code, doc = start(image)
        status = str(doc.get("status", ""))
        stopped = doc.get("stopped")
        detail = f"rollout {doc.get('id')} of {image}: {status}"
        if stopped:
            detail += (
                f" (stopped in {stopped.get('environment')} by the {stopped.get('gate')} gate: "
                f"{stopped.get('reason')})"
            )
        ok = code == ExitCode.OK
        out.append(Handover(Then.rollout, r.name, ok, detail, code, doc, _since(t0)))
    return out


class HandOff:
    """The ``--then`` steps for one pushed build at a time (the ``then`` of
    :meth:`~patchwarden.app.rebuild.pipeline.Rebuilder.run`). What each step needs (the
    updater and the inventory, the rollout service) is made on first use, by the factories
    the composition root gives."""

    def __init__(
        self,
        steps: Sequence[Then],
        *,
        updater: Callable[[], tuple[Updater, Callable[[ImageRef], object]]],
        inventory: Callable[[], Inventory],
        rollouts: Callable[[], Starter],
    ) -> None:
        self.steps = list(steps)
        self._updater_factory, self._inventory_factory = updater, inventory
        self._rollouts_factory = rollouts
        self._update: tuple[Updater, Callable[[ImageRef], object], Inventory] | None = None
        self._start: Starter | None = None

    def __call__(self, result: BuildResult) -> list[Handover]:
        out: list[Handover] = []
        for step in self.steps:
            if step == Then.update:
                if self._update is None:
                    updater, get_manifest = self._updater_factory()
                    self._update = (updater, get_manifest, self._inventory_factory())
                updater, get_manifest, inventory = self._update
                out.append(run_update([result], inventory, updater, get_manifest))
            else:
                if self._start is None:
                    self._start = self._rollouts_factory()
                out.extend(start_rollouts([result], self._start))
        return out


def _since(t: float) -> float:
    return time.monotonic() - t


__all__ = [
    "HandOff",
    "Handover",
    "Then",
    "UpdateMode",
    "combined_exit",
    "pin_results",
    "pushed_builds",
    "run_update",
    "start_rollouts",
]
