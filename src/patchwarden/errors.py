"""One root error for everything patchwarden reports to a user.

Every error carries a message (what happened), a hint (what to do), an exit code and a
``transient`` flag (worth retrying later). Messages must never contain secrets: build them
from redacted values only (see :mod:`patchwarden.net.redact`).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in docs/exit-codes.md."""

    OK = 0
    FINDINGS = 1  # the command worked and found what --fail-on asked about
    USAGE = 2  # bad command line, bad config file, bad input (the shell/click convention)
    ERRORS = 3  # the command ran, but some items failed (registry errors, ...)
    INTERNAL = 4  # a bug: please report it
    SKIPPED = 5  # the command did all it could; some items were skipped, each with a reason
    UNTRUSTED = 6  # a signature or allowed-registry gate refused an image (fail closed)
    PENDING = 7  # stopped to wait for something outside (a rollout's manual approval)


class PatchwardenError(Exception):
    exit_code: ExitCode = ExitCode.ERRORS

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        transient: bool = False,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.transient = transient
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(PatchwardenError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """patchwarden.yaml is malformed or names unknown keys."""


class ReferenceFormatError(UsageError):
    """An image reference does not follow the Docker reference grammar."""


class NetworkFailure(StrEnum):
    TIMEOUT = "timeout"
    TLS = "tls"
    UNREACHABLE = "unreachable"
    REDIRECTS = "redirects"
    BAD_URL = "bad-url"
    OTHER = "other"


class NetworkError(PatchwardenError):
    """A request did not get an answer (timeout, TLS, refused, ...), whoever it went to.

    Raised by :mod:`patchwarden.net` with a neutral hint; the registry, forge and advisory code
    turn it into their own error with their own advice (by :attr:`failure`)."""

    def __init__(
        self, message: str, hint: str | None, failure: NetworkFailure, *, transient: bool
    ) -> None:
        super().__init__(message, hint, transient=transient)
        self.failure = failure


class RegistryError(PatchwardenError):
    """A registry answered with an error, lied, or could not be reached."""


class AuthenticationError(RegistryError):
    """Credentials are missing, wrong or expired."""


class NotFoundError(RegistryError):
    """The repository, tag, manifest or blob does not exist."""


class PlatformNotFoundError(NotFoundError):
    """The image exists, but not for the platform asked for: a choice to change (exit 2)."""

    exit_code = ExitCode.USAGE


class RateLimitedError(RegistryError):
    """The registry kept answering 429 after our bounded retries."""


class IntegrityError(RegistryError):
    """Content did not match its digest, or exceeded a size cap."""
