"""Per-host registry settings and client-wide options."""

from __future__ import annotations

from dataclasses import dataclass, field

from patchwarden.registry.model import Platform

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HostSettings:
    """Settings for one registry host (``registries.HOST`` in patchwarden.yaml)."""

    insecure: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    # The environment variable holding the password, read when this registry is first asked
    # for credentials: a registry no reference uses never needs it set.
    password_env: str | None = None
    mirrors: tuple[str, ...] = ()  # pull-through mirrors, host[:port][/prefix], read first
    # This host's time limits in seconds (None: the client's, ClientOptions).
    connect_timeout: float | None = None
    read_timeout: float | None = None
    request_timeout: float | None = None

    def __repr__(self) -> str:
        pw = None if self.password is None else "***"
        return (
            f"HostSettings(insecure={self.insecure!r}, tls_verify={self.tls_verify!r}, "
            f"ca_file={self.ca_file!r}, username={self.username!r}, password={pw!r}, "
            f"max_concurrency={self.max_concurrency!r}, password_env={self.password_env!r}, "
            f"timeouts={(self.connect_timeout, self.read_timeout, self.request_timeout)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The time limits a host's requests run under, in seconds."""

    connect: float
    read: float
    overall: float

    @classmethod
    def of(cls, settings: HostSettings, opts: ClientOptions) -> Timeouts:
        """The host's own limits, else the client's; connect and read never exceed overall."""
        overall = settings.request_timeout or opts.request_timeout
        connect = settings.connect_timeout or opts.connect_timeout
        read = settings.read_timeout or opts.read_timeout
        return cls(min(connect, overall), min(read, overall), overall)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Options that apply to every registry the client talks to."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # per read: restarts on every byte received
    request_timeout: float = 120.0  # per attempt, headers and body (not blobs: see below)
    blob_min_rate: int = 16 * 1024  # bytes/s a blob download may not average below (after 60 s)
    max_attempts: int = 4
    base_backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    max_manifest_bytes: int = 4 * MiB
    max_config_bytes: int = 8 * MiB
    max_tags_bytes: int = 16 * MiB
    tags_page_size: int = 1000
    max_tag_pages: int = 100
    default_platform: Platform = field(default_factory=Platform.host)
    default_token_ttl: float = 60.0
