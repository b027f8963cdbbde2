"""The Docker Engine API calls live updates need, over the ``docker`` SDK's low-level client.

Connects to ``--engine URL``, else ``$DOCKER_HOST``, else ``unix:///var/run/docker.sock``;
``tcp://`` URLs use TLS with client certificates from ``$DOCKER_CERT_PATH`` when
``$DOCKER_TLS_VERIFY`` is set (the docker CLI convention). Every engine failure becomes an
:class:`EngineError` with a hint, never a raw SDK exception.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from patchwarden.core.ref import ImageRef
from patchwarden.engine.errors import EngineError, NotFoundError, _errors
from patchwarden.engine.info import ContainerInfo, info_from_inspect
from patchwarden.net.redact import redact_url, remember_secret
from patchwarden.registry.credentials import CredentialProvider, default_credentials

DEFAULT_URL = "unix:///var/run/docker.sock"
MIN_API = (1, 40)
MIN_API_TEXT = f"{MIN_API[0]}.{MIN_API[1]}"
LIST_INSPECTS = 4  # inspects in flight while listing containers


def resolve_url(url: str | None) -> str:
    """``--engine``, ``$DOCKER_HOST`` or the default; a password in it is remembered as a
    secret (masked wherever it would be printed) and never shown in messages."""
    resolved = url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
    parts = urlsplit(resolved)
    if parts.password:
        remember_secret(unquote(parts.password), user=unquote(parts.username or "") or None)
        remember_secret(parts.password, user=parts.username or None)
    return resolved


class EngineClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 120.0,
        credentials: CredentialProvider | None = None,
        api: Any = None,
    ) -> None:
        self.url = resolve_url(url)
        self._credentials = credentials
        if api is not None:
            self.api = api
            return
        import docker

        tls: Any = False
        if self.url.startswith(("tcp://", "https://")) and os.environ.get("DOCKER_TLS_VERIFY"):
            from docker.tls import TLSConfig

            certs = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
            tls = TLSConfig(
                client_cert=(os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")),
                ca_cert=os.path.join(certs, "ca.pem"),
                verify=True,
            )
        with _errors(f"connecting to {redact_url(self.url)}", "engine.connect"):
            self.api = docker.APIClient(
                base_url=self.url, timeout=int(timeout), tls=tls, version=MIN_API_TEXT
            )
            self.api._version = self._negotiate()
        self._is_podman: bool | None = None

    def _negotiate(self) -> str:
        """The engine's API version, as the SDK's ``version="auto"`` finds it, but from the
        ``API-Version`` header of ``GET /_ping`` (milliseconds) rather than ``GET /version``
        (Podman runs its OCI runtime and conmon to answer that one: seconds on a busy
        host); ``/version`` only when the header is missing."""
        res = self.api.get(f"{self.api.base_url}/_ping")
        found = res.headers.get("API-Version") if res.status_code == 200 else None
        if found:
            return str(found)
        return str(self.api.version(api_version=False)["ApiVersion"])

    # -- engine ---------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        with _errors("engine version", "engine.version"):
            info: dict[str, Any] = self.api.version()
        _check_api(str(info.get("ApiVersion", "0.0")))
        return info

    def check_api(self) -> None:
        """The engine answers and its API is new enough: the version found when connecting
        (:meth:`_negotiate`), without asking again."""
        negotiated = getattr(self.api, "api_version", None)
        if not isinstance(negotiated, str):
            self.version()
            return
        _check_api(negotiated)

    @property
    def identity(self) -> str:
        """Which engine this is, the same for every spelling of its address on this host: a
        unix socket is its real path on this host's name; a remote engine its URL without
        user info (what per-container locks are scoped to)."""
        parts = urlsplit(self.url)
        if parts.scheme in ("unix", "http+unix", "") or self.url.startswith("/"):
            import socket

            path = os.path.realpath(parts.path or self.url)
            return f"unix://{socket.gethostname()}{path}"
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"

    @property
    def is_podman(self) -> bool:
        if getattr(self, "_is_podman", None) is None:
            comps = self.version().get("Components") or []
            self._is_podman = any("podman" in str(c.get("Name", "")).lower() for c in comps)
        return bool(self._is_podman)

    # -- images -------------------------------------------------------------------------
    def export_image(self, name: str) -> Iterator[bytes]:
        """The image as a ``docker save`` tar stream (the Engine API's image export)."""
        with _errors(f"exporting image {name}"):
            chunks: Iterator[bytes] = self.api.get_image(name, chunk_size=1 << 20)
            yield from chunks

    # -- containers -----------------------------------------------------------------------
    def list_containers(self, *, all: bool = True) -> list[ContainerInfo]:
        with _errors("listing containers", "engine.list"):
            rows = self.api.containers(all=all)
        ids = [str(r["Id"]) for r in rows]

        def info(cid: str) -> ContainerInfo | None:
            try:
                return self.info(cid)
            except NotFoundError:  # removed since it was listed: no longer there
                return None

        # each row is inspected (container and image): a few at a time, in the engine's order
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, min(LIST_INSPECTS, len(ids))), "pw-inspect") as pool:
            return [i for i in pool.map(info, ids) if i is not None]

    def inspect(self, ref: str) -> dict[str, Any]:
        with _errors(f"inspecting container {ref}", "engine.inspect"):
            doc: dict[str, Any] = self.api.inspect_container(ref)
        return doc

    def exists(self, ref: str) -> bool:
        try:
            self.inspect(ref)
        except EngineError:
            return False
        return True

    def inspect_image(self, ref: str) -> dict[str, Any]:
        with _errors(f"inspecting image {ref}", "engine.inspect_image"):
            doc: dict[str, Any] = self.api.inspect_image(ref)
        return doc

    def info(self, ref: str) -> ContainerInfo:
        return info_from_inspect(self.inspect(ref), self._image_or_none)

    def _image_or_none(self, image_id: str) -> dict[str, Any] | None:
        try:
            return self.inspect_image(image_id)
        except EngineError:
            return None

    def create(self, config: dict[str, Any], name: str) -> str:
        extra = config.pop("_extra_networks", {})
        with _errors(f"creating container {name}", "engine.create"):
            created = self.api.create_container_from_config(config, name=name)
            cid = str(created["Id"])
            for net, endpoint in extra.items():
                self.api.connect_container_to_network(
                    cid, net, aliases=endpoint.get("Aliases") or None
                )
        return cid

    def start(self, ref: str) -> None:
        with _errors(f"starting container {ref}", "engine.start"):
            self.api.start(ref)

    def stop(self, ref: str, timeout: int = 10) -> None:
        with _errors(f"stopping container {ref}", "engine.stop"):
            self.api.stop(ref, timeout=timeout)

    def rename(self, ref: str, name: str) -> None:
        with _errors(f"renaming container {ref} to {name}", "engine.rename"):
            self.api.rename(ref, name)

    def remove(self, ref: str, *, force: bool = False) -> None:
        with _errors(f"removing container {ref}", "engine.remove"):
            self.api.remove_container(ref, force=force, v=False)

    def run_healthcheck(self, ref: str) -> str | None:
        """Ask the engine to run the container's HEALTHCHECK now (Podman only); its status.

        Podman runs healthchecks from systemd timers, which a host without systemd never
        fires; its libpod API runs one on request. Docker runs them itself: returns None.
        """
        if not self.is_podman:
            return None
        with _errors(f"running the healthcheck of {ref}"):
            version = str(self.version().get("Version") or "4.0.0")
            url = f"{self.api.base_url}/v{version}/libpod/containers/{ref}/healthcheck"
            res = self.api.get(url)
        if res.status_code != 200:
            return None
        return str(res.json().get("Status") or "") or None

    def exec_run(self, ref: str, cmd: list[str], timeout: float) -> tuple[int | None, str]:
        """Run ``cmd`` inside the running container ``ref``; (exit code, output).

        The exit code is None when the command did not finish within ``timeout`` seconds (the
        Engine API cannot kill an exec: the command is left to end on its own)."""
        import threading

        with _errors(f"running a command in container {ref}"):
            exec_id = self.api.exec_create(ref, cmd, stdout=True, stderr=True)["Id"]
        chunks: list[bytes] = []
        failure: list[str] = []

        def read() -> None:
            try:
                for chunk in self.api.exec_start(exec_id, stream=True):
                    chunks.append(chunk)
            except Exception as exc:  # reported as the hook's output
                failure.append(f"{type(exc).__name__}: {exc}")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        output = b"".join(chunks).decode("utf-8", "replace") + "".join(failure)
        if reader.is_alive():
            return None, output
        deadline = time.monotonic() + 5.0
        while True:  # the stream can end a moment before the engine records the exit code
            with _errors(f"inspecting a command in container {ref}"):
                doc = self.api.exec_inspect(exec_id)
            if not doc.get("Running") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        code = doc.get("ExitCode")
        return (int(code) if code is not None else -1), output

    # -- images ---------------------------------------------------------------------------
    def list_images(self) -> list[dict[str, Any]]:
        """Every local image: ``Id``, ``RepoTags``, ``RepoDigests`` (as the engine lists them)."""
        with _errors("listing images"):
            rows: list[dict[str, Any]] = self.api.images(all=False)
        return rows

    def remove_image(self, image_id: str) -> None:
        with _errors(f"removing image {image_id}"):
            self.api.remove_image(image_id, force=True, noprune=False)

    def pull(self, image: ImageRef) -> None:
        """Pull ``image`` (by digest when it has one) with the registry credentials."""
        name, ref = image.name, image.digest or image.tag or "latest"
        auth = self._auth_config(image.registry)
        with _errors(f"pulling {image}", "engine.pull"):
            stream = self.api.pull(name, tag=ref, stream=True, decode=True, auth_config=auth)
            for event in stream:
                if isinstance(event, dict) and event.get("error"):
                    raise EngineError(f"pulling {image}: {event['error']}")

    def tag(self, image: str, repository: str, tag: str) -> None:
        with _errors(f"tagging {image} as {repository}:{tag}"):
            self.api.tag(image, repository, tag, force=True)

    def _auth_config(self, host: str) -> dict[str, str] | None:
        provider = self._credentials or default_credentials()
        creds = provider.get(host)
        if creds is None:
            return None
        if creds.identity_token:
            return {"identitytoken": creds.identity_token, "serveraddress": host}
        if creds.has_basic:
            return {
                "username": str(creds.username),
                "password": str(creds.password),
                "serveraddress": host,
            }
        return None


def auth_header(auth: dict[str, str]) -> str:
    """X-Registry-Auth encoding (for tests and debugging)."""
    return base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()


def wait_until(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _check_api(api: str) -> None:
    major, _, minor = api.partition(".")
    if (int(major or 0), int(minor or 0)) < MIN_API:
        raise EngineError(
            f"engine API {api} is too old (need {MIN_API[0]}.{MIN_API[1]} or later)",
            "upgrade Docker (>= 19.03) or Podman (>= 3)",
        )


def connect(url: str | None = None, **kw: Any) -> EngineClient:
    """A client of the engine at ``url``, which answered (one request: the SDK's version
    negotiation)."""
    client = EngineClient(url, **kw)
    client.check_api()
    return client
