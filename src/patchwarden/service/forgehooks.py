"""Git forge push webhooks (``POST /hooks/git``): verify the sender, name the repository and
branch that moved, find the paths ``serve`` watches that are checkouts of it.

Payloads and checks (the shared secret is the one registry webhooks use,
``serve.hooks.token_env``):

- GitHub (``X-GitHub-Event: push``): ``X-Hub-Signature-256: sha256=HMAC-SHA256(body)``;
- Gitea and Forgejo (``X-Gitea-Event``/``X-Forgejo-Event: push``): ``X-Gitea-Signature``
  (or ``X-Forgejo-Signature``): the hex HMAC-SHA256 of the body;
- GitLab (``X-Gitlab-Event: Push Hook``): ``X-Gitlab-Token`` equal to the secret.

Anything else (``ping``, tag pushes, other events) is accepted and ignored. Comparisons are
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchwarden.errors import PatchwardenError
from patchwarden.service.hooks import MAX_BODY, HookError


@dataclass(frozen=True, slots=True)
class PushEvent:
    forge: str  # github | gitlab | gitea
    host: str  # lower-case host[:port] of the repository's clone URL
    path: str  # owner/repo (group/subgroup/project on GitLab), no ".git"
    branch: str | None  # None: not a branch (a tag push)


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.strip().encode(), b.encode())


def forge_of(headers: dict[str, str]) -> tuple[str, str]:
    """(forge kind, event name) from the request headers."""
    for header, kind in (
        ("x-gitea-event", "gitea"),
        ("x-forgejo-event", "gitea"),
        ("x-github-event", "github"),
        ("x-gitlab-event", "gitlab"),
    ):
        if header in headers:
            return kind, headers[header].strip().lower()
    raise HookError(
        400,
        "not a forge webhook: no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header",
        "point GitHub, GitLab, Gitea or Forgejo push webhooks at /hooks/git",
    )


def verify_forge(secret: str | None, kind: str, headers: dict[str, str], body: bytes) -> None:
    if not secret:
        raise HookError(
            503,
            "webhooks are not configured: no shared secret is set",
            "set the env var named by serve.hooks.token_env (PATCHWARDEN_HOOK_TOKEN)",
        )
    if kind == "gitlab":
        ok = _same(headers.get("x-gitlab-token", ""), secret)
    elif kind == "gitea":
        sig = headers.get("x-gitea-signature") or headers.get("x-forgejo-signature") or ""
        ok = bool(sig) and _same(sig, _hmac_hex(secret, body))
    else:
        sig = headers.get("x-hub-signature-256", "")
        ok = sig.startswith("sha256=") and _same(sig[7:], _hmac_hex(secret, body))
    if not ok:
        how = {
            "gitlab": "set the webhook's secret token to the shared secret",
            "gitea": "set the webhook's secret to the shared secret (X-Gitea-Signature)",
            "github": "set the webhook's secret to the shared secret (X-Hub-Signature-256)",
        }[kind]
        raise HookError(401, f"{kind} webhook rejected: missing or wrong signature", how)


def parse_push(kind: str, event: str, body: bytes) -> PushEvent | None:
    """The push a verified body describes; None for other events (ping, issues, ...)."""
    if len(body) > MAX_BODY:
        raise HookError(413, f"webhook body over {MAX_BODY} bytes")
    if event not in ("push", "push hook"):
        return None
    try:
        doc: dict[str, Any] = json.loads(body)
        repo = doc["project"] if kind == "gitlab" else doc["repository"]
        url = repo.get("git_http_url") or repo.get("clone_url") or repo.get("http_url")
        ref = str(doc.get("ref", ""))
        from patchwarden.apply.forge.detect import parse_remote

        remote = parse_remote(str(url))
    except (ValueError, KeyError, TypeError, AttributeError, PatchwardenError) as exc:
        raise HookError(400, f"malformed {kind} push payload: {exc}") from None
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    host = remote.web.split("://", 1)[1]
    return PushEvent(kind, host, remote.path, branch)


def checkouts_of(paths: list[Path], push: PushEvent) -> list[Path]:
    """The watched paths whose git ``origin`` is the pushed repository."""
    from patchwarden.apply.forge.detect import parse_remote
    from patchwarden.apply.git import GitError, Repo

    out = []
    for path in paths:
        try:
            repo = Repo.discover(path)
            url = repo.config("remote.origin.url")  # as configured (no insteadOf rewrite)
            if not url:
                continue
            remote = parse_remote(url)
        except (GitError, PatchwardenError):
            continue
        if remote.path.lower() == push.path.lower() and (
            remote.web.split("://", 1)[1] == push.host
        ):
            out.append(path)
    return out


def fast_forward(path: Path, branch: str | None) -> str:
    """``git pull --ff-only`` of ``path`` when it is on the pushed ``branch``; what happened."""
    from patchwarden.apply.git import GitError, Repo

    try:
        repo = Repo.discover(path)
        current = repo.current_branch()
        if branch is None or current != branch:
            return f"{path}: on {current or 'a detached HEAD'}, not {branch}: not pulled"
        repo.git("pull", "--ff-only", "--quiet", "origin", branch, what=f"pull {branch}")
    except GitError as exc:
        return f"{path}: pull failed: {exc.message}"
    return f"{path}: pulled {branch}"
