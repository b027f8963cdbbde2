"""contrib/Containerfile, built with buildah and run with Podman, offline.

The public base image (Docker Hub's python:3.11-slim-bookworm) cannot be pulled here, so the
build gets ``BASE``: a Debian 12 minbase with python3-venv made with debootstrap (cached per
machine, testkit/debian.py) and imported into this session's own storage. The wheels of the
dependencies and of the build backend are made on the host with pip (cached per machine,
keyed by the requirements) and handed over in the build context; the build installs with
``--no-index`` and no network. Then the image is checked from outside with skopeo (labels,
user, entry point, health check), and run: ``--version``, and ``serve`` answering /healthz,
/readyz and /metrics on a published port, and stopping cleanly on SIGTERM.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from patchwarden import __version__
from patchwarden.devtools.registry_server import free_port
from testkit.debian import rootfs_tar
from testkit.podman import podman_ready, session_config
from testkit.tools import require_tool, unavailable

# A cold machine debootstraps the base and downloads the wheels first (minutes, once).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]
ROOT = Path(__file__).parents[2]
BASE_PACKAGES = ("python3-venv",)  # python3 3.11, venv and the wheels ensurepip installs
BASE = "localhost/patchwarden-test-base:bookworm-python3"
IMAGE = "localhost/patchwarden:test"
ADMIN = "pw-image-admin-" + "5" * 32
DEBIAN_PYTHON = "/usr/bin/python3"  # Debian 12's python3, as in the base image


def requirements() -> list[str]:
    """What the image installs besides patchwarden: its dependencies, the ``postgres`` and
    ``fleet`` extras (the Containerfile installs ``[postgres,fleet]``: serve with PostgreSQL,
    worker) and the build backend."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    return [
        *data["build-system"]["requires"],
        *project["dependencies"],
        *project["optional-dependencies"]["postgres"],
        *project["optional-dependencies"]["fleet"],
    ]


def wheelhouse() -> Path:
    """A directory of wheels for :func:`requirements`, made with pip once per machine (the
    temp dir, keyed by the requirements, Python version and machine). Made by Debian's own
    Python, the one the base image has: environment markers such as redis's
    ``python_full_version < "3.11.3"`` must be read for that interpreter, not this venv's."""
    reqs = requirements()
    probe = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import sys, pip; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        unavailable(f"{DEBIAN_PYTHON} with pip (python3-pip) makes the image's wheels")
    ident = json.dumps([reqs, probe.stdout.strip(), platform.machine()])
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"patchwarden-wheelhouse-{key}"
    with open(f"{cache}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cache.is_dir():
            return cache
        partial = Path(f"{cache}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        proc = subprocess.run(
            [DEBIAN_PYTHON, "-m", "pip", "wheel", "-q", "--wheel-dir", str(partial), *reqs],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            unavailable(f"pip wheel failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        os.replace(partial, cache)
    return cache


def build_context(dest: Path) -> Path:
    """What .dockerignore lets through from a checkout, plus the wheelhouse as wheels/."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", ".dockerignore"):
        shutil.copy2(ROOT / name, dest / name)
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=junk)
    shutil.copytree(wheelhouse(), dest / "wheels")
    return dest


@dataclass(frozen=True)
class Built:
    env: dict[str, str]  # the session's own containers.conf, storage.conf, registries.conf
    work: Path
    seconds: dict[str, float]  # how long each step took (printed with -s)


def run(env: dict[str, str], *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def checked(env: dict[str, str], *argv: str, timeout: float = 600) -> str:
    proc = run(env, *argv, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv[:3])}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    for tool in ("buildah", "podman", "skopeo", "debootstrap", "runc"):
        require_tool(tool)
    why = podman_ready()
    if why:
        unavailable(why)
    work = tmp_path_factory.mktemp("image")
    env = {**os.environ, **session_config(work)}
    seconds: dict[str, float] = {}
    t = time.monotonic()
    base = rootfs_tar("bookworm", BASE_PACKAGES, slim=True)
    seconds["debootstrap (cached per machine)"] = time.monotonic() - t
    t = time.monotonic()
    context = build_context(work / "context")
    seconds["wheels and context (cached per machine)"] = time.monotonic() - t
    try:
        t = time.monotonic()
        checked(env, "podman", "import", "--change", 'CMD ["/bin/bash"]', str(base), BASE)
        seconds["import base"] = time.monotonic() - t
        t = time.monotonic()
        checked(
            env,
            "buildah", "bud", "--isolation", "oci", "--network", "none", "--pull=never",
            "--format", "docker",
            "--build-arg", f"BASE={BASE}",
            # --no-compile: no .pyc for ~100 packages, the slowest part of the build here
            "--build-arg", "PIP_INSTALL_ARGS=--no-index --find-links /src/wheels --no-compile",
            "-f", str(ROOT / "contrib" / "Containerfile"), "-t", IMAGE, str(context),
            timeout=1200,
        )  # fmt: skip
        seconds["buildah bud"] = time.monotonic() - t
        shutil.rmtree(context)
        yield Built(env, work, seconds)
    finally:
        run(env, "podman", "rm", "--all", "--force", timeout=120)
        run(env, "buildah", "rm", "--all", timeout=120)
        print("\ncontainer image test steps:", {k: round(v, 1) for k, v in seconds.items()})
        for d in ("graph", "run"):  # this session's image storage (vfs: full copies)
            shutil.rmtree(work / d, ignore_errors=True)


def test_skopeo_sees_the_labels_the_user_and_the_entry_point(built: Built) -> None:
    out = checked(built.env, "skopeo", "inspect", "--config", f"containers-storage:{IMAGE}")
    config = json.loads(out)["config"]
    assert config["User"] == "patchwarden"  # not root
    assert config["Entrypoint"] == ["patchwarden"]
    assert config["Cmd"] == ["serve", "/srv/deploy", "--listen", "0.0.0.0:8080"]
    assert config["WorkingDir"] == "/var/lib/patchwarden"
    assert config["StopSignal"] == "SIGTERM"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "/var/lib/patchwarden" in config["Volumes"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "patchwarden"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    # skopeo shows the config in OCI terms, which have no health check: Podman reads it
    podman = json.loads(checked(built.env, "podman", "image", "inspect", IMAGE))[0]
    health = podman.get("Healthcheck") or podman.get("HealthCheck") or {}
    assert "http://127.0.0.1:8080/healthz" in " ".join(health.get("Test", [])), podman
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["PATH"].startswith("/opt/patchwarden/bin:")
    assert env["PATCHWARDEN_STATE"] == "/var/lib/patchwarden/state.db"


def test_serve_answers_on_a_published_port_and_stops_cleanly(built: Built) -> None:
    """One container (Podman copies the whole image per container on vfs storage): the
    image's own entry point and command, then ``podman exec`` for the rest."""
    deploy = built.work / "deploy"
    deploy.mkdir()
    (deploy / "Dockerfile").write_text("FROM scratch\n")
    port, name = free_port(), f"pw-serve-{uuid.uuid4().hex[:8]}"
    # no command: the image's own `serve /srv/deploy --listen 0.0.0.0:8080`
    checked(
        built.env, "podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080",
        "-v", f"{deploy}:/srv/deploy:ro", "-e", f"PATCHWARDEN_API_TOKEN={ADMIN}", IMAGE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=3)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        logs = run(built.env, "podman", "logs", name).stderr
        assert ready is not None and ready.status_code == 200, logs[-3000:]
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert "patchwarden_" in httpx.get(f"{base}/metrics", timeout=5).text
        refs = httpx.get(
            f"{base}/api/v1/references", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5
        )
        assert refs.status_code == 200, refs.text
        assert httpx.get(f"{base}/api/v1/references", timeout=5).status_code == 401
        version = checked(built.env, "podman", "exec", name, "patchwarden", "--version")
        assert version.strip() == f"patchwarden {__version__}"
        # not root; the state store in the volume, written by that user; the build stage's
        # /src (sources and wheels) left behind; the postgres and fleet extras installed
        out = checked(
            built.env, "podman", "exec", name, "/bin/sh", "-c",
            "id -un; stat -c %U /var/lib/patchwarden/state.db; test -e /src && echo has-src; "
            "python3 -c 'import psycopg, celery, redis; print(\"extras\")'",
        )  # fmt: skip
        assert out.split() == ["patchwarden", "patchwarden", "extras"]
        checked(built.env, "podman", "stop", "--time", "30", name, timeout=60)
        state = checked(built.env, "podman", "inspect", "--format", "{{.State.ExitCode}}", name)
        assert state.strip() == "0", run(built.env, "podman", "logs", name).stderr[-3000:]
        lines = [ln for ln in run(built.env, "podman", "logs", name).stderr.splitlines() if ln]
        assert lines and all(ln.startswith("{") for ln in lines), lines[:5]  # JSON logs
    finally:
        run(built.env, "podman", "rm", "--force", name, timeout=60)
