"""A stand-in GitHub / GitLab / Gitea API server for the forge client tests.

It is a stand-in because no GitHub, GitLab or Gitea server can run on this machine. It is a
real HTTP server on 127.0.0.1 (so requests go through httpx, timeouts and retries as in
production) that follows each API's documented request and response shapes:

* auth headers: GitHub ``Authorization: Bearer T`` plus ``Accept: application/vnd.github+json``
  and ``X-GitHub-Api-Version: 2022-11-28``; GitLab ``PRIVATE-TOKEN: T``; Gitea
  ``Authorization: token T``; a wrong token gets 401, a read-only one 403 on writes;
* paths: ``/api/v3/repos/O/R/...``, ``/api/v4/projects/<url-encoded path>/...`` (the raw path
  must carry ``%2F``), ``/api/v1/repos/O/R/...``; anything else is 404 in the API's shape;
* JSON fields: missing required fields are refused with the API's status (GitHub 422, GitLab
  400, Gitea 422). Unknown fields are refused too, which is stricter than GitLab and Gitea
  (they ignore them) so that a client typo cannot pass unnoticed;
* state kept in memory: duplicates are refused as the forges do (GitHub 422 "A pull request
  already exists", GitLab 409 per source branch, Gitea 409 per head and base);
* Gitea lists are paginated (``limit`` capped at 50, ``Link`` and ``X-Total-Count``) and
  ignore any head filter, as older Gitea does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from patchwarden.apply.forge import Forge, GiteaForge, GitHubForge, GitLabForge
from patchwarden.net.retry import RetryPolicy

PREFIX = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1"}
WEB = "https://forge.example"
DOCS = "https://docs.github.com/rest"
Reply = tuple[int, Any, dict[str, str]]

# (required, allowed) body fields per kind and operation.
FIELDS: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("github", "create"): (
        {"title", "head", "base"},
        {"title", "head", "base", "body", "draft", "maintainer_can_modify", "head_repo", "issue"},
    ),
    ("github", "edit"): (set(), {"title", "body", "state", "base", "maintainer_can_modify"}),
    ("github", "comment"): ({"body"}, {"body"}),
    ("gitlab", "create"): (
        {"source_branch", "target_branch", "title"},
        {
            "source_branch",
            "target_branch",
            "title",
            "description",
            "remove_source_branch",
            "assignee_id",
            "labels",
            "squash",
            "target_project_id",
            "milestone_id",
        },
    ),
    ("gitlab", "edit"): (
        set(),
        {"title", "description", "state_event", "target_branch", "labels", "squash"},
    ),
    ("gitlab", "comment"): ({"body"}, {"body", "internal"}),
    ("gitea", "create"): (
        {"head", "base", "title"},
        {"head", "base", "title", "body", "assignee", "assignees", "labels", "milestone"},
    ),
    ("gitea", "edit"): (set(), {"title", "body", "state", "base", "assignee", "labels"}),
    ("gitea", "comment"): ({"body"}, {"body"}),
}


@dataclass
class FakePR:
    number: int
    head: str
    base: str
    title: str
    body: str
    state: str = "open"  # open / closed / merged
    comments: list[str] = field(default_factory=list)


class FakeForge:
    def __init__(self, kind: str, *, token: str = "s3cr3t-token-value", repo: str = "o/r"):
        self.kind, self.token, self.repo = kind, token, repo
        self.prs: dict[int, FakePR] = {}
        self.requests: list[str] = []  # "METHOD raw-path"
        self.inject: list[int] = []  # statuses to answer the next requests with
        self.branches: set[str] | None = None  # None: every head branch exists
        self.readonly = False  # the token may read but not write (403 on writes)
        self.stale_list = False  # list endpoints lag behind writes, as GitHub's can
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.forge = self
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX[self.kind]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, head: str, base: str = "main", title: str = "t", body: str = "") -> FakePR:
        pr = FakePR(len(self.prs) + 1, head, base, title, body)
        self.prs[pr.number] = pr
        return pr

    # -- request handling ------------------------------------------------------------------

    def handle(self, method: str, raw: str, headers: dict[str, str], data: bytes) -> Reply:
        with self._lock:
            self.requests.append(f"{method} {raw}")
            if self.inject:
                return self.inject.pop(0), {"message": "Service Unavailable"}, {"Retry-After": "0"}
            denied = self._auth(headers, write=method != "GET")
            if denied:
                return denied
            url = urlsplit(raw)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body = json.loads(data) if data else {}
            return self._route(method, url.path, query, body)

    def _err(self, status: int, text: str) -> Reply:
        if self.kind == "github":
            return status, {"message": text, "documentation_url": DOCS, "status": str(status)}, {}
        if self.kind == "gitlab":
            return status, {"message": text}, {}
        return status, {"message": text, "url": f"{WEB}/api/swagger"}, {}

    def _auth(self, h: dict[str, str], write: bool) -> Reply | None:
        name, expected = {
            "github": ("authorization", f"Bearer {self.token}"),
            "gitlab": ("private-token", self.token),
            "gitea": ("authorization", f"token {self.token}"),
        }[self.kind]
        if h.get(name) != expected:
            why = {"github": "Bad credentials", "gitlab": "401 Unauthorized"}
            return self._err(401, why.get(self.kind, "invalid username, password or token"))
        if self.kind == "github" and (
            h.get("accept") != "application/vnd.github+json"
            or h.get("x-github-api-version") != "2022-11-28"
        ):
            return self._err(400, "missing GitHub media type or API version header")
        if write and self.readonly:
            why = {
                "github": "Resource not accessible by personal access token",
                "gitlab": "403 Forbidden",
            }
            return self._err(403, why.get(self.kind, "token does not have required scope(s)"))
        return None

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        k = self.kind
        if k == "gitlab":
            base = f"/api/v4/projects/{quote(self.repo, safe='')}/merge_requests"
            pulls, comments = base, ("/notes", base)
        else:
            base = f"{PREFIX[k]}/repos/{self.repo}"
            pulls, comments = f"{base}/pulls", ("/comments", f"{base}/issues")
        if path == pulls and method == "GET":
            return self._list(query)
        if path == pulls and method == "POST":
            return self._checked("create", body, self._create)
        tail = path.removeprefix(pulls + "/") if path.startswith(pulls + "/") else None
        if tail and tail.isdigit() and method == ("PUT" if k == "gitlab" else "PATCH"):
            return self._checked("edit", body, lambda b: self._edit(int(tail), b))
        ctail = path.removeprefix(comments[1] + "/")
        if method == "POST" and ctail.endswith(comments[0]):
            number = ctail.removesuffix(comments[0])
            if number.isdigit():
                return self._checked("comment", body, lambda b: self._comment(int(number), b))
        return self._err(404, {"gitlab": "404 Project Not Found"}.get(k, "Not Found"))

    def _checked(self, op: str, body: Any, then: Any) -> Reply:
        required, allowed = FIELDS[(self.kind, op)]
        missing = sorted(required - set(body))
        unknown = sorted(set(body) - allowed)
        if self.kind == "gitlab" and (missing or unknown):
            f = (missing or unknown)[0]
            return 400, {"error": f"{f} is missing" if missing else f"{f} is invalid"}, {}
        if missing:
            text = f'"{missing[0]}" wasn\'t supplied.'
            return self._err(
                422,
                f"Invalid request.\n\n{text}"
                if self.kind == "github"
                else f"[{missing[0]}]: Required",
            )
        if unknown:
            return self._err(422, f'Invalid request.\n\n"{unknown[0]}" is not a permitted key.')
        result: Reply = then(body)
        return result

    def _list(self, q: dict[str, str]) -> Reply:
        want = {"github": "open", "gitlab": "opened", "gitea": "open"}[self.kind]
        if q.get("state") != want:
            return self._err(422, f"this stand-in only serves state={want}")
        prs = [] if self.stale_list else [p for p in self.prs.values() if p.state == "open"]
        if self.kind == "github" and ":" in q.get("head", ""):
            owner, _, ref = q["head"].partition(":")
            prs = [p for p in prs if p.head == ref and owner == self.repo.split("/")[0]]
        if self.kind == "gitlab" and "source_branch" in q:
            prs = [p for p in prs if p.head == q["source_branch"]]
        if self.kind != "gitea":
            return 200, [self.render(p) for p in prs], {}
        prs.sort(key=lambda p: -p.number)  # newest first, as Gitea sorts by default
        page, limit = int(q.get("page", "1")), min(int(q.get("limit", "30")), 50)
        chunk = prs[(page - 1) * limit : page * limit]
        headers = {"X-Total-Count": str(len(prs))}
        if page * limit < len(prs):
            headers["Link"] = f'<{WEB}/api/v1/repos/{self.repo}/pulls?page={page + 1}>; rel="next"'
        return 200, [self.render(p) for p in chunk], headers

    def _create(self, b: dict[str, Any]) -> Reply:
        k = self.kind
        head, base = (
            (b["source_branch"], b["target_branch"]) if k == "gitlab" else (b["head"], b["base"])
        )
        if self.branches is not None and head not in self.branches:
            if k == "github":
                err = {"resource": "PullRequest", "field": "head", "code": "invalid"}
                return (
                    422,
                    {"message": "Validation Failed", "errors": [err], "documentation_url": DOCS},
                    {},
                )
            return self._err(
                422 if k == "gitlab" else 404, f'Source branch "{head}" does not exist'
            )
        for p in self.prs.values():
            if p.state != "open" or p.head != head or (k != "gitlab" and p.base != base):
                continue
            if k == "github":
                err = {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {self.repo.split('/')[0]}:{head}.",
                }
                return (
                    422,
                    {"message": "Validation Failed", "errors": [err], "documentation_url": DOCS},
                    {},
                )
            if k == "gitlab":
                return (
                    409,
                    {
                        "message": [
                            f"Another open merge request already exists for this source branch: !{p.number}"
                        ]
                    },
                    {},
                )
            return self._err(
                409,
                f"pull request already exists for these targets [id: {p.number}, issue_id: {p.number}, head_repo_id: 1, base_repo_id: 1, head_branch: {head}, base_branch: {base}]",
            )
        pr = self.add(
            head, base, b["title"], b.get("description" if k == "gitlab" else "body") or ""
        )
        return 201, self.render(pr), {}

    def _edit(self, number: int, b: dict[str, Any]) -> Reply:
        pr = self.prs.get(number)
        if pr is None:
            return self._err(404, {"gitlab": "404 Not found"}.get(self.kind, "Not Found"))
        state = b.get("state_event" if self.kind == "gitlab" else "state")
        if state is not None and state not in ("close", "closed", "open", "reopen"):
            return self._err(422, f"invalid state {state!r}")
        pr.title = b.get("title", pr.title)
        pr.body = b.get("description" if self.kind == "gitlab" else "body", pr.body)
        if state in ("close", "closed"):
            pr.state = "closed"
        return 200, self.render(pr), {}

    def _comment(self, number: int, b: dict[str, Any]) -> Reply:
        pr = self.prs.get(number)
        if pr is None:
            return self._err(404, "Not Found")
        pr.comments.append(b["body"])
        return 201, {"id": 7000 + len(pr.comments), "body": b["body"]}, {}

    def render(self, p: FakePR) -> dict[str, Any]:
        owner = self.repo.split("/")[0]
        if self.kind == "gitlab":
            state = {"open": "opened"}.get(p.state, p.state)
            return {
                "id": 5000 + p.number,
                "iid": p.number,
                "project_id": 42,
                "title": p.title,
                "description": p.body,
                "state": state,
                "source_branch": p.head,
                "target_branch": p.base,
                "merged_at": None,
                "sha": "a" * 40,
                "web_url": f"{WEB}/{self.repo}/-/merge_requests/{p.number}",
            }
        html = f"{WEB}/{self.repo}/{'pull' if self.kind == 'github' else 'pulls'}/{p.number}"
        return {
            "id": 9000 + p.number,
            "number": p.number,
            "html_url": html,
            "title": p.title,
            "body": p.body or None,
            "state": "open" if p.state == "open" else "closed",
            "merged_at": None,
            "merged": p.state == "merged",
            "user": {"login": "bot"},
            "head": {"ref": p.head, "label": f"{owner}:{p.head}", "sha": "b" * 40},
            "base": {"ref": p.base, "label": f"{owner}:{p.base}", "sha": "c" * 40},
        }


class _Server(ThreadingHTTPServer):
    forge: FakeForge


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        assert isinstance(self.server, _Server)
        forge = self.server.forge
        status, obj, extra = forge.handle(self.command, self.path, headers, data)
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PATCH = do_PUT = _serve


# Client keyword arguments for tests: retries without waiting. (The clients pass ``**http``
# on to patchwarden.net's client factory, hence the open value type.)
FAST: dict[str, Any] = {"policy": RetryPolicy(base_delay=0.0), "sleep": lambda _s: None}


def client(fake: FakeForge, token: str | None = None, repo: str | None = None) -> Forge:
    """The real client for ``fake``'s kind, pointed at it."""
    tok = fake.token if token is None else token
    owner, name = (repo or fake.repo).split("/", 1)
    if fake.kind == "github":
        return GitHubForge(owner, name, tok, api_url=fake.api_url, **FAST)
    if fake.kind == "gitlab":
        return GitLabForge(f"{owner}/{name}", tok, api_url=fake.api_url, **FAST)
    return GiteaForge(owner, name, tok, api_url=fake.api_url, **FAST)
