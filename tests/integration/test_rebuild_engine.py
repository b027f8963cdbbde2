"""`rebuild --engine URL`: the build goes through the Docker Engine API's `POST /build`, here
Podman's real compatible service (tests/integration/podman.py), tests and the health probe
run in containers of that engine, and the result carries the same base labels (image config)
and OCI annotations (manifest) as a buildah build; skopeo reads both back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from testkit.podman import engine_url, push_web_image
from testkit.rebuild_setup import WEB, WEB_TESTS, as_json, cli, env, labels, ns, project, tags

pytestmark = pytest.mark.integration
__all__ = ["engine_url", "env", "ns"]  # fixtures


def test_engine_build_tests_and_pushes_with_labels_and_annotations(
    env: dict[str, str], engine_url: str, plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    base = push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    proj = project(tmp_path / "p", f"{host}/{ns}/base:1", dest, WEB, WEB_TESTS)
    run = cli(env, str(proj), "--engine", engine_url, "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    built = as_json(run)["builds"][0]
    assert built["outcome"] == "pushed", built
    assert {s["name"]: s["ok"] for s in built["steps"]} == {
        "resolve base": True,
        "build": True,
        "test: /bin/busybox cat /www/built": True,
        "file: /www/version": True,
        "health": True,
        "scan": True,
        "push": True,
    }
    assert "latest" in tags(host, f"{ns}/app")
    lab = labels(f"{dest}:latest")
    assert lab["org.opencontainers.image.base.name"] == f"{host}/{ns}/base:1"
    assert lab["org.opencontainers.image.base.digest"] == base
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}:latest"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    manifest = json.loads(raw)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.base.name"] == f"{host}/{ns}/base:1"
    assert notes["org.opencontainers.image.base.digest"] == base
    assert "org.opencontainers.image.created" in notes
    assert all(layer["mediaType"].endswith("+gzip") for layer in manifest["layers"])


def test_engine_build_failure_is_reported_and_pushes_nothing(
    env: dict[str, str], engine_url: str, plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    broken = "FROM {base}\nRUN /bin/busybox sh -c 'echo broken-step-output; exit 7'\n"
    proj = project(
        tmp_path / "p", f"{host}/{ns}/base:1", f"{host}/{ns}/app", broken,
        "    gates: {new_vulnerabilities: off}\n",
    )  # fmt: skip
    run = cli(env, str(proj), "--engine", engine_url, "--format", "json")
    assert run.returncode == 3, run.stdout + run.stderr
    result = as_json(run)["builds"][0]
    assert result["outcome"] == "failed"
    assert "docker build of" in result["reason"] and "broken-step-output" in result["reason"]
    assert tags(host, f"{ns}/app") == []
