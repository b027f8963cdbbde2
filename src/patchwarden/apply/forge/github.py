"""GitHub and GitHub Enterprise Server pull requests, through the REST API (v3).

API root: ``https://api.github.com``, or ``https://HOST/api/v3`` for GitHub Enterprise.
Token: a fine-grained token with "Pull requests: read and write" on the repository, a
classic token with ``repo`` (``public_repo`` for public repositories), or an Actions
``GITHUB_TOKEN`` with ``pull-requests: write``.
"""

from __future__ import annotations

from typing import Any

from patchwarden.apply.forge.api import ForgeApi, ForgeHints
from patchwarden.apply.forge.model import ForgeConflictError, ForgeError, PullRequest

GITHUB_API = "https://api.github.com"
API_VERSION = "2022-11-28"

HINTS = ForgeHints(
    name="GitHub",
    auth="the GitHub token was rejected or lacks `pull_requests: write`",
    auth_hint="use a fine-grained token with Pull requests: read and write on the "
    "repository (or a classic token with the `repo` scope) in PATCHWARDEN_FORGE_TOKEN or "
    "GITHUB_TOKEN; in GitHub Actions grant `permissions: pull-requests: write`",
    not_found_hint="check the repository in the git remote; GitHub also answers 404 when the "
    "token cannot see a private repository (fine-grained tokens must list it)",
)


def parse_pull(data: Any, forge: str = "GitHub") -> PullRequest:
    """A :class:`PullRequest` from GitHub's (or Gitea's) pull request JSON."""
    try:
        merged = bool(data.get("merged_at") or data.get("merged"))
        return PullRequest(
            number=int(data["number"]),
            url=str(data["html_url"]),
            head=str(data["head"]["ref"]),
            base=str(data["base"]["ref"]),
            title=str(data["title"]),
            body=str(data.get("body") or ""),
            state="merged" if merged else str(data["state"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ForgeError(
            f"{forge} answered with a pull request this client cannot read (missing {exc})",
            f"check that api_url points at the {forge} REST API",
        ) from None


class GitHubForge:
    """Pull requests on ``owner/repo``; branches are pushed to the same repository."""

    kind = "github"

    def __init__(
        self, owner: str, repo: str, token: str, *, api_url: str = GITHUB_API, **http: Any
    ) -> None:
        self.owner, self.repo = owner, repo
        self.api = ForgeApi(
            api_url,
            {"Authorization": f"Bearer {token}"},
            token,
            HINTS,
            extra_headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            **http,
        )
        self._repo_path = f"/repos/{owner}/{repo}"

    def close_client(self) -> None:
        self.api.close()

    def find_open(self, head: str) -> PullRequest | None:
        data, _ = self.api.call(
            "GET",
            f"{self._repo_path}/pulls",
            f"list open pull requests of {self.owner}/{self.repo}",
            params={"head": f"{self.owner}:{head}", "state": "open", "per_page": 100},
        )
        if not isinstance(data, list):
            raise ForgeError("GitHub answered the pull request list with something not a list")
        pulls = [parse_pull(d) for d in data]
        return next((p for p in pulls if p.head == head and p.state == "open"), None)

    def create(self, head: str, base: str, title: str, body: str) -> PullRequest:
        try:
            data, _ = self.api.call(
                "POST",
                f"{self._repo_path}/pulls",
                f"open a pull request from {head} into {base}",
                body={"title": title, "head": head, "base": base, "body": body},
            )
        except ForgeConflictError as exc:
            # A retried POST, or a run racing another: the pull request is already there.
            existing = self.find_open(head) if "already exists" in exc.message else None
            if existing is not None and existing.base == base:
                return existing
            raise
        return parse_pull(data)

    def update(self, pr: PullRequest, title: str, body: str) -> PullRequest:
        data, _ = self.api.call(
            "PATCH",
            f"{self._repo_path}/pulls/{pr.number}",
            f"update pull request #{pr.number}",
            body={"title": title, "body": body},
        )
        return parse_pull(data)

    def close(self, pr: PullRequest, comment: str | None = None) -> PullRequest:
        if pr.state != "open":  # merged or already closed: nothing to do, nothing to say
            return pr
        if comment:
            self.api.call(
                "POST",
                f"{self._repo_path}/issues/{pr.number}/comments",
                f"comment on pull request #{pr.number}",
                body={"body": comment},
            )
        data, _ = self.api.call(
            "PATCH",
            f"{self._repo_path}/pulls/{pr.number}",
            f"close pull request #{pr.number}",
            body={"state": "closed"},
        )
        return parse_pull(data)
