"""Image builds and throwaway test containers through the Docker Engine API.

``POST /build`` (the context sent as a tar, ``.dockerignore`` honoured by the docker SDK),
``GET /images/NAME/get`` for the built image, and short-lived containers for tests, file reads
(``GET /containers/ID/archive``) and health probes. Works against Docker and against Podman's
Docker-compatible API (``podman system service``). Every failure is an :class:`EngineError`.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchwarden.engine.client import EngineClient
from patchwarden.engine.errors import EngineError, _errors

MAX_LOG = 64 * 1024
MAX_FILE = 16 * 1024 * 1024  # a file assertion reads at most this much


@dataclass(frozen=True, slots=True)
class RunResult:
    code: int
    output: str
    timed_out: bool = False


class EngineBuilds:
    """``docker build`` and test containers on one engine."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.api = client.api

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        *,
        target: str | None = None,
        build_args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        pull: bool = True,
    ) -> str:
        """Build ``dockerfile`` in ``context`` as ``tag``; the image ID. A failed step raises
        with the tail of the build output."""
        try:
            rel = str(dockerfile.relative_to(context))
        except ValueError:
            rel = str(dockerfile)
        lines: list[str] = []
        with _errors(f"building {tag}"):
            stream = self.api.build(
                path=str(context),
                dockerfile=rel,
                tag=tag,
                target=target,
                buildargs=dict(build_args or {}),
                labels=dict(labels or {}),
                pull=pull,
                rm=True,
                forcerm=True,
                decode=True,
            )
            for event in stream:
                if not isinstance(event, dict):
                    continue
                if event.get("stream"):
                    lines.append(str(event["stream"]))
                error = event.get("error") or (event.get("errorDetail") or {}).get("message")
                if error:
                    tail = "".join(lines)[-4000:]
                    raise EngineError(f"docker build of {tag} failed: {error}\n{tail}".rstrip())
        return str(self.client.inspect_image(tag)["Id"])

    def save(self, name: str) -> Iterator[bytes]:
        """The image as a ``docker save`` tar stream."""
        return self.client.export_image(name)

    def remove_image(self, name: str) -> None:
        self.client.remove_image(name)

    def read_file(self, image: str, path: str) -> bytes | None:
        """The regular file at ``path`` in ``image`` (None when absent or not a file), from a
        container that is created but never started."""
        cid = self._create(image, {"Cmd": ["/"]}, "read")
        try:
            try:
                with _errors(f"reading {path} from {image}"):
                    stream, _stat = self.api.get_archive(cid, path)
                    data = b"".join(_capped(stream, MAX_FILE + 64 * 1024))
            except EngineError as exc:
                if "not found" in exc.message or "no such file" in exc.message.lower():
                    return None
                raise
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = next(iter(tar.getmembers()), None)
                if member is None or not member.isfile() or member.size > MAX_FILE:
                    return None
                fh = tar.extractfile(member)
                return fh.read() if fh is not None else None
        finally:
            self._remove(cid)

    def run(self, image: str, argv: Sequence[str], timeout: float) -> RunResult:
        """Run ``argv`` (its first word as the entrypoint) in a new container; remove it."""
        cid = self._create(image, {"Entrypoint": list(argv[:1]), "Cmd": list(argv[1:])}, "test")
        try:
            with _errors(f"starting a test container of {image}"):
                self.api.start(cid)
            done: list[int] = []

            def wait() -> None:
                try:
                    res = self.api.wait(cid)
                    done.append(int(res.get("StatusCode", -1)))
                except Exception:  # noqa: S110 - a failed wait shows as "no exit code" below
                    pass

            waiter = threading.Thread(target=wait, daemon=True)
            waiter.start()
            waiter.join(timeout)
            timed_out = waiter.is_alive() or not done
            if waiter.is_alive():
                with _errors(f"killing the test container of {image}"):
                    self.api.kill(cid)
            return RunResult(done[0] if done else -9, self.logs(cid), timed_out)
        finally:
            self._remove(cid)

    def start(self, image: str, port: int) -> tuple[str, int]:
        """Start ``image`` with ``port`` published on 127.0.0.1 (a free host port); (id, port)."""
        key = f"{port}/tcp"
        config = {
            "ExposedPorts": {key: {}},
            "HostConfig": {"PortBindings": {key: [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
        }
        cid = self._create(image, config, "probe")
        try:
            with _errors(f"starting a probe container of {image}"):
                self.api.start(cid)
            ports = self.client.inspect(cid).get("NetworkSettings", {}).get("Ports") or {}
            bound = ports.get(key) or []
            return cid, int(bound[0]["HostPort"])
        except (EngineError, IndexError, KeyError, TypeError, ValueError) as exc:
            self._remove(cid)
            if isinstance(exc, EngineError):
                raise
            raise EngineError(f"the engine did not publish port {port} of {image}") from None

    def logs(self, cid: str) -> str:
        with _errors(f"reading the logs of {cid}"):
            raw: bytes = self.api.logs(cid, stdout=True, stderr=True)
        return raw.decode("utf-8", "replace")[-MAX_LOG:]

    def stop(self, cid: str) -> None:
        self._remove(cid)

    def _create(self, image: str, extra: dict[str, Any], what: str) -> str:
        name = f"patchwarden-{what}-{uuid.uuid4().hex[:12]}"
        config = {"Image": image, "Labels": {"io.patchwarden.rebuild": what}, **extra}
        return self.client.create(config, name)

    def _remove(self, cid: str) -> None:
        with contextlib.suppress(EngineError):  # already gone
            self.client.remove(cid, force=True)


def _capped(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise EngineError(f"the file is larger than {limit} bytes")
        yield chunk


__all__ = ["EngineBuilds", "RunResult"]
