"""What every git-forge client offers: find, open, update and close one pull request.

GitHub calls them pull requests, GitLab merge requests; both are :class:`PullRequest` here,
numbered by the forge's per-repository number (GitHub/Gitea ``number``, GitLab ``iid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from patchwarden.errors import ExitCode, PatchwardenError

PR_STATES = ("open", "closed", "merged")


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    url: str  # the web page, for people (html_url / web_url)
    head: str  # source branch name
    base: str  # target branch name
    title: str
    body: str
    state: str  # "open", "closed" or "merged"


@runtime_checkable
class Forge(Protocol):
    """One repository on one forge. Implementations: GitHub, GitLab, Gitea (and Forgejo)."""

    def find_open(self, head: str) -> PullRequest | None:
        """The open pull request from branch ``head`` of this repository, if any."""
        ...

    def create(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request; if one from ``head`` to ``base`` is already open, return it."""
        ...

    def update(self, pr: PullRequest, title: str, body: str) -> PullRequest: ...

    def close(self, pr: PullRequest, comment: str | None = None) -> PullRequest:
        """Post ``comment`` (if given) on the pull request, then close it."""
        ...


class ForgeError(PatchwardenError):
    """A forge API call failed. ``status`` is the HTTP status, None for transport errors."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        transient: bool = False,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message, hint, transient=transient, exit_code=exit_code)
        self.status = status


class ForgeConfigError(ForgeError):
    """The remote URL, forge kind or token could not be worked out (a usage problem)."""

    exit_code = ExitCode.USAGE


class ForgeAuthError(ForgeError):
    """The token is missing, rejected (401) or lacks a permission (403)."""


class ForgeNotFoundError(ForgeError):
    """404: the repository or pull request does not exist, or the token cannot see it."""


class ForgeConflictError(ForgeError):
    """400/409/422: the forge refused the request; the message carries the forge's words."""
