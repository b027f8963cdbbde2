"""Shared parts of the rebuild tests: tools required (buildah, podman, skopeo, busybox), an
environment with its own containers storage, state store and advisory index, the CLI, and
small readers that ask skopeo (an independent client) what the registry holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools import skopeo
from patchwarden.devtools.skopeo import SkopeoError
from patchwarden.trust.signing import encrypt_cosign_key
from testkit.cli_process import import_advisories
from testkit.podman import find_busybox, podman_ready, session_config
from testkit.tools import image_config, require_tool, unavailable

OSV = Path(__file__).parents[1] / "fixtures" / "osv"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    for name in ("buildah", "podman", "skopeo"):
        require_tool(name)
    why = podman_ready() or (None if find_busybox() else "busybox-static is not installed")
    if why:
        unavailable(why)
    work = tmp_path_factory.mktemp("rebuild")
    db = import_advisories(OSV / "Debian", work / "adv.db")
    return {
        **os.environ,
        **session_config(work),
        "PATCHWARDEN_STATE": str(work / "state.db"),
        "PATCHWARDEN_ADVISORY_DB": str(db),
        "PATCHWARDEN_CONFIG": "",
        "CACHE": str(work / "cache"),
    }


def cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "patchwarden.cli.main",
        "rebuild",
        *args,
        "--cache-dir",
        env["CACHE"],
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd=cwd)


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def tags(host: str, repo: str) -> list[str]:
    try:
        return sorted(skopeo.list_tags(f"{host}/{repo}"))
    except SkopeoError as exc:
        assert "unknown" in str(exc).lower() or "not found" in str(exc).lower(), exc
        return []


def labels(ref: str) -> dict[str, str]:
    return dict(image_config(ref)["config"].get("Labels") or {})


def project(tmp: Path, base: str, dest: str, containerfile: str, build: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "Containerfile").write_text(containerfile.format(base=base))
    (tmp / "patchwarden.yaml").write_text(
        f"version: 1\nbuilds:\n  - name: app\n    destination: {dest}\n{build}"
    )
    return tmp


@pytest.fixture()
def ns() -> str:
    return f"rb{uuid.uuid4().hex[:8]}"


WEB = "FROM {base}\nRUN echo built-by-rebuild > /www/built\n"
WEB_TESTS = """    version: "1.0"
    tests:
      - run: ["/bin/busybox", "cat", "/www/built"]
        stdout_contains: built-by-rebuild
    files:
      - path: /www/version
        contains: v
    health: {port: 8080, path: /health, timeout: 30s}
    gates: {new_vulnerabilities: any}
"""


PASSWORD = "correct horse battery staple"  # of the test signing keys


def keypair(tmp: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "cosign.key").write_bytes(encrypt_cosign_key(key, PASSWORD.encode()))
    (tmp / "cosign.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return tmp / "cosign.key", tmp / "cosign.pub"
