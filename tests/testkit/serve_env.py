"""Real peers for ``serve`` tests: an SMTP server (aiosmtpd) and a webhook receiver on
loopback (``testkit.receiver``), and ``patchwarden serve`` itself as a child process."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from patchwarden.devtools.registry_server import free_port
from testkit.cli_process import spawn_cli


class SmtpSink:
    """A real SMTP server (aiosmtpd) keeping every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[str] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(envelope.content.decode("utf-8", "replace"))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def apprise_url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            "&from=patchwarden@example.org&to=ops@example.org"
        )

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class ServeProcess:
    """``python -m patchwarden.cli.main serve ...`` with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, port: int) -> None:
        self.args, self.env, self.cwd, self.port = args, env, cwd, port
        self.log = cwd / f"serve-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServeProcess:
        args = ["serve", *self.args, "--listen", f"127.0.0.1:{self.port}"]
        self.proc = spawn_cli(args, self.env, self.cwd, self.log)
        wait_until(f"serve on {self.port} ({self.log_text()[-2000:]})", self._ready, 60)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited {self.proc.returncode}: {self.log_text()}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop on signal {sig}") from None
