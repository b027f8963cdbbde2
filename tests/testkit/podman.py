"""Helpers for the live-update tests: a Podman API service on a temp socket and tiny images.

Images are real OCI images built without any engine: one layer with the host's static
``/bin/busybox`` (and ``/bin/sh`` linked to it) and a ``/www`` directory; the config's Cmd serves it with ``httpd`` on 8080.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools import skopeo
from patchwarden.devtools.oci_builder import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    OCILayout,
    gzip_bytes,
    sha256,
)
from patchwarden.engine.client import EngineClient
from testkit.tools import require_tool, unavailable

BUSYBOX = Path("/bin/busybox")
HTTPD = ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]


def find_busybox() -> Path | None:
    for p in (BUSYBOX, Path("/usr/bin/busybox")):
        if p.exists():
            return p
    return None


def _layer(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "www", "data"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        sh = tarfile.TarInfo("bin/sh")  # busybox's sh, for hooks (`sh -c ...`)
        sh.type, sh.linkname, sh.mode = tarfile.SYMTYPE, "busybox", 0o777
        tar.addfile(sh)
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push_web_image(
    layouts: Path,
    registry_host: str,
    repo: str,
    tag: str,
    *,
    version: str,
    healthy: bool = True,
    cmd: Sequence[str] = HTTPD,
    env: Sequence[str] = ("PATH=/bin",),
    extra: Mapping[str, bytes] | None = None,
) -> str:
    """Build and push ``repo:tag``; return the manifest digest (as skopeo computes it)."""
    busybox = find_busybox()
    assert busybox is not None
    files: dict[str, tuple[bytes, int]] = {
        "bin/busybox": (busybox.read_bytes(), 0o755),
        "www/version": (version.encode(), 0o644),
    }
    if healthy:
        files["www/health"] = (b"ok\n", 0o644)
    for name, data in (extra or {}).items():
        files[name] = (data, 0o644)
    tar = _layer(files)
    layout_dir = layouts / f"{repo}-{tag}"
    layout = OCILayout(layout_dir)
    layer = layout.add_blob(gzip_bytes(tar), OCI_LAYER)
    config: dict[str, Any] = {
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": list(cmd),
            "Env": list(env),
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.example.version": version},
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        # one entry per layer, as real images have: builders that commit each step (the
        # Engine API's /build on Podman) refuse a base whose history lists fewer layers
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "push_web_image"}],
    }
    cfg = layout.add_blob(json.dumps(config).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer]}
    desc = layout.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
    layout.tag(tag, desc)
    dest = f"{registry_host}/{repo}:{tag}"
    skopeo.push(layout_dir, tag, dest)
    return skopeo.inspect_digest(dest)


@contextmanager
def podman_service(podman: str, workdir: Path) -> Iterator[str]:
    """``podman system service`` on a socket in ``workdir``; yields its unix:// URL."""
    sock = workdir / "podman.sock"
    url = f"unix://{sock}"
    log = (workdir / "podman-service.log").open("wb")
    proc = subprocess.Popen(
        [podman, "system", "service", "--time=0", url],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **session_config(workdir)},
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "podman system service did not start: "
                    + (workdir / "podman-service.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def session_config(workdir: Path) -> dict[str, str]:
    """Podman settings for this test session only, as machine-notes prescribes (runc, cgroupfs,
    vfs storage, plain HTTP for loopback registries), in files under ``workdir``: the machine's
    /etc/containers is never changed, and the images the tests pull stay in ``workdir``."""
    conf = workdir / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
        # conmon keeps each exec session (our hooks) for this long after it ends, waiting for
        # the API to read its exit code; Docker's 300 s would outlive the test session
        "exit_command_delay = 10\n"
    )
    storage = workdir / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{short_runroot(workdir)}"\n'
        f'graphroot = "{workdir}/graph"\n'
    )
    registries = workdir / "registries.conf"
    registries.write_text(
        "unqualified-search-registries = []\n\n"
        '[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n\n'
        '[[registry]]\nlocation = "localhost"\ninsecure = true\n'
    )
    return {
        "CONTAINERS_CONF": str(conf),
        "CONTAINERS_STORAGE_CONF": str(storage),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
    }


def short_runroot(workdir: Path) -> Path:
    """A run root for ``workdir`` whose path stays under Podman's limit of 50 characters.

    Podman refuses a longer one with "the specified runroot is longer than 50 characters", and
    the API service does not check it: only ``podman container cleanup``, the command conmon
    runs when a container exits by itself, fails. Such a container then keeps its network
    set-up, and a replacement publishing the same host port is not reached (the dead
    container's port forwarding comes first). Under pytest-xdist the temp paths are deeper
    (``.../popen-gw0/...``), so the run root gets its own short directory, removed at exit.
    """
    tag = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]
    run = Path("/tmp") / f"pw-run-{tag}"
    run.mkdir(mode=0o700, exist_ok=True)
    atexit.register(shutil.rmtree, run, ignore_errors=True)
    return run


def podman_ready() -> str | None:
    """Why Podman cannot run containers here, or None."""
    if not shutil.which("runc"):
        return "runc is not installed (scripts/install-podman.sh)"
    return None


def env_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Podman API service of this module's own (fails under CI when Podman cannot run)."""
    podman = require_tool("podman")
    require_tool("runc")
    problem = podman_ready() or (None if find_busybox() else "static busybox is not installed")
    if problem:
        unavailable(problem)
    with podman_service(podman, tmp_path_factory.mktemp("podman")) as url:
        yield url


@pytest.fixture(scope="module")
def engine(engine_url: str) -> EngineClient:
    client = EngineClient(engine_url)
    assert client.version()["ApiVersion"]
    return client
