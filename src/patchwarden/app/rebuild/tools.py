"""The seams of the pipeline and their implementations on buildah, podman and skopeo.

Every tool reads the containers configuration of its environment (``CONTAINERS_CONF``,
``CONTAINERS_STORAGE_CONF``, ``CONTAINERS_REGISTRIES_CONF``), so builds, tests and pushes
share one image store. Credentials go through a temporary auth file (mode 0600), never argv.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from patchwarden.app.rebuild.proc import Completed, ToolError, check, run, tool
from patchwarden.registry.auth import is_loopback

BUILD_TIMEOUT_S = 3600.0
STEP_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class BuildRequest:
    context: Path
    dockerfile: Path
    tag: str  # local name of the built image
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    tls_verify: bool = True  # False for the base's registry when insecure or loopback
    timestamp: int | None = None


class Builder(Protocol):
    def build(self, req: BuildRequest) -> str: ...  # local image id

    def export(self, image: str, layout: Path, tag: str) -> str: ...  # manifest digest

    def remove(self, image: str) -> None: ...

    def read_file(self, image: str, path: str) -> bytes | None: ...


class Runner(Protocol):
    def run(self, image: str, argv: Sequence[str], timeout: float) -> Completed: ...

    def start(self, image: str, port: int) -> tuple[str, int]: ...  # container id, host port

    def logs(self, container: str) -> str: ...

    def stop(self, container: str) -> None: ...


class Publisher(Protocol):
    def push(self, layout: Path, tag: str, dest: str) -> str: ...  # pushed manifest digest


def verify_tls(host: str, insecure_hosts: frozenset[str]) -> bool:
    """Whether the tools must verify TLS for ``host``: not for hosts configured insecure, nor
    for loopback registries (as Docker and patchwarden's own client treat them)."""
    return host not in insecure_hosts and not is_loopback(host)


@contextmanager
def auth_file(creds: Mapping[str, tuple[str, str]]) -> Iterator[str | None]:
    """A containers auth.json for ``creds`` (host -> user, password), removed afterwards."""
    if not creds:
        yield None
        return
    auths = {
        host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
        for host, (u, p) in creds.items()
    }
    fd, path = tempfile.mkstemp(prefix="patchwarden-auth-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"auths": auths}, fh)
        yield path
    finally:
        os.unlink(path)


class Buildah:
    """``buildah bud`` with chroot isolation (no daemon, works inside containers)."""

    def __init__(self, authfile: str | None = None, isolation: str | None = None) -> None:
        self.binary = tool("buildah")
        self.authfile = authfile
        self.isolation = isolation or os.environ.get("PATCHWARDEN_BUILD_ISOLATION", "chroot")

    def build(self, req: BuildRequest) -> str:
        with tempfile.TemporaryDirectory(prefix="patchwarden-build-") as tmp:
            iid = Path(tmp) / "iid"
            argv = [
                self.binary,
                "bud",
                f"--isolation={self.isolation}",
                "--pull=always",
                "--layers=false",
                f"--iidfile={iid}",
                f"--file={req.dockerfile}",
                f"--tag={req.tag}",
            ]
            if self.authfile:
                argv.append(f"--authfile={self.authfile}")
            if not req.tls_verify:
                argv.append("--tls-verify=false")
            if req.target:
                argv.append(f"--target={req.target}")
            if req.timestamp is not None:
                argv.append(f"--timestamp={req.timestamp}")
            for k, v in req.build_args:
                argv.append(f"--build-arg={k}={v}")
            for k, v in sorted(req.labels.items()):
                argv.append(f"--label={k}={v}")
            for k, v in sorted(req.annotations.items()):
                argv.append(f"--annotation={k}={v}")
            argv.append(str(req.context))
            check(argv, "buildah bud", timeout=BUILD_TIMEOUT_S)
            return iid.read_text().strip()

    def export(self, image: str, layout: Path, tag: str) -> str:
        digest_file = layout.parent / f"{layout.name}.digest"
        check(
            [self.binary, "push", f"--digestfile={digest_file}", image, f"oci:{layout}:{tag}"],
            "buildah push to an OCI layout",
            timeout=STEP_TIMEOUT_S,
        )
        return digest_file.read_text().strip()

    def remove(self, image: str) -> None:
        run([self.binary, "rmi", "--force", image], timeout=STEP_TIMEOUT_S)

    def read_file(self, image: str, path: str) -> bytes | None:
        """The file at ``path`` in ``image`` (None when absent), through a mounted working
        container: no tool inside the image is needed."""
        ctr = check([self.binary, "from", image], "buildah from", timeout=STEP_TIMEOUT_S)
        name = ctr.strip().splitlines()[-1]
        try:
            root = check([self.binary, "mount", name], "buildah mount", timeout=STEP_TIMEOUT_S)
            top = Path(root.strip().splitlines()[-1]).resolve()
            target = (top / path.lstrip("/")).resolve()
            if top not in target.parents and target != top:
                return None  # a symlink out of the image: not the image's file
            try:
                return target.read_bytes() if target.is_file() else None
            except OSError:
                return None
        finally:
            run([self.binary, "rm", name], timeout=STEP_TIMEOUT_S)


class Podman:
    """Runs test commands and health probes in containers of the built image."""

    def __init__(self) -> None:
        self.binary = tool("podman")

    def run(self, image: str, argv: Sequence[str], timeout: float) -> Completed:
        name = f"patchwarden-test-{uuid.uuid4().hex[:12]}"
        cmd = [
            self.binary,
            "run",
            "--rm",
            f"--name={name}",
            "--pull=never",
            f"--entrypoint={json.dumps(list(argv[:1]))}",
            image,
            *argv[1:],
        ]
        done = run(cmd, timeout=timeout)
        if done.timed_out:  # the client is gone; the container may not be
            self.stop(name)
        return done

    def start(self, image: str, port: int) -> tuple[str, int]:
        cid = (
            check(
                [self.binary, "run", "-d", "--pull=never", f"--publish=127.0.0.1::{port}", image],
                "podman run (health probe)",
                timeout=STEP_TIMEOUT_S,
            )
            .strip()
            .splitlines()[-1]
        )
        mapped = check([self.binary, "port", cid, f"{port}/tcp"], "podman port", timeout=60).strip()
        try:
            host_port = int(mapped.splitlines()[0].rsplit(":", 1)[1])
        except (IndexError, ValueError):
            self.stop(cid)
            raise ToolError(f"podman did not publish port {port}: {mapped!r}") from None
        return cid, host_port

    def logs(self, container: str) -> str:
        return run([self.binary, "logs", container], timeout=60).output

    def stop(self, container: str) -> None:
        run([self.binary, "rm", "--force", "--time=5", container], timeout=STEP_TIMEOUT_S)


class Skopeo:
    """Copies the scanned OCI layout to the registry: the pushed manifest is the scanned one."""

    def __init__(self, authfile: str | None = None, insecure_hosts: frozenset[str] = frozenset()):
        self.binary = tool("skopeo")
        self.authfile = authfile
        self.insecure_hosts = insecure_hosts

    def push(self, layout: Path, tag: str, dest: str) -> str:
        digest_file = layout.parent / f"{layout.name}.pushed"
        argv = [self.binary, "copy", "--quiet", "--preserve-digests", f"--digestfile={digest_file}"]
        if self.authfile:
            argv.append(f"--dest-authfile={self.authfile}")
        if not verify_tls(dest.split("/", 1)[0], self.insecure_hosts):
            argv.append("--dest-tls-verify=false")
        argv += [f"oci:{layout}:{tag}", f"docker://{dest}"]
        check(argv, f"pushing {dest}", timeout=STEP_TIMEOUT_S)
        return digest_file.read_text().strip()
