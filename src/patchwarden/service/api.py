"""The JSON API (``/api/v1``), webhooks (``/hooks``), health and metrics endpoints.

Handlers are plain functions: Starlette runs them on its thread pool, and the store is
synchronous. The OpenAPI document (:mod:`patchwarden.service.openapi`) lists every route here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from patchwarden.errors import PatchwardenError, UsageError
from patchwarden.service.auth import AuthError, Principal, bearer
from patchwarden.service.hooks import HookError, parse, verify
from patchwarden.service.runner import Trigger
from patchwarden.store.fleet import DecisionError
from patchwarden.store.tokens import Role

if TYPE_CHECKING:
    from patchwarden.service.process import Service

log = logging.getLogger("patchwarden.service.api")


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if is_dataclass(v) and not isinstance(v, type):
        return {k: _plain(x) for k, x in asdict(v).items()}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_plain(data), status_code=status)


def problem(status: int, message: str, hint: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": message} | ({"hint": hint} if hint else {})
    return JSONResponse(body, status_code=status, headers=headers or None)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Api:
    def __init__(self, svc: Service) -> None:
        self.svc = svc

    def _who(self, request: Request, role: Role) -> Principal:
        token = bearer(request.headers.get("authorization"))
        try:
            return self.svc.auth.require(token, client_of(request), role)
        except AuthError as exc:
            if exc.status == 401:
                self.svc.metrics.auth_failures.inc()
            raise

    def guarded(self, role: Role, fn: Any) -> Any:
        def endpoint(request: Request) -> Response:
            try:
                who = self._who(request, role)
                return fn(request, who)  # type: ignore[no-any-return]
            except AuthError as exc:
                headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
                if exc.status == 401:
                    headers["WWW-Authenticate"] = 'Bearer realm="patchwarden"'
                return problem(exc.status, exc.message, **headers)
            except DecisionError as exc:
                return problem(409, exc.message, exc.hint)
            except UsageError as exc:
                return problem(400, exc.message, exc.hint)
            except PatchwardenError as exc:
                return problem(500, exc.message, exc.hint)

        return endpoint

    # -- open endpoints -----------------------------------------------------------------
    def healthz(self, request: Request) -> Response:
        return ok({"status": "ok"})

    def readyz(self, request: Request) -> Response:
        reasons = self.svc.not_ready()
        if reasons:
            return ok({"status": "not ready", "reasons": reasons}, 503)
        return ok({"status": "ready"})

    def metrics(self, request: Request) -> Response:
        from patchwarden.service.metrics import CONTENT_TYPE

        return Response(self.svc.metrics.render(), media_type=CONTENT_TYPE)

    def openapi(self, request: Request) -> Response:
        from patchwarden.service.openapi import document

        return ok(document())

    async def hook_registry(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify(self.svc.hook_secret, headers, body)
            events = parse(body)
        except HookError as exc:
            self.svc.metrics.hook_events.labels("unknown", str(exc.status)).inc()
            return problem(exc.status, exc.message, exc.hint)
        self.svc.metrics.hook_events.labels(events.source, "accepted").inc()
        if events.repositories:
            detail = f"{events.source}: {', '.join(sorted(events.repositories))}"
            self.svc.runner.submit("check", Trigger("hook", detail, events.repositories))
        return ok(
            {
                "accepted": sorted(events.repositories),
                "ignored_events": events.ignored,
                "job": "check" if events.repositories else None,
            },
            202,
        )

    async def hook_git(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from patchwarden.service.forgehooks import (
            checkouts_of,
            forge_of,
            parse_push,
            verify_forge,
        )

        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            kind, event = forge_of(headers)
            verify_forge(self.svc.hook_secret, kind, headers, body)
            push = parse_push(kind, event, body)
        except HookError as exc:
            self.svc.metrics.hook_events.labels("git", str(exc.status)).inc()
            return problem(exc.status, exc.message, exc.hint)
        self.svc.metrics.hook_events.labels(kind, "accepted").inc()
        if push is None:
            return ok({"ignored_event": event, "job": None}, 202)
        paths = await run_in_threadpool(checkouts_of, list(self.svc.ctx.paths), push)
        repo = f"{push.host}/{push.path}"
        if paths:
            pull = (
                frozenset((str(p), push.branch) for p in paths)
                if push.branch and self.svc.config.serve.hooks.pull
                else frozenset()
            )
            detail = f"{kind} push to {repo} ({push.branch or 'not a branch'})"
            self.svc.runner.submit("check", Trigger("git", detail, None, pull))
        return ok(
            {
                "repository": repo,
                "branch": push.branch,
                "paths": [str(p) for p in paths],
                "job": "check" if paths else None,
            },
            202,
        )

    # -- read ---------------------------------------------------------------------------
    def references(self, request: Request, who: Principal) -> Response:
        limit = _int(request.query_params.get("limit"), 10_000)
        offset = _int(request.query_params.get("offset"), 0)
        items = self.svc.fleet.fleet(limit=limit, offset=offset)
        status = request.query_params.get("status")
        if status:
            items = [i for i in items if i.status == status]
        return ok({"references": items})

    def fleet(self, request: Request, who: Principal) -> Response:
        return ok({"summary": self.svc.fleet.summary(), "jobs": self.svc.jobs.states()})

    def updates(self, request: Request, who: Principal) -> Response:
        state = request.query_params.get("state")
        return ok({"updates": self.svc.fleet.pending(state)})

    def jobs(self, request: Request, who: Principal) -> Response:
        return ok({"jobs": self.svc.jobs.states(), "runs": self.svc.jobs.runs(limit=50)})

    def tasks(self, request: Request, who: Principal) -> Response:
        from patchwarden.store.tasks import TaskState

        raw = request.query_params.get("state")
        try:
            state = TaskState(raw) if raw else None
        except ValueError:
            return problem(400, f"unknown task state {raw!r}", f"use {', '.join(TaskState)}")
        limit = _int(request.query_params.get("limit"), 100)
        return ok({"counts": self.svc.tasks.counts(), "tasks": self.svc.tasks.list(state, limit)})

    def retry_task(self, request: Request, who: Principal) -> Response:
        from patchwarden.queue.executor import CeleryExecutor

        tid = request.path_params["id"]
        if not isinstance(self.svc.runner, CeleryExecutor):
            return problem(409, "jobs run inside serve here (no queue.broker_url)")
        task = self.svc.tasks.requeue(tid)
        if task is None:
            return problem(404, f"no dead task {tid!r}", "see GET /api/v1/tasks?state=dead")
        self.svc.fleet.audit(who.name, "retry-task", tid, task.job)
        self.svc.runner.send(tid)
        return ok({"task": task}, 202)

    def history(self, request: Request, who: Principal) -> Response:
        """Container updates and rollbacks, the shape of ``engine history --format json``."""
        from patchwarden.app.serialize.live import history_dict

        container = request.query_params.get("container") or None
        limit = min(_int(request.query_params.get("limit"), 100), 1000)
        return ok(history_dict(self.svc.store.history(container, limit=limit)))

    def audit(self, request: Request, who: Principal) -> Response:
        return ok({"audit": self.svc.fleet.audit_log(_int(request.query_params.get("limit"), 200))})

    def findings(self, request: Request, who: Principal) -> Response:
        details = request.query_params.get("details", "").lower() in ("1", "true", "yes")
        new_only = request.query_params.get("new_only", "").lower() in ("1", "true", "yes")
        return ok({"images": self.svc.image_findings(details=details, new_only=new_only)})

    def scan(self, request: Request, who: Principal) -> Response:
        from patchwarden.sbom.json_report import write_json

        image = request.query_params.get("image", "").strip()
        if not image:
            return problem(
                400, "missing ?image=REFERENCE", "e.g. ?image=docker.io/library/nginx:1.27"
            )
        sbom_only = request.query_params.get("sbom_only", "").lower() in ("1", "true", "yes")
        report = self.svc.scan(image, sbom_only=sbom_only)
        return Response(write_json(report), media_type="application/json")

    def tokens(self, request: Request, who: Principal) -> Response:
        return ok({"tokens": self.svc.tokens.list()})

    # -- admin --------------------------------------------------------------------------
    def decide(self, request: Request, who: Principal) -> Response:
        pid = _int(request.path_params["id"], -1)
        approve = request.url.path.endswith("/approve")
        p = self.svc.decide(pid, approve, who.name)
        return ok({"update": p})

    def rollback(self, request: Request, who: Principal) -> Response:
        p = self.svc.request_rollback(request.path_params["name"], who.name)
        return ok({"update": p}, 202)

    def run_job(self, request: Request, who: Principal) -> Response:
        name = request.path_params["name"]
        if name not in self.svc.handlers:
            return problem(404, f"no job {name!r}", f"jobs: {', '.join(self.svc.handlers)}")
        self.svc.fleet.audit(who.name, "run-job", name)
        self.svc.runner.submit(name, Trigger("api", f"by {who.name}"))
        return ok({"job": name, "queued": True}, 202)

    async def create_token(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            doc = json.loads(await request.body() or b"{}")
            name, role = str(doc["name"]), Role(doc.get("role", "read"))
        except (ValueError, KeyError, TypeError):
            return problem(400, 'body must be {"name": "...", "role": "read"|"admin"}')

        def work(req: Request, who: Principal) -> Response:
            info, token = self.svc.tokens.create(name, role)
            self.svc.fleet.audit(who.name, "create-token", name, role.value)
            return ok({"token": token, "name": info.name, "role": info.role.value}, 201)

        result: Response = await run_in_threadpool(self.guarded(Role.ADMIN, work), request)
        return result

    def delete_token(self, request: Request, who: Principal) -> Response:
        name = request.path_params["name"]
        if not self.svc.tokens.delete(name):
            return problem(404, f"no token named {name!r}")
        self.svc.fleet.audit(who.name, "delete-token", name)
        return ok({"deleted": name})

    def routes(self) -> list[Route]:
        g = self.guarded
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/hooks/registry", self.hook_registry, methods=["POST"]),
            Route("/hooks/git", self.hook_git, methods=["POST"]),
            Route("/api/v1/references", g(Role.READ, self.references), methods=["GET"]),
            Route("/api/v1/fleet", g(Role.READ, self.fleet), methods=["GET"]),
            Route("/api/v1/updates", g(Role.READ, self.updates), methods=["GET"]),
            Route("/api/v1/jobs", g(Role.READ, self.jobs), methods=["GET"]),
            Route("/api/v1/audit", g(Role.READ, self.audit), methods=["GET"]),
            Route("/api/v1/history", g(Role.READ, self.history), methods=["GET"]),
            Route("/api/v1/tasks", g(Role.READ, self.tasks), methods=["GET"]),
            Route("/api/v1/tasks/{id}/retry", g(Role.ADMIN, self.retry_task), methods=["POST"]),
            Route("/api/v1/scan", g(Role.READ, self.scan), methods=["GET"]),
            Route("/api/v1/findings", g(Role.READ, self.findings), methods=["GET"]),
            Route("/api/v1/tokens", g(Role.ADMIN, self.tokens), methods=["GET"]),
            Route("/api/v1/tokens", self.create_token, methods=["POST"]),
            Route("/api/v1/tokens/{name}", g(Role.ADMIN, self.delete_token), methods=["DELETE"]),
            Route("/api/v1/updates/{id}/approve", g(Role.ADMIN, self.decide), methods=["POST"]),
            Route("/api/v1/updates/{id}/deny", g(Role.ADMIN, self.decide), methods=["POST"]),
            Route("/api/v1/jobs/{name}/run", g(Role.ADMIN, self.run_job), methods=["POST"]),
            Route(
                "/api/v1/containers/{name}/rollback", g(Role.ADMIN, self.rollback), methods=["POST"]
            ),
        ]


def _int(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default
