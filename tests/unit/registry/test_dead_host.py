"""A registry host that timed out is not asked again in the same run (fail fast), and a host
that does not accept connections is not retried (each retry would cost a whole connect
timeout). httpx.MockTransport plays the network: it counts what reaches it."""

from __future__ import annotations

import httpx
import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.errors import RegistryError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.settings import ClientOptions, HostSettings, Timeouts


def _client(fail: Exception, seen: list[str]) -> RegistryClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "dead.example":
            raise fail
        return httpx.Response(200, json={"name": "app", "tags": ["1.0.0"]})

    return RegistryClient(
        options=ClientOptions(max_attempts=4, base_backoff=0.0),
        http_transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
    )


@pytest.mark.parametrize(
    "fail",
    [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out")],
    ids=["connect", "read"],
)
def test_a_host_that_timed_out_is_asked_once_per_run(fail: Exception) -> None:
    seen: list[str] = []
    client = _client(fail, seen)
    with pytest.raises(RegistryError, match="timed out"):
        client.list_tags(parse_reference("dead.example/app"))
    for repo in ("app2", "app3"):
        with pytest.raises(RegistryError, match="not asked again until the next run"):
            client.list_tags(parse_reference(f"dead.example/{repo}"))
    assert seen == ["dead.example"], "one attempt: no retry, no second request"
    assert client.list_tags(parse_reference("alive.example/app")) == ["1.0.0"]
    client.close()


def test_a_refused_connection_is_still_retried() -> None:
    seen: list[str] = []
    client = _client(httpx.ConnectError("refused"), seen)
    with pytest.raises(RegistryError):
        client.list_tags(parse_reference("dead.example/app"))
    assert len(seen) == 4, "a refused connection is quick: retried as before"
    client.close()


def test_host_timeouts_fall_back_to_the_client_and_stay_within_overall() -> None:
    opts = ClientOptions(connect_timeout=10, read_timeout=30, request_timeout=120)
    assert Timeouts.of(HostSettings(), opts) == Timeouts(10, 30, 120)
    assert Timeouts.of(HostSettings(request_timeout=5), opts) == Timeouts(5, 5, 5)
    assert Timeouts.of(HostSettings(connect_timeout=2), opts) == Timeouts(2, 30, 120)
