"""The server-rendered dashboard: fleet overview, a page per image reference, audit log.

Sign-in posts an API token once; it is kept in an HttpOnly, SameSite=Strict cookie (``Secure``
when the request came over HTTPS, e.g. through a TLS reverse proxy setting
``X-Forwarded-Proto``). Approve and deny are POST forms carrying a CSRF token; they need an
admin token like the API does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from patchwarden.errors import UsageError
from patchwarden.service.api import client_of
from patchwarden.service.auth import AuthError, Principal
from patchwarden.service.fleetrows import fleet_rows, quote_part, short
from patchwarden.store.fleet import DecisionError
from patchwarden.store.tasks import TaskState
from patchwarden.store.tokens import Role

if TYPE_CHECKING:
    from patchwarden.service.process import Service

COOKIE = "pw_session"
PER_PAGE = 100
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_env.filters["short"] = short
_env.filters["q"] = quote_part


class Dashboard:
    def __init__(self, svc: Service) -> None:
        self.svc = svc

    def _page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(_env.get_template(name).render(**ctx), status_code=status)

    def _session(self, request: Request) -> tuple[str, Principal] | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return token, self.svc.auth.identify(token, client_of(request))
        except AuthError:
            return None

    def _guard(self, fn: Any) -> Any:
        def endpoint(request: Request) -> Response:
            s = self._session(request)
            if s is None:
                return RedirectResponse("/login", status_code=303)
            token, who = s
            return fn(request, who, self.svc.auth.csrf_token(token))  # type: ignore[no-any-return]

        return endpoint

    def login_form(self, request: Request) -> Response:
        return self._page("login.html", error=None)

    async def login(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        try:
            await run_in_threadpool(self.svc.auth.identify, token, client_of(request))
        except AuthError as exc:
            return self._page("login.html", status=exc.status, error=exc.message)
        resp = RedirectResponse("/", status_code=303)
        https = request.headers.get("x-forwarded-proto", request.url.scheme) == "https"
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=https)
        return resp

    def logout(self, request: Request) -> Response:
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    def overview(self, request: Request, who: Principal, csrf: str) -> Response:
        """The fleet at a glance; the reference table one page at a time (``?page=``,
        ``?per_page=`` up to 5,000, ``?status=``): counts come from the database."""
        q = request.query_params
        per_page = min(max(_int(q.get("per_page"), PER_PAGE), 1), 5000)
        status = q.get("status") or None
        summary = self.svc.fleet.summary()
        total = summary["by_status"].get(status, 0) if status else summary["references"]
        pages = max(1, -(-total // per_page))
        page = min(max(_int(q.get("page"), 1), 1), pages)
        lines = self.svc.fleet.lines(limit=per_page, offset=(page - 1) * per_page, status=status)
        extra: dict[str, str | int] = {"per_page": per_page} if per_page != PER_PAGE else {}
        extra |= {"status": status} if status else {}
        return self._page(
            "overview.html",
            who=who,
            summary=summary,
            # per-scope leases of the worker fleet ("check:<hash>") are not jobs of their own
            jobs=[j for j in self.svc.jobs.states() if ":" not in j.name],
            dead=self.svc.tasks.list(TaskState.DEAD, limit=50),
            rows=fleet_rows(lines),
            pending=self.svc.fleet.pending("pending"),
            new_vulns=self.svc.image_findings(new_only=True),
            csrf=csrf,
            page=page,
            pages=pages,
            query=lambda n: "?" + urlencode(extra | {"page": n}),
        )

    def rollouts(self, request: Request, who: Principal, csrf: str) -> Response:
        """Rollouts, newest first, with their environments and steps so far."""
        store = self.svc.store.rollouts
        recent = store.recent(limit=50)
        steps = {r.id: store.steps(r.id)[-10:] for r in recent[:10]}
        return self._page("rollouts.html", who=who, rollouts=recent, steps=steps)

    def item(self, request: Request, who: Principal, csrf: str) -> Response:
        key = request.path_params["key"]
        item = self.svc.fleet.item(key)
        if item is None:
            return self._page("missing.html", status=404, who=who, key=key)
        updates = [p for p in self.svc.fleet.pending() if p.fleet_key == key]
        history = []
        if key.startswith("container:"):
            history = self.svc.store.history(key.split(":", 1)[1], limit=20)
        return self._page(
            "item.html", who=who, item=item, updates=updates, history=history, csrf=csrf
        )

    def audit(self, request: Request, who: Principal, csrf: str) -> Response:
        return self._page("audit.html", who=who, entries=self.svc.fleet.audit_log(500))

    async def decide(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        return await run_in_threadpool(self._decide, request, form)

    def _decide(self, request: Request, form: dict[str, list[str]]) -> Response:
        s = self._session(request)
        if s is None:
            return RedirectResponse("/login", status_code=303)
        token, who = s
        try:
            self.svc.auth.check_csrf(token, (form.get("csrf") or [""])[0])
            if who.role != Role.ADMIN:
                raise AuthError(403, f"token {who.name!r} is read-only: approving needs admin")
            if "name" in request.path_params:
                p = self.svc.request_rollback(request.path_params["name"], who.name)
            else:
                pid = int(request.path_params["id"])
                p = self.svc.decide(pid, request.url.path.endswith("/approve"), who.name)
        except AuthError as exc:
            return self._page("error.html", status=exc.status, who=who, message=exc.message)
        except DecisionError as exc:
            return self._page("error.html", status=409, who=who, message=exc.message)
        except UsageError as exc:
            return self._page("error.html", status=400, who=who, message=exc.message)
        return RedirectResponse(f"/images/{quote(p.fleet_key, safe='')}", status_code=303)

    def routes(self) -> list[Route]:
        return [
            Route("/", self._guard(self.overview), methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/images/{key:path}", self._guard(self.item), methods=["GET"]),
            Route("/audit", self._guard(self.audit), methods=["GET"]),
            Route("/rollouts", self._guard(self.rollouts), methods=["GET"]),
            Route("/ui/updates/{id:int}/approve", self.decide, methods=["POST"]),
            Route("/ui/updates/{id:int}/deny", self.decide, methods=["POST"]),
            Route("/ui/containers/{name}/rollback", self.decide, methods=["POST"]),
        ]


def _int(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None else default
    except ValueError:
        return default
