"""The ``serve`` process: stores, jobs, scheduler, HTTP server, and an orderly shutdown.

Start-up: open (and migrate) the state store; settle container updates a crash left half-done;
with no ``check`` schedule, queue an inventory and check of the paths; start the scheduler.
Shutdown (SIGTERM/SIGINT): stop accepting HTTP requests, let running jobs finish (up to
``grace`` seconds), release their leases. A job cut off by a hard kill leaves a lease that
expires; the next start runs it again (a check is harmless to repeat; an update in flight is
settled, never repeated: :class:`~patchwarden.service.jobs.ApplyJob`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from patchwarden.app.wiring import build_executor
from patchwarden.config.schema import Config
from patchwarden.config.serve import JobName
from patchwarden.queue.model import Executor
from patchwarden.service.auth import Authenticator
from patchwarden.service.jobs import ApplyJob, Context
from patchwarden.service.kinds import KINDS, handler
from patchwarden.service.metrics import Metrics
from patchwarden.service.notify import Notifier
from patchwarden.service.runner import Handler, JobRunner, Trigger
from patchwarden.service.schedule import in_window, plan
from patchwarden.store import open_store
from patchwarden.store.fleet import FleetStore, PendingUpdate
from patchwarden.store.jobs import JobStore
from patchwarden.store.sboms import SbomStore
from patchwarden.store.tasks import TaskStore
from patchwarden.store.tokens import TokenStore

log = logging.getLogger("patchwarden.service")
ADMIN_ENV = "PATCHWARDEN_API_TOKEN"


class Service:
    def __init__(
        self,
        config: Config,
        paths: Sequence[Path],
        *,
        state: str | None = None,
        env: Mapping[str, str] | None = None,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        env = os.environ if env is None else env
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        from patchwarden.app.wiring import state_url

        self.state_url = state_url(config, state)
        self.store = open_store(self.state_url)
        engine = self.store.engine
        self.jobs = JobStore(engine)
        self.fleet = FleetStore(engine)
        self.tokens = TokenStore(engine)
        self.sboms = SbomStore(engine)
        self.tasks = TaskStore(engine)
        self.metrics = Metrics(self.fleet, self.jobs, self.tasks)
        self.notifier = Notifier(config.serve.notify, self.fleet, env, config.serve.templates)
        admin = env.get(ADMIN_ENV) or (
            config.serve.admin_token.get_secret_value() if config.serve.admin_token else None
        )
        self.auth = Authenticator(self.tokens, admin, config.serve.auth_failures_per_minute)
        token_env = config.serve.hooks.token_env
        self.hook_secret = env.get(token_env) if token_env else None
        self.ctx = Context(
            config=config,
            paths=list(paths),
            fleet=self.fleet,
            history=self.store,
            notifier=self.notifier,
            metrics=self.metrics,
            engine=self._engine if config.serve.engine else None,
            state=self.state_url,
            sboms=self.sboms,
            scan_pipeline=self._scanner,
            live_updater=self._updater if config.serve.engine else None,
        )
        self.apply = ApplyJob(self.ctx, self._updater)
        self.handlers: dict[str, Handler] = {
            kind.value: handler(kind, self.ctx, sched.params if sched else None)
            for kind in KINDS
            for sched in [config.serve.jobs.get(kind)]
        }
        self.runner: Executor = build_executor(
            config,
            local=lambda: JobRunner(
                self.jobs, self.handlers, owner=self.owner, lease=lease, on_finish=self._finished
            ),
            engine=engine,
            jobs=frozenset(self.handlers),
        )
        self.ctx.submit = self.runner.submit
        if config.queue.shard_size and not isinstance(self.runner, JobRunner):
            from patchwarden.service.fanout import FanOutCheck, FanOutScan

            check, scan = self.handlers[JobName.CHECK.value], self.handlers[JobName.SCAN.value]
            size = config.queue.shard_size
            self.handlers[JobName.CHECK.value] = FanOutCheck(self.ctx, check, size)
            self.handlers[JobName.SCAN.value] = FanOutScan(self.ctx, scan, size)
        self._stop = threading.Event()
        self._engine_lock = threading.Lock()
        self._engine_client: Any = None
        self._scan_pipeline: Any = None
        self._scheduler: threading.Thread | None = None
        self._index_stamp = 0
        self._broker_probe: Any = None
        self.started = False

    # -- collaborators built on demand ----------------------------------------------------
    def _engine(self) -> Any:
        """One engine client for the process (Podman answers /version in seconds under load)."""
        with self._engine_lock:
            if self._engine_client is None:
                from patchwarden.engine.client import connect

                self._engine_client = connect(self.config.serve.engine)
            return self._engine_client

    def _updater(self) -> Any:
        """A live updater taking the same per-container locks as ``engine update``."""
        from patchwarden.app.live import LiveUpdater
        from patchwarden.store.locks import run_owner

        engine = self._engine()
        locks = self.store.container_locks(engine.identity, run_owner("serve"))
        return LiveUpdater(engine, self.store, locks=locks)

    def scan(self, image: str, *, sbom_only: bool = False) -> Any:
        """``scan IMAGE`` (a registry reference) in this process: warm caches (layers, the
        registry client's connections and tokens) make a repeated scan cheap."""
        from patchwarden.app.scan import ScanOptions, ScanTarget, run_scan
        from patchwarden.core.ref import parse_reference
        from patchwarden.registry.model import Platform

        parse_reference(image)  # a malformed reference is a usage error, before any I/O
        options = ScanOptions(
            ScanTarget("registry", image),
            platform=Platform.parse(self.config.platform),
            sbom_only=sbom_only,
        )
        return run_scan(self._scanner(), options).report

    def _scanner(self) -> Any:
        with self._engine_lock:
            if self._scan_pipeline is None:
                from patchwarden.app.wiring import broker_url
                from patchwarden.service.scanning import build_serve_scan
                from patchwarden.store.shared import SharedContent

                shared = None
                if broker_url(self.config) is not None:  # a fleet: share layer facts
                    shared = SharedContent(self.store.engine, "layer")
                self._scan_pipeline = build_serve_scan(self.config, shared)
            return self._scan_pipeline

    def _finished(self, job: str, outcome: str, seconds: float, summary: str) -> None:
        from patchwarden.config.serve import Event

        self.metrics.job_finished(job, outcome, seconds)
        if outcome != "succeeded":
            self.notifier.notify(
                Event.JOB_FAILED,
                f"{job}:{datetime.now(UTC).isoformat()}",
                f"job {job} failed",
                summary,
                {"job": job, "summary": summary},
            )

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self.auth.admin_missing and not self.tokens.list():
            log.warning(
                "no admin token (set %s) and no API tokens: the API and dashboard refuse "
                "every sign-in",
                ADMIN_ENV,
            )
        self._publish_index()
        settled = self.apply.settle() if self.config.serve.engine else []
        if settled:
            log.warning("settled updates interrupted by a restart: %s", ", ".join(settled))
        if JobName.CHECK not in self.config.serve.jobs:
            self.runner.submit("check", Trigger("startup", "no check schedule configured"))
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name="scheduler", daemon=True
        )
        self._scheduler.start()
        self.started = True

    def _publish_index(self) -> None:
        """With workers: share this machine's advisory index (``db update`` runs here)."""
        from patchwarden.queue.executor import CeleryExecutor

        if not isinstance(self.runner, CeleryExecutor):
            return
        from patchwarden.advisories.dbpath import resolve_db_path
        from patchwarden.app.fleet import IndexSync
        from patchwarden.store.shared import SharedContent

        path = resolve_db_path(None, self.config.advisories.db_path)
        files = (path, path.with_name(path.name + "-wal"))
        stamp = max((p.stat().st_mtime_ns for p in files if p.exists()), default=0)
        if stamp == 0 or stamp == self._index_stamp:  # none, or unchanged since last time
            return
        shared = SharedContent(self.store.engine, "advisory-index", 1 << 30)
        try:
            IndexSync(shared).publish(path)
            self._index_stamp = stamp
        except Exception as exc:  # workers keep the index they have
            log.warning("advisory index not published: %s", exc)

    def stop(self, grace: float = 30.0) -> bool:
        self._stop.set()
        finished = self.runner.stop(grace)
        if self._scheduler is not None:
            self._scheduler.join(5)
        self.store.close()
        return finished

    def not_ready(self) -> list[str]:
        reasons = []
        if not self.started:
            reasons.append("starting")
        try:
            with self.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            reasons.append("the state store is unreachable")
        from patchwarden.app.wiring import broker_url

        url = broker_url(self.config)
        if url is not None:
            if self._broker_probe is None:
                from patchwarden.queue.health import BrokerProbe

                self._broker_probe = BrokerProbe(url)
            problem = self._broker_probe.problem()
            if problem is not None:
                reasons.append(problem)
        return reasons

    def decide(self, pid: int, approve: bool, actor: str) -> PendingUpdate:
        to = "approved" if approve else "denied"
        p = self.fleet.transition(pid, "pending", to, actor=actor)
        self.fleet.audit(
            actor,
            "approve" if approve else "deny",
            p.container or p.image,
            f"#{p.id} -> {p.to_image}",
        )
        if approve and self.config.serve.engine:
            self.runner.submit("apply", Trigger("approval", f"update #{pid} by {actor}"))
        return p

    def request_rollback(self, container: str, actor: str) -> PendingUpdate:
        """Queue a rollback of ``container`` to the image it ran before its last update, as an
        approved change the ``apply`` job carries out once (like an approved update)."""
        from patchwarden.errors import UsageError

        if not self.config.serve.engine:
            raise UsageError("no engine configured", "set serve.engine to roll containers back")
        item = self.fleet.item(f"container:{container}")
        if item is None:
            raise UsageError(f"no container {container!r} is known", "see GET /api/v1/references")
        now = datetime.now(UTC)
        p, _ = self.fleet.propose(
            PendingUpdate(
                id=0,
                change_key=f"rollback:{container}:{now.isoformat()}",
                fleet_key=item.key,
                container=container,
                image=f"{item.repository}:{item.current_tag}",
                from_digest=item.current_digest,
                to_image=f"{item.repository}:{item.current_tag}",
                to_digest=None,  # the live updater picks the previous digest from the history
                update_kind="rollback",
                state="approved",
                created_at=now,
                decided_at=now,
                decided_by=actor,
                result=None,
            )
        )
        self.fleet.audit(actor, "rollback", container, f"#{p.id}")
        self.runner.submit("apply", Trigger("rollback", f"#{p.id} by {actor}"))
        return p

    def image_findings(self, *, details: bool = False, new_only: bool = False) -> list[Any]:
        """Stored SBOMs with their findings by severity, the new ones, who runs them."""
        from collections import Counter

        rows = [r for r in self.sboms.findings() if r.new_findings or not new_only]
        users: dict[str, list[str]] = {}
        for item in self.fleet.by_digest(r.digest for r in rows):
            users.setdefault(item.current_digest or "", []).append(item.key)
        out = []
        for r in rows:
            doc: dict[str, Any] = {
                "digest": r.digest,
                "image": r.image,
                "packages": r.package_count,
                "matched_at": r.matched_at,
                "by_severity": dict(Counter(v["severity"] for v in r.findings.values())),
                "new": [
                    {"id": vid, **r.findings.get(vid, {}), **meta}
                    for vid, meta in sorted(r.new_findings.items())
                ],
                "used_by": sorted(users.get(r.digest, [])),
            }
            if details:
                doc["findings"] = [{"id": vid, **v} for vid, v in sorted(r.findings.items())]
            out.append(doc)
        return out

    def _schedule_loop(self) -> None:
        startup = True
        while not self._stop.is_set():
            now = datetime.now(UTC)
            wake = now + timedelta(seconds=30)
            for name, sched in self.config.serve.jobs.items():
                try:
                    st = self.jobs.state(name.value)
                    p = plan(
                        name.value, sched, st.last_due_at if st else None, now, startup=startup
                    )
                    if p.claim is not None and self.jobs.claim_due(name.value, p.claim) and p.run:
                        why = f"due {p.claim.isoformat()}" + (
                            f" ({p.missed} missed)" if p.missed else ""
                        )
                        self.runner.submit(name.value, Trigger("schedule", why))
                    elif startup and p.missed and not p.run:
                        log.info("%s: skipped %d missed run(s) (missed: skip)", name, p.missed)
                    wake = min(wake, p.wake)
                except Exception:
                    log.exception("scheduler: planning %s failed", name)
            if (
                self.config.serve.engine
                and (self.config.serve.maintenance_windows or self.config.serve.schedules)
                and in_window(self.config.serve.maintenance_windows, now)
                and self.fleet.pending_counts().get("approved")
            ):
                self.runner.submit("apply", Trigger("window", "maintenance window open"))
                wake = min(wake, now + timedelta(seconds=60))
            self._publish_index()  # after a `db update` here, the workers get it
            startup = False
            delay = max(0.2, min(30.0, (wake - datetime.now(UTC)).total_seconds()))
            self._stop.wait(delay)
