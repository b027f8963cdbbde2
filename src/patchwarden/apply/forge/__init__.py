"""Git-forge clients: open, find, update and close the pull requests patchwarden proposes."""

from patchwarden.apply.forge.detect import forge_for, parse_remote
from patchwarden.apply.forge.gitea import GiteaForge
from patchwarden.apply.forge.github import GitHubForge
from patchwarden.apply.forge.gitlab import GitLabForge
from patchwarden.apply.forge.model import (
    Forge,
    ForgeAuthError,
    ForgeConfigError,
    ForgeConflictError,
    ForgeError,
    ForgeNotFoundError,
    PullRequest,
)

__all__ = [
    "Forge",
    "ForgeAuthError",
    "ForgeConfigError",
    "ForgeConflictError",
    "ForgeError",
    "ForgeNotFoundError",
    "GitHubForge",
    "GitLabForge",
    "GiteaForge",
    "PullRequest",
    "forge_for",
    "parse_remote",
]
