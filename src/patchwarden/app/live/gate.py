"""The health gate a freshly started container must pass before the old one is removed.

The engine's HEALTHCHECK status when the container has one (on Podman without systemd the check
is run on request through the libpod API); otherwise the configured probes: an HTTP URL that
must answer the expected status, a TCP address that must accept a connection, and in every case
the container must still be running after the grace period.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from patchwarden.core.timing import span
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo, info_from_inspect
from patchwarden.net.http import make_client


@dataclass(frozen=True, slots=True)
class Probes:
    http_url: str | None = None
    http_status: int = 200
    tcp: str | None = None  # host:port
    grace: float = 2.0  # seconds the container must stay running
    timeout: float = 60.0  # for the whole gate
    interval: float = 0.5


@dataclass(frozen=True, slots=True)
class GateResult:
    ok: bool
    reason: str
    checks: dict[str, Any] = field(default_factory=dict)


def run_gate(engine: EngineApi, container: str, probes: Probes) -> GateResult:
    with contextlib.ExitStack() as stack:
        return _run_gate(engine, container, probes, stack)


def _run_gate(
    engine: EngineApi, container: str, probes: Probes, stack: contextlib.ExitStack
) -> GateResult:
    client: httpx.Client | None = None  # one for every HTTP probe of this gate
    start = time.monotonic()
    deadline = start + probes.timeout
    checks: dict[str, Any] = {}
    info = _state(engine, container)
    if info.health is not None:
        return _engine_health(engine, container, probes, deadline, checks)
    # grace: must keep running (polled every interval; the last wait ends when the grace does)
    with span("gate.grace"):
        while (left := start + probes.grace - time.monotonic()) > 0:
            info = _state(engine, container)
            if not info.running:
                return _exited(engine, container, checks)
            time.sleep(min(probes.interval, max(0.0, left)))
    checks["running"] = "ok"
    pending = []
    if probes.http_url:
        pending.append("http")
    if probes.tcp:
        pending.append("tcp")
    last = ""
    while pending:
        if not _state(engine, container).running:
            return _exited(engine, container, checks)
        for kind in list(pending):
            with span("probe"):
                if kind == "tcp":
                    ok, detail = _tcp(probes)
                else:
                    if client is None:
                        client = stack.enter_context(
                            make_client(connect_timeout=3.0, read_timeout=3.0, max_connections=1)
                        )
                    ok, detail = _http(probes, client)
            last = detail
            if ok:
                checks[kind] = detail
                pending.remove(kind)
        if not pending:
            break
        if time.monotonic() >= deadline:
            for kind in pending:
                checks[kind] = f"failed: {last}"
            return GateResult(
                False,
                f"{' and '.join(pending)} probe did not pass within {probes.timeout:g}s: {last}",
                checks,
            )
        time.sleep(probes.interval)
    if not _state(engine, container).running:
        return _exited(engine, container, checks)
    passed = ", ".join(f"{k} {v}" for k, v in checks.items())
    return GateResult(True, f"healthy ({passed})", checks)


def _engine_health(
    engine: EngineApi, container: str, probes: Probes, deadline: float, checks: dict[str, Any]
) -> GateResult:
    status = "starting"
    while True:
        info = _state(engine, container)
        if not info.running:
            return _exited(engine, container, checks)
        status = info.health or "starting"
        if status == "starting":
            with contextlib.suppress(EngineError):
                status = engine.run_healthcheck(container) or status
        if status in ("healthy", "unhealthy"):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(probes.interval)
    checks["healthcheck"] = status
    if status == "healthy":
        return GateResult(True, "healthy (engine HEALTHCHECK)", checks)
    if status == "unhealthy":
        return GateResult(False, "the engine HEALTHCHECK reports unhealthy", checks)
    return GateResult(
        False, f"the engine HEALTHCHECK was still {status!r} after {probes.timeout:g}s", checks
    )


def _state(engine: EngineApi, container: str) -> ContainerInfo:
    """Running and HEALTHCHECK status: one inspect (no image lookup, which only digests need)."""
    return info_from_inspect(engine.inspect(container))


def _exited(engine: EngineApi, container: str, checks: dict[str, Any]) -> GateResult:
    doc = engine.inspect(container).get("State") or {}
    code = doc.get("ExitCode")
    checks["running"] = f"exited ({code})"
    return GateResult(
        False,
        f"the new container is not running (state {doc.get('Status')}, exit code {code})",
        checks,
    )


def _http(probes: Probes, client: httpx.Client) -> tuple[bool, str]:
    assert probes.http_url  # noqa: S101 - type narrowing; the caller checked it
    try:
        res = client.get(probes.http_url)
    except httpx.HTTPError as exc:
        return False, f"GET {probes.http_url}: {type(exc).__name__}"
    if res.status_code == probes.http_status:
        return True, f"GET {probes.http_url} -> {res.status_code}"
    return False, f"GET {probes.http_url} -> {res.status_code}, expected {probes.http_status}"


def _tcp(probes: Probes) -> tuple[bool, str]:
    assert probes.tcp  # noqa: S101 - type narrowing; the caller checked it
    host, _, port = probes.tcp.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=3.0):
            return True, f"connect {probes.tcp} ok"
    except OSError as exc:
        return False, f"connect {probes.tcp}: {exc.strerror or type(exc).__name__}"
