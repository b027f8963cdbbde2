"""What a registry client keeps per host for its whole life: the API host name, the scheme
found on the first request, the connection pool, the concurrency bound, the auth challenge,
the credentials looked up once, and whether the host was found dead in this run."""

from __future__ import annotations

import threading

import httpx

from patchwarden.errors import NetworkError, NetworkFailure, RegistryError
from patchwarden.net.http import make_client
from patchwarden.registry.auth import is_loopback
from patchwarden.registry.challenge import Challenge
from patchwarden.registry.credentials import Credentials, normalize_host
from patchwarden.registry.settings import ClientOptions, HostSettings, Timeouts

DOCKER_HUB_API = "registry-1.docker.io"
UNSET = object()  # a host's credentials not looked up yet
# A host that failed this way is not asked again in the run: a black hole costs one timeout.
DEAD = frozenset({NetworkFailure.TIMEOUT, NetworkFailure.UNREACHABLE})


def api_host(host: str) -> str:
    return DOCKER_HUB_API if normalize_host(host) == "docker.io" else host


class HostState:
    """Everything kept per registry host for the life of the client."""

    def __init__(
        self,
        name: str,
        settings: HostSettings,
        opts: ClientOptions,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.api = api_host(name)
        self.settings = settings
        self.plain_ok = settings.insecure or is_loopback(self.api)
        verify: bool | str = settings.ca_file or settings.tls_verify
        if self.plain_ok:
            verify = False  # as Docker does for insecure and loopback registries
        self.timeouts = Timeouts.of(settings, opts)
        self.client = make_client(
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            verify=verify,
            max_connections=max(1, settings.max_concurrency) + 2,
            transport=http_transport,
        )
        self.semaphore = threading.BoundedSemaphore(max(1, settings.max_concurrency))
        self.scheme: str | None = None if self.plain_ok else "https"
        self.probe_lock = threading.Lock()
        self.challenge: Challenge | None = None
        self.creds: Credentials | object | None = UNSET
        self.lock = threading.Lock()
        # Set when the host timed out or could not be reached: later requests fail at once.
        self.dead: RegistryError | None = None
        self.dead_failure: NetworkFailure | None = None
        self.answered = False  # a request to it got an HTTP answer in this run

    def mark_dead(self, exc: NetworkError, error: RegistryError) -> None:
        if exc.failure in DEAD and self.dead is None:
            self.dead_failure = exc.failure
            self.dead = RegistryError(
                f"{error.message} (earlier in this run; {self.name} is not asked again "
                "until the next run)",
                error.hint,
                transient=True,
            )
