"""Pick the forge client for a git remote: parse the URL, choose the kind, find the token."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from patchwarden.apply.forge.gitea import GiteaForge
from patchwarden.apply.forge.github import GITHUB_API, GitHubForge
from patchwarden.apply.forge.gitlab import GITLAB_API, GitLabForge
from patchwarden.apply.forge.model import Forge, ForgeConfigError
from patchwarden.net.redact import redact_url

KINDS = ("github", "gitlab", "gitea")
ALIASES = {"forgejo": "gitea", "ghe": "github"}
KNOWN_HOSTS = {"github.com": "github", "gitlab.com": "gitlab", "codeberg.org": "gitea"}
TOKEN_ENV = "PATCHWARDEN_FORGE_TOKEN"  # noqa: S105 - names of environment variables, not secrets
KIND_TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}

_SCP_RE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?!//)(?P<path>.+)$")


@dataclass(frozen=True, slots=True)
class Remote:
    """Where a git remote lives: ``web`` is scheme://host[:port] for the API's default URL."""

    host: str
    path: str  # owner/repo, or group/subgroup/project on GitLab; no ".git"
    web: str


def parse_remote(url: str) -> Remote:
    """Parse https://, http://, ssh://, git:// and scp-like (git@host:o/r.git) remotes."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        raw_path = parts.path
        if parts.scheme in ("http", "https"):
            port = f":{parts.port}" if parts.port else ""
            web = f"{parts.scheme}://{host}{port}"
        else:  # ssh:// and git:// ports are not the web server's
            web = f"https://{host}"
    else:
        m = _SCP_RE.match(text)
        if m is None:
            raise _bad_remote(url)
        host, raw_path = m["host"].lower(), m["path"]
        web = f"https://{host}"
    path = raw_path.strip("/")
    path = path.removesuffix(".git").strip("/")
    if not host or "/" not in path:
        raise _bad_remote(url)
    return Remote(host=host, path=path, web=web)


def _bad_remote(url: str) -> ForgeConfigError:
    return ForgeConfigError(
        f"cannot tell the forge repository from the git remote {redact_url(url)!r}",
        "use a remote like https://HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git",
    )


def choose_kind(host: str, kind: str | None) -> str:
    if kind:
        k = ALIASES.get(kind.strip().lower(), kind.strip().lower())
        if k not in KINDS:
            raise ForgeConfigError(
                f"unknown forge kind {kind!r}", f"use one of: {', '.join(KINDS)} (or forgejo)"
            )
        return k
    found = KNOWN_HOSTS.get(host)
    if found is None:
        raise ForgeConfigError(
            f"cannot tell which forge runs on {host}",
            "set the forge kind (github for GitHub Enterprise, gitlab, or gitea/forgejo) "
            "in the configuration or on the command line",
        )
    return found


def find_token(kind: str, token: str | None, env: Mapping[str, str] | None = None) -> str:
    environ = os.environ if env is None else env
    for value in (token, environ.get(TOKEN_ENV), environ.get(KIND_TOKEN_ENV[kind])):
        if value and value.strip():
            return value.strip()
    raise ForgeConfigError(
        f"no token for the {kind} API: neither {TOKEN_ENV} nor {KIND_TOKEN_ENV[kind]} is set",
        f"export {TOKEN_ENV} (or {KIND_TOKEN_ENV[kind]}) with a token that may open pull "
        "requests; see docs/forges.md for the scopes each forge needs",
    )


def default_api_url(kind: str, remote: Remote) -> str:
    if kind == "github":
        return GITHUB_API if remote.host == "github.com" else f"{remote.web}/api/v3"
    if kind == "gitlab":
        return GITLAB_API if remote.host == "gitlab.com" else f"{remote.web}/api/v4"
    return f"{remote.web}/api/v1"


def forge_for(
    remote_url: str,
    *,
    kind: str | None,
    api_url: str | None,
    token: str | None,
    env: Mapping[str, str] | None = None,
    **http: Any,
) -> Forge:
    """The forge client for the repository behind ``remote_url``.

    ``http`` is passed to the client (``transport``, ``policy``, ``sleep``, timeouts, ``verify``).
    """
    remote = parse_remote(remote_url)
    k = choose_kind(remote.host, kind)
    secret = find_token(k, token, env)
    api = (api_url or default_api_url(k, remote)).rstrip("/")
    if k == "gitlab":
        return GitLabForge(remote.path, secret, api_url=api, **http)
    segments = remote.path.split("/")
    if len(segments) != 2 and api_url is None:
        raise ForgeConfigError(
            f"the {k} remote path {remote.path!r} is not OWNER/REPO",
            "if the forge is served under a sub-path, set api_url explicitly",
        )
    owner, repo = segments[-2], segments[-1]
    if k == "github":
        return GitHubForge(owner, repo, secret, api_url=api, **http)
    return GiteaForge(owner, repo, secret, api_url=api, **http)
