from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from patchwarden.errors import NetworkError, NetworkFailure, RegistryError
from patchwarden.net.http import USER_AGENT, make_client, send_with_retry
from patchwarden.net.retry import RetryPolicy, parse_retry_after
from patchwarden.registry.errors import registry_network_error

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Mon, 01 Jan 2024 12:00:10 GMT", 10.0),
        ("Mon, 01 Jan 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_delay_caps_retry_after_and_backoff_is_bounded() -> None:
    p = RetryPolicy(max_retry_after=5, base_delay=1, max_backoff=3, rng=random.Random(1))
    assert p.delay(1, "3600") == 5
    for attempt in range(1, 10):
        d = p.backoff(attempt)
        assert 0 < d <= 3
    assert p.should_retry_status(503, 1) and not p.should_retry_status(503, 4)
    assert not p.should_retry_status(404, 1)


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_send_with_retry_retries_5xx_then_succeeds() -> None:
    answers = iter([503, 502, 200])
    sleeps: list[float] = []
    retries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"Retry-After": "2"})

    resp = send_with_retry(
        _client(handler),
        lambda: httpx.Request("GET", "https://r.io/v2/"),
        RetryPolicy(),
        host="r.io",
        sleep=sleeps.append,
        on_retry=lambda a, r: retries.append(r),
    )
    assert resp.status_code == 200
    assert sleeps == [2.0, 2.0] and retries == ["503", "502"]


def test_send_with_retry_gives_last_answer_after_max_attempts() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429)

    resp = send_with_retry(
        _client(handler),
        lambda: httpx.Request("GET", "https://r.io/x"),
        RetryPolicy(max_attempts=3),
        host="r.io",
        sleep=lambda s: None,
    )
    assert resp.status_code == 429 and calls == 3


def test_connect_errors_retried_then_mapped() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(NetworkError) as exc:
        send_with_retry(
            _client(handler),
            lambda: httpx.Request("GET", "https://u:pw@r.io/x"),
            RetryPolicy(max_attempts=2),
            host="r.io",
            what="registry",
            sleep=lambda s: None,
        )
    assert calls == 2
    assert "cannot reach registry r.io" in exc.value.message and exc.value.transient
    assert exc.value.failure == NetworkFailure.UNREACHABLE
    # net/ gives no registry advice; the registry adds its own
    assert exc.value.hint and "registries." not in exc.value.hint
    advised = registry_network_error(exc.value, "r.io")
    assert isinstance(advised, RegistryError) and advised.transient
    assert advised.hint and "registries.r.io.insecure" in advised.hint


def test_timeout_and_tls_errors_mapped() -> None:
    from patchwarden.net.errors import map_transport_error

    t = map_transport_error(httpx.ReadTimeout("timed out"), "r.io")
    assert "timed out" in t.message and t.transient and t.failure == NetworkFailure.TIMEOUT
    tls = map_transport_error(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"), "r.io")
    assert "TLS" in tls.message and tls.failure == NetworkFailure.TLS
    advised = registry_network_error(tls, "r.io")
    assert advised.hint and "registries.r.io.ca_file" in advised.hint


def test_make_client_has_timeouts_and_user_agent() -> None:
    with make_client(connect_timeout=3, read_timeout=7) as c:
        assert c.timeout.connect == 3 and c.timeout.read == 7
        assert c.headers["User-Agent"] == USER_AGENT
