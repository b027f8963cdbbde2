"""Run a real CNCF distribution registry (``docker-registry serve``) on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx

if TYPE_CHECKING:  # the token server needs the `devtools` extra (pyjwt, cryptography)
    from patchwarden.devtools.token_server import TokenServer

AuthMode = Literal["none", "htpasswd", "token"]
START_TIMEOUT = 20.0


class RegistryServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd entry (distribution only accepts bcrypt)."""
    binary = shutil.which("htpasswd")
    if binary is not None:
        out = subprocess.run(
            [binary, "-Bbn", username, password], capture_output=True, check=True, timeout=30
        )
        return out.stdout.decode().strip()
    try:
        import bcrypt
    except ImportError as exc:
        raise RegistryServerError(
            "htpasswd is not installed and the bcrypt module is missing; "
            "install apache2-utils (`apt-get install -y apache2-utils`)"
        ) from exc
    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    return f"{username}:{hashed.decode()}"


class RegistryServer:
    """A throwaway registry. ``auth`` is ``none``, ``htpasswd`` or ``token``."""

    def __init__(
        self,
        auth: AuthMode = "none",
        *,
        username: str = "tester",
        password: str = "s3cret-pass",
        token_server: TokenServer | None = None,
        token_expires_in: int = 300,
        workdir: Path | None = None,
        binary: str = "docker-registry",
        notify_url: str | None = None,
        notify_token: str | None = None,
    ) -> None:
        self.auth = auth
        self.username, self.password = username, password
        self.token_server = token_server
        self._token_expires_in = token_expires_in
        self._own_token_server = False
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._binary = binary
        self.notify_url = notify_url
        self.notify_token = notify_token
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.dir = Path()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def creds(self) -> tuple[str, str] | None:
        return None if self.auth == "none" else (self.username, self.password)

    @property
    def log_file(self) -> Path:
        return self.dir / "registry.log"

    def _config(self) -> str:
        storage = self.dir / "storage"
        storage.mkdir(exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: patchwarden-devtools-secret",
        ]
        if self.auth == "htpasswd":
            pw = self.dir / "htpasswd"
            pw.write_text(htpasswd_line(self.username, self.password) + "\n")
            lines += ["auth:", "  htpasswd:", "    realm: patchwarden-test", f"    path: {pw}"]
        elif self.auth == "token":
            ts = self.token_server
            assert ts is not None
            cert = ts.write_cert(self.dir / "token-cert.pem")
            lines += [
                "auth:",
                "  token:",
                f"    realm: {ts.realm}",
                f"    service: {ts.service}",
                f"    issuer: {ts.issuer}",
                f"    rootcertbundle: {cert}",
            ]
        if self.notify_url:
            # distribution's notifications: every push/pull event POSTed as a JSON envelope
            lines += [
                "notifications:",
                "  endpoints:",
                "    - name: patchwarden",
                f"      url: {self.notify_url}",
                "      timeout: 2s",
                "      threshold: 5",
                "      backoff: 1s",
            ]
            if self.notify_token:
                lines += ["      headers:", f"        Authorization: [Bearer {self.notify_token}]"]
        return "\n".join(lines) + "\n"

    def start(self) -> RegistryServer:
        binary = shutil.which(self._binary)
        if binary is None:
            raise RegistryServerError(
                f"{self._binary} is not installed; install it with "
                "`apt-get install -y docker-registry`"
            )
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="patchwarden-registry-")
            self.dir = Path(self._tmp.name)
        else:
            self.dir = Path(self._workdir)
            self.dir.mkdir(parents=True, exist_ok=True)
        if self.auth == "token" and self.token_server is None:
            from patchwarden.devtools.token_server import TokenServer

            self.token_server = TokenServer(
                username=self.username, password=self.password, expires_in=self._token_expires_in
            ).start()
            self._own_token_server = True
        self.port = free_port()
        cfg = self.dir / "config.yml"
        cfg.write_text(self._config())
        log = self.log_file.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self._proc = subprocess.Popen(
            [binary, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                break
            try:
                r = httpx.get(f"{self.url}/v2/", timeout=1.0)
                if r.status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        tail = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
        self.stop()
        raise RegistryServerError(f"docker-registry did not start on {self.host}; log:\n{tail}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._own_token_server and self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
            self._own_token_server = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
