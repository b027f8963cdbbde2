"""Gitea (and Forgejo, e.g. Codeberg) pull requests, through the REST API (v1).

API root: ``https://HOST/api/v1``. Older Gitea cannot filter the pull request list by head
branch, so :meth:`GiteaForge.find_open` pages through all open pull requests (50 a page,
the default ``MAX_RESPONSE_ITEMS``) and matches ``head.ref`` itself. Token: scopes
``write:repository`` (pull requests) and ``write:issue`` (comments) on Gitea 1.19+.
"""

from __future__ import annotations

from typing import Any

from patchwarden.apply.forge.api import ForgeApi, ForgeHints
from patchwarden.apply.forge.github import parse_pull
from patchwarden.apply.forge.model import ForgeConflictError, ForgeError, PullRequest

PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 open pull requests: far past any real repository

HINTS = ForgeHints(
    name="Gitea",
    auth="the Gitea token was rejected or lacks `write:repository` / `write:issue`",
    auth_hint="create an access token with the write:repository and write:issue scopes "
    "(user settings > Applications) and put it in PATCHWARDEN_FORGE_TOKEN or GITEA_TOKEN",
    not_found_hint="check the repository in the git remote and api_url (https://HOST/api/v1); "
    "Gitea also answers 404 when the token cannot see a private repository",
)


def _parse(data: Any) -> PullRequest:
    # Gitea's pull request JSON follows GitHub's: number, html_url, head.ref, base.ref,
    # state "open"/"closed" and merged / merged_at.
    return parse_pull(data, forge="Gitea")


class GiteaForge:
    """Pull requests on ``owner/repo`` of a Gitea or Forgejo instance."""

    kind = "gitea"

    def __init__(self, owner: str, repo: str, token: str, *, api_url: str, **http: Any) -> None:
        self.owner, self.repo = owner, repo
        self.api = ForgeApi(api_url, {"Authorization": f"token {token}"}, token, HINTS, **http)
        self._repo_path = f"/repos/{owner}/{repo}"

    def close_client(self) -> None:
        self.api.close()

    def find_open(self, head: str) -> PullRequest | None:
        what = f"list open pull requests of {self.owner}/{self.repo}"
        for page in range(1, MAX_PAGES + 1):
            data, headers = self.api.call(
                "GET",
                f"{self._repo_path}/pulls",
                what,
                params={"state": "open", "page": page, "limit": PAGE_SIZE},
            )
            if not isinstance(data, list):
                raise ForgeError("Gitea answered the pull request list with something not a list")
            for item in data:
                pr = _parse(item)
                if pr.head == head and pr.state == "open":
                    return pr
            # A short page is the last; so is a page without a rel="next" link when the
            # server sends Link headers at all (a server may cap limit below ours).
            link = headers.get("Link")
            if not data or (link is not None and 'rel="next"' not in link):
                return None
            if link is None and len(data) < PAGE_SIZE:
                return None
        raise ForgeError(f"{what}: more than {MAX_PAGES} pages; giving up")

    def create(self, head: str, base: str, title: str, body: str) -> PullRequest:
        try:
            data, _ = self.api.call(
                "POST",
                f"{self._repo_path}/pulls",
                f"open a pull request from {head} into {base}",
                body={"head": head, "base": base, "title": title, "body": body},
            )
        except ForgeConflictError as exc:
            # 409 "pull request already exists for these targets"
            existing = self.find_open(head) if exc.status == 409 else None
            if existing is not None and existing.base == base:
                return existing
            raise
        return _parse(data)

    def update(self, pr: PullRequest, title: str, body: str) -> PullRequest:
        data, _ = self.api.call(
            "PATCH",
            f"{self._repo_path}/pulls/{pr.number}",
            f"update pull request #{pr.number}",
            body={"title": title, "body": body},
        )
        return _parse(data)

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
        return _parse(data)
