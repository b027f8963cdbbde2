"""The registry client's rate-limit seam: a token taken before every request, 429s reported;
the in-process token bucket's arithmetic."""

from __future__ import annotations

import httpx

from patchwarden.core.ref import parse_reference
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.ratelimit import LocalTokenBucket
from patchwarden.registry.settings import ClientOptions


class Limiter:
    """Records what the client tells its rate limiter."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.blocks: list[tuple[str, float]] = []

    def acquire(self, host: str) -> None:
        self.acquired.append(host)

    def throttled(self, host: str, seconds: float) -> None:
        self.blocks.append((host, seconds))


def test_every_request_takes_a_token_and_a_429_is_reported_with_retry_after() -> None:
    calls = {"n": 0}

    def answer(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v2/":
            return httpx.Response(200)
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "3"})
        return httpx.Response(200, json={"name": "team/app", "tags": ["1.0", "1.1"]})

    limiter = Limiter()
    client = RegistryClient(
        {},
        options=ClientOptions(base_backoff=0.0),
        sleep=lambda s: None,
        http_transport=httpx.MockTransport(answer),
        limiter=limiter,
    )
    tags = client.list_tags(parse_reference("registry.example/team/app:1.0"))
    assert list(tags) == ["1.0", "1.1"]
    assert limiter.acquired == ["registry.example"] * 2  # the answered 429, the retry
    assert limiter.blocks == [("registry.example", 3.0)]


def test_local_bucket_allows_a_burst_then_paces() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = LocalTokenBucket({"h": (2.0, 3)}, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        bucket.acquire("h")
    assert slept == []
    bucket.acquire("h")
    assert slept == [0.5]  # 2 tokens per second
    bucket.acquire("other")  # no limit for other hosts
    bucket.throttled("other", 4.0)
    bucket.acquire("other")
    assert slept[-1] == 4.0
