"""GitLab merge requests, through the REST API (v4), on gitlab.com or a self-managed host.

API root: ``https://gitlab.com/api/v4`` or ``https://HOST/api/v4``. The project is named by
its URL-encoded full path (``group%2Fsub%2Fproject``). Token: a personal, project or group
access token with the ``api`` scope, for a member with at least the Developer role.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from patchwarden.apply.forge.api import ForgeApi, ForgeHints
from patchwarden.apply.forge.model import ForgeConflictError, ForgeError, PullRequest

GITLAB_API = "https://gitlab.com/api/v4"

HINTS = ForgeHints(
    name="GitLab",
    auth="the GitLab token was rejected or lacks the `api` scope",
    auth_hint="use a personal, project or group access token with the `api` scope, for a "
    "member with at least the Developer role, in PATCHWARDEN_FORGE_TOKEN or GITLAB_TOKEN",
    not_found_hint="check the project path in the git remote; GitLab also answers 404 when "
    "the token's user is not a member of a private project",
)

# GitLab's merge request states; "locked" is a short-lived state while a merge runs.
_STATES = {"opened": "open", "locked": "open", "closed": "closed", "merged": "merged"}


def parse_merge_request(data: Any) -> PullRequest:
    """A :class:`PullRequest` from GitLab's merge request JSON (``iid`` is the number)."""
    try:
        return PullRequest(
            number=int(data["iid"]),
            url=str(data["web_url"]),
            head=str(data["source_branch"]),
            base=str(data["target_branch"]),
            title=str(data["title"]),
            body=str(data.get("description") or ""),
            state=_STATES.get(str(data["state"]), str(data["state"])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ForgeError(
            f"GitLab answered with a merge request this client cannot read (missing {exc})",
            "check that api_url points at the GitLab API (https://HOST/api/v4)",
        ) from None


class GitLabForge:
    """Merge requests on the project at ``path`` (``group/subgroup/project``)."""

    kind = "gitlab"

    def __init__(self, path: str, token: str, *, api_url: str = GITLAB_API, **http: Any) -> None:
        self.path = path.strip("/")
        self.api = ForgeApi(api_url, {"PRIVATE-TOKEN": token}, token, HINTS, **http)
        self._project = f"/projects/{quote(self.path, safe='')}"

    def close_client(self) -> None:
        self.api.close()

    def find_open(self, head: str) -> PullRequest | None:
        data, _ = self.api.call(
            "GET",
            f"{self._project}/merge_requests",
            f"list open merge requests of {self.path}",
            params={"source_branch": head, "state": "opened", "per_page": 100},
        )
        if not isinstance(data, list):
            raise ForgeError("GitLab answered the merge request list with something not a list")
        mrs = [parse_merge_request(d) for d in data]
        return next((m for m in mrs if m.head == head and m.state == "open"), None)

    def create(self, head: str, base: str, title: str, body: str) -> PullRequest:
        try:
            data, _ = self.api.call(
                "POST",
                f"{self._project}/merge_requests",
                f"open a merge request from {head} into {base}",
                body={
                    "source_branch": head,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                    "remove_source_branch": True,
                },
            )
        except ForgeConflictError as exc:
            # 409 "Another open merge request already exists for this source branch: !N"
            existing = self.find_open(head) if exc.status == 409 else None
            if existing is not None and existing.base == base:
                return existing
            raise
        return parse_merge_request(data)

    def update(self, pr: PullRequest, title: str, body: str) -> PullRequest:
        data, _ = self.api.call(
            "PUT",
            f"{self._project}/merge_requests/{pr.number}",
            f"update merge request !{pr.number}",
            body={"title": title, "description": body},
        )
        return parse_merge_request(data)

    def close(self, pr: PullRequest, comment: str | None = None) -> PullRequest:
        if pr.state != "open":  # merged or already closed: nothing to do, nothing to say
            return pr
        if comment:
            self.api.call(
                "POST",
                f"{self._project}/merge_requests/{pr.number}/notes",
                f"comment on merge request !{pr.number}",
                body={"body": comment},
            )
        data, _ = self.api.call(
            "PUT",
            f"{self._project}/merge_requests/{pr.number}",
            f"close merge request !{pr.number}",
            body={"state_event": "close"},
        )
        return parse_merge_request(data)
