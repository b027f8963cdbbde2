"""Registry webhooks: verify the sender, then name the repositories that changed.

Payloads understood (the repository key is ``registry/repository`` as
:attr:`ImageRef.name` normalizes it, e.g. ``docker.io/library/nginx``):

- CNCF distribution notifications (``{"events": [...]}``; push of a manifest);
- Docker Hub (``{"push_data": ..., "repository": {"repo_name": ...}}``);
- Harbor (``{"type": "PUSH_ARTIFACT", "event_data": {"resources": [...]}}``);
- GitHub Packages (``registry_package`` and ``package`` events of a container package,
  action ``published`` or ``updated``: ``package_version.package_url``, else
  ``registry.url`` + ``namespace/name``).

Verification: the shared secret as ``Authorization: Bearer SECRET`` (distribution's
``notifications.endpoints[].headers``), or an HMAC-SHA256 of the body in
``X-Hub-Signature-256: sha256=HEX`` (GitHub style). Both compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import PatchwardenError

MAX_BODY = 1024 * 1024


class HookError(PatchwardenError):
    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True, slots=True)
class HookEvents:
    source: str  # distribution | dockerhub | harbor | github
    repositories: frozenset[str]
    ignored: int  # events that were not a manifest push


def verify(secret: str | None, headers: dict[str, str], body: bytes) -> None:
    """Raise :class:`HookError` unless the request carries ``secret`` or its HMAC."""
    if not secret:
        raise HookError(
            503,
            "webhooks are not configured: no shared secret is set",
            "set the env var named by serve.hooks.token_env (PATCHWARDEN_HOOK_TOKEN)",
        )
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and hmac.compare_digest(
        auth[7:].strip().encode(), secret.encode()
    ):
        return
    sig = headers.get("x-hub-signature-256", "")
    if sig.startswith("sha256="):
        want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(sig[7:].strip().encode(), want.encode()):
            return
    raise HookError(
        401,
        "webhook rejected: missing or wrong secret",
        "send Authorization: Bearer SECRET or X-Hub-Signature-256: sha256=HMAC(body)",
    )


def _repo(host: str | None, repository: str) -> str:
    text = f"{host}/{repository}" if host else repository
    ref: ImageRef = parse_reference(text)
    return ref.name


def parse(body: bytes) -> HookEvents:
    if len(body) > MAX_BODY:
        raise HookError(413, f"webhook body over {MAX_BODY} bytes")
    try:
        doc = json.loads(body)
    except ValueError:
        raise HookError(400, "webhook body is not JSON") from None
    if not isinstance(doc, dict):
        raise HookError(400, "webhook body is not a JSON object")
    try:
        if isinstance(doc.get("events"), list):
            return _distribution(doc["events"])
        if "push_data" in doc and isinstance(doc.get("repository"), dict):
            name = doc["repository"]["repo_name"]
            return HookEvents("dockerhub", frozenset({_repo("docker.io", name)}), 0)
        if isinstance(doc.get("event_data"), dict) and "type" in doc:
            return _harbor(doc)
        pkg = doc.get("registry_package") or doc.get("package")
        if isinstance(pkg, dict) and "package_type" in pkg:
            return _github_package(str(doc.get("action", "")), pkg)
    except (KeyError, TypeError, PatchwardenError) as exc:
        raise HookError(400, f"malformed webhook payload: {exc}") from None
    raise HookError(
        400,
        "unknown webhook payload",
        "serve understands distribution notifications, Docker Hub, Harbor and GitHub package "
        "webhooks (git pushes go to /hooks/git)",
    )


def _distribution(events: list[Any]) -> HookEvents:
    repos: set[str] = set()
    ignored = 0
    for ev in events:
        target = ev.get("target") or {}
        media = str(target.get("mediaType", ""))
        if ev.get("action") != "push" or not (target.get("tag") or "manifest" in media):
            ignored += 1
            continue
        host = (ev.get("request") or {}).get("host")
        repos.add(_repo(host, target["repository"]))
    return HookEvents("distribution", frozenset(repos), ignored)


def _harbor(doc: dict[str, Any]) -> HookEvents:
    if doc["type"] not in ("PUSH_ARTIFACT", "pushImage"):
        return HookEvents("harbor", frozenset(), 1)
    repos = set()
    for res in doc["event_data"].get("resources", []):
        url = str(res["resource_url"])
        repos.add(parse_reference(url).name)
    return HookEvents("harbor", frozenset(repos), 0)


def _github_package(action: str, pkg: dict[str, Any]) -> HookEvents:
    if str(pkg["package_type"]).lower() not in ("container", "docker") or action not in (
        "published",
        "updated",
    ):
        return HookEvents("github", frozenset(), 1)
    url = str((pkg.get("package_version") or {}).get("package_url") or "")
    if url:
        name = url.split("@", 1)[0].rstrip(":").lower()
        return HookEvents("github", frozenset({parse_reference(name).name}), 0)
    from urllib.parse import urlsplit

    host = urlsplit(str((pkg.get("registry") or {}).get("url") or "https://ghcr.io")).netloc
    owner = str(pkg.get("namespace") or pkg["owner"]["login"])
    return HookEvents("github", frozenset({_repo(host, f"{owner}/{pkg['name']}".lower())}), 0)
