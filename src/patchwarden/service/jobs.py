"""The jobs ``serve`` runs, as thin calls into the use cases of :mod:`patchwarden.app`.

``check``: inventory of the paths, ``check`` of every reference (or of the repositories an
event named), the engine's running containers likewise; results go to the fleet table, an
outdated container becomes a *pending update* (once per target digest), and each new change
is announced once.

``apply``: carries out approved container updates through the live updater (pull, recreate,
health gate, rollback), only inside a maintenance window. An update is claimed by moving it
``approved -> applying`` in the store before anything is touched, so it is attempted at most
once, whichever process or restart gets there. One left ``applying`` by a crash is settled at
start-up (:meth:`ApplyJob.settle`): the live updater's recovery completes or undoes the
container replacement, and the update is marked by what the container now runs; it is never
retried by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.app.check.results import CheckResult, Status
from patchwarden.config.schema import Config
from patchwarden.config.serve import Event
from patchwarden.errors import PatchwardenError
from patchwarden.refs.model import Inventory
from patchwarden.service.inventories import InventoryCache
from patchwarden.service.runner import Trigger
from patchwarden.service.schedule import in_window, next_window, policy_open
from patchwarden.store.fleet import DecisionError, FleetItem, FleetStore, PendingUpdate

if TYPE_CHECKING:
    from patchwarden.app.scan.pipeline import ImagePipeline
    from patchwarden.engine.client import EngineClient
    from patchwarden.service.metrics import Metrics
    from patchwarden.service.notify import Notifier
    from patchwarden.store.db import Store
    from patchwarden.store.sboms import SbomStore

log = logging.getLogger("patchwarden.service.jobs")


def fleet_key(res: CheckResult) -> str:
    ref = res.reference
    if ref.file.startswith("container:"):
        return ref.file
    return f"file:{ref.file}:{ref.line}"


MAX_LISTED = 50  # vulnerabilities fixed/introduced kept per reference (the counts are whole)


def vuln_facts(res: CheckResult) -> dict[str, Any]:
    """What the dashboard's image page shows of a ``check --vulns`` result: the current
    image's counts by severity, and what the candidate fixes and introduces."""
    if res.vulns is None:
        return {}
    from patchwarden.app.check.vulns import by_severity

    facts: dict[str, Any] = {
        "by_severity": by_severity(res.vulns.current),
        "summary": res.vulns.summary(),
    }
    tag = res.candidate.tag if res.candidate else None
    option = next((o for o in res.vulns.options if o.tag == tag), None)
    if option is not None:
        for name, found in (("fixed", option.fixed), ("introduced", option.introduced)):
            facts[name] = [
                {"id": f.id, "package": f.package.name, "severity": f.severity.value}
                for f in found[:MAX_LISTED]
            ]
            facts[f"{name}_count"] = len(found)
    return facts


def to_item(res: CheckResult, now: datetime) -> FleetItem:
    vulns = vuln_facts(res)
    cand = res.candidate
    return FleetItem(
        key=fleet_key(res),
        source=res.reference.file
        if res.reference.line == 0
        else f"{res.reference.file}:{res.reference.line}",
        image=res.reference.ref.familiar_name,
        repository=res.reference.ref.name,
        status=res.status.value,
        update_kind=res.update,
        current_tag=res.current.tag,
        current_digest=res.current.digest,
        candidate_tag=cand.tag if cand else None,
        candidate_digest=cand.digest if cand else None,
        reason=res.reason,
        checked_at=now,
        vulns=vulns,
    )


@dataclass
class Context:
    """What every job shares: configuration, stores, side channels."""

    config: Config
    paths: Sequence[Path]
    fleet: FleetStore
    history: Store
    notifier: Notifier
    metrics: Metrics
    engine: Callable[[], EngineClient] | None = None
    submit: Callable[[str, Trigger], object] | None = None
    state: str | None = None  # the state store's path or URL (check keeps tag drift there)
    sboms: SbomStore | None = None  # stored SBOMs (scan, advisory-refresh)
    scan_pipeline: Callable[[], ImagePipeline] | None = None  # one for the process
    live_updater: Callable[[], Any] | None = None  # apply: a LiveUpdater on the engine
    inventories: InventoryCache = field(default_factory=InventoryCache)  # of the PATHs


class CheckJob:
    """``vulns``: as ``check --vulns`` (the advisory index of ``advisories.db_path``): the
    fleet keeps each reference's vulnerabilities and what its candidate fixes and introduces."""

    def __init__(self, ctx: Context, *, vulns: bool = False) -> None:
        self.ctx = ctx
        self.vulns = vulns

    def __call__(self, trigger: Trigger) -> str:
        from patchwarden.app.wiring import build_checker

        ctx, now = self.ctx, datetime.now(UTC)
        scope = trigger.repositories
        inv = ctx.inventories.get(ctx.paths, ctx.config)
        refs = tuple(r for r in inv.references if scope is None or r.ref.name in scope)
        # No disk cache: an event says a tag just moved, a cached tag list would hide it.
        checker = build_checker(ctx.config, use_cache=False, state=ctx.state, vulns=self.vulns)
        containers = self._containers(scope)
        report = checker.run(Inventory(refs + tuple(c for c, _ in containers), inv.skipped))
        ctx.metrics.registry_requests(report.requests)
        files = [r for r in report.results if not r.reference.file.startswith("container:")]
        live = [r for r in report.results if r.reference.file.startswith("container:")]
        ctx.fleet.save_results(
            (to_item(r, now) for r in files), prefix=None if scope is not None else "file:"
        )
        ctx.fleet.save_results(
            (to_item(r, now) for r in live),
            prefix=None if scope is not None or ctx.engine is None else "container:",
        )
        for res in files:
            if res.status == Status.OUTDATED and res.candidate is not None:
                self._announce(res)
        proposed = sum(self._propose(res) for res in live)
        outdated = report.count(Status.OUTDATED)
        errors = report.count(Status.ERROR)
        return (
            f"{len(report.results)} references checked ({len(live)} containers): "
            f"{outdated} outdated, {errors} errors; {proposed} new pending updates"
        )

    def _containers(self, scope: frozenset[str] | None) -> list[tuple[Any, Any]]:
        if self.ctx.engine is None:
            return []
        from patchwarden.app.live.select import container_reference, is_leftover

        out = []
        for info in self.ctx.engine().list_containers(all=False):
            ref = info.image_ref()
            if ref is None or ref.digest is not None or is_leftover(info.name):
                continue
            if scope is not None and ref.name not in scope:
                continue
            out.append((container_reference(info, ref), info))
        return out

    def _announce(self, res: CheckResult) -> None:
        cand = res.candidate
        if cand is None:
            return
        target = cand.digest or cand.tag or ""
        self.ctx.notifier.notify(
            Event.UPDATE_AVAILABLE,
            f"{fleet_key(res)}->{target}",
            f"update available: {res.reference.ref.familiar_name}",
            f"{res.reference.file}:{res.reference.line}: {res.current.tag} -> {cand.tag} "
            f"({res.update}); {res.reason}",
            {
                "image": res.reference.ref.familiar_name,
                "where": f"{res.reference.file}:{res.reference.line}",
                "current": res.current.tag or res.current.digest or "",
                "candidate": cand.tag or target,
                "kind": res.update or "",
                "reason": res.reason,
            },
        )

    def _propose(self, res: CheckResult) -> int:
        cand = res.candidate
        if res.status != Status.OUTDATED or cand is None or cand.digest is None:
            return 0
        ref = res.reference.ref
        container = res.reference.file.split(":", 1)[1]
        to_image = f"{ref.name}:{cand.tag or ref.tag}"
        key = f"{fleet_key(res)}->{cand.digest}"
        pending, new = self.ctx.fleet.propose(
            PendingUpdate(
                id=0,
                change_key=key,
                fleet_key=fleet_key(res),
                container=container,
                image=f"{ref.name}:{ref.tag}",
                from_digest=res.current.digest,
                to_image=to_image,
                to_digest=cand.digest,
                update_kind=res.update or "digest",
                state="pending",
                created_at=datetime.now(UTC),
                decided_at=None,
                decided_by=None,
                result=None,
            )
        )
        if not new:
            return 0
        self.ctx.fleet.audit("serve", "propose", container, f"#{pending.id} -> {to_image}")
        self.ctx.notifier.notify(
            Event.UPDATE_AVAILABLE,
            key,
            f"update available for container {container}",
            f"{pending.image} -> {to_image}@{cand.digest} ({pending.update_kind}); "
            f"pending update #{pending.id}: {res.reason}",
            {
                "image": pending.image,
                "where": res.reference.file,
                "current": res.current.tag or res.current.digest or "",
                "candidate": f"{to_image}@{cand.digest}",
                "kind": pending.update_kind,
                "reason": res.reason,
                "update_id": pending.id,
            },
        )
        if not self.ctx.config.serve.approvals:
            self.ctx.fleet.transition(pending.id, "pending", "approved", actor="policy")
            if self.ctx.submit is not None:
                self.ctx.submit("apply", Trigger("policy", f"update #{pending.id}"))
        return 1


_STATE_OF = {"updated": "applied", "reverted": "applied", "rolled-back": "rolled-back"}


class ApplyJob:
    def __init__(self, ctx: Context, updater: Callable[[], Any]) -> None:
        self.ctx = ctx
        self.updater = updater

    def __call__(self, trigger: Trigger) -> str:
        ctx = self.ctx
        now = datetime.now(UTC)
        windows = ctx.config.serve.maintenance_windows
        approved = ctx.fleet.pending("approved")
        if not approved:
            return "no approved updates"
        if not in_window(windows, now):
            nxt = next_window(windows, now)
            return f"{len(approved)} approved update(s) wait for the maintenance window ({nxt})"
        from patchwarden.core.ref import parse_reference

        schedules = ctx.config.serve.schedules
        waiting = [
            p for p in approved if not policy_open(schedules, parse_reference(p.image).name, now)
        ]
        approved = [p for p in approved if p not in waiting]
        done = [f"#{p.id} {p.container}: waits for its policy schedule" for p in waiting]
        for p in approved:
            try:
                p = ctx.fleet.transition(p.id, "approved", "applying")
            except DecisionError:
                continue  # someone else claimed it
            done.append(self._apply(p))
        return "; ".join(done) or "nothing to apply"

    def _apply(self, p: PendingUpdate) -> str:
        from patchwarden.app.live import Candidate, Selection
        from patchwarden.core.ref import parse_reference

        updater = self.updater()
        failure = ""
        if p.update_kind == "rollback":
            try:
                result = updater.rollback(p.container or "")
            except PatchwardenError as exc:  # no earlier digest, container gone, ...
                result = None
                failure = exc.message
        else:
            target = parse_reference(p.to_image).with_digest(p.to_digest)
            why = f"approved update #{p.id} by {p.decided_by}"
            results = updater.update(
                lambda _info, _ref: Candidate(target, None, why),
                Selection(names=(p.container or "",)),
            )
            result = results[0] if results else None
            failure = "container not selected"
        outcome = result.outcome if result is not None else "failed"
        reason = result.reason if result is not None else failure
        state = _STATE_OF.get(outcome, "failed")
        self.ctx.fleet.transition(p.id, "applying", state, result=reason)
        self.ctx.fleet.audit("serve", f"apply:{state}", p.container or "", f"#{p.id}: {reason}")
        what = "rollback" if p.update_kind == "rollback" else "update"
        ok = state == "applied" and what == "update"
        self.ctx.notifier.notify(
            Event.UPDATE_APPLIED if ok else Event.ROLLBACK,
            f"apply:{p.id}",
            f"{p.container}: {what} {state}",
            f"{p.to_image}: {reason}",
            {
                "container": p.container or "",
                "image": p.to_image,
                "state": state,
                "result": reason,
                "update_id": p.id,
            },
        )
        if state == "applied" and self.ctx.submit is not None:
            repo = frozenset({parse_reference(p.image).name})
            self.ctx.submit("check", Trigger("apply", f"update #{p.id}", repo))
        return f"#{p.id} {p.container}: {state}"

    def settle(self) -> list[str]:
        """Settle updates a crash left ``applying``: recover the containers, then record what
        they run. Never re-attempts an update."""
        stuck = self.ctx.fleet.pending("applying")
        if not stuck:
            return []
        updater = self.updater()
        updater.recover()
        engine = self.ctx.engine() if self.ctx.engine else None
        out = []
        for p in stuck:
            digest = None
            if engine is not None and p.container:
                try:
                    digest = engine.info(p.container).digest
                except Exception:  # the container is gone: the update did not land
                    digest = None
            state = "applied" if digest and digest == p.to_digest else "failed"
            reason = f"interrupted by a restart; the container runs {digest or 'nothing'}"
            self.ctx.fleet.transition(p.id, "applying", state, result=reason)
            self.ctx.fleet.audit("serve", f"settle:{state}", p.container or "", reason)
            out.append(f"#{p.id}: {state}")
        return out
