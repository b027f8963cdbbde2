"""`rebuild` end to end: buildah builds real images from Containerfiles on a base image that
the test pushes to a real loopback registry (and later re-pushes with a change, so "base
moved" is real); tests run in Podman containers; skopeo (an independent client) reads back
tags and labels; records land in a real SQLite state store.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.devtools import skopeo
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.store import open_store
from testkit.podman import push_web_image
from testkit.rebuild_setup import WEB, WEB_TESTS, as_json, cli, env, labels, ns, project, tags

pytestmark = pytest.mark.integration
__all__ = ["env", "ns"]  # fixtures
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'


def _status(curl: str) -> bytes:
    return f"Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {curl}\n".encode()


def test_due_build_push_record_then_base_moves(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    base1 = push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    proj = project(tmp_path / "p", f"{host}/{ns}/base:1", dest, WEB, WEB_TESTS)

    first = as_json(cli(env, str(proj), "--check", "--format", "json"))["builds"][0]
    assert first["due"] is True
    assert [r["kind"] for r in first["reasons"]] == ["never-built"]

    run = cli(env, str(proj), "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    built = as_json(run)["builds"][0]
    assert built["outcome"] == "pushed", built
    steps = {s["name"]: s["ok"] for s in built["steps"]}
    assert steps == {
        "resolve base": True,
        "build": True,
        "test: /bin/busybox cat /www/built": True,
        "file: /www/version": True,
        "health": True,
        "scan": True,
        "push": True,
    }
    today = time.strftime("%Y%m%d", time.gmtime())
    assert tags(host, f"{ns}/app") == sorted([f"1.0-{today}.1", "latest"])
    # skopeo, not patchwarden, reads what was pushed: both tags, one digest, base labels
    assert skopeo.inspect_digest(f"{dest}:latest") == built["digest"]
    assert skopeo.inspect_digest(f"{dest}:1.0-{today}.1") == built["digest"]
    lab = labels(f"{dest}:latest")
    assert lab["org.opencontainers.image.base.name"] == f"{host}/{ns}/base:1"
    assert lab["org.opencontainers.image.base.digest"] == base1
    assert "org.opencontainers.image.created" in lab

    with open_store(env["PATCHWARDEN_STATE"]) as store:
        rec = store.last_pushed_build("app", dest)
    assert rec is not None and rec.image_digest == built["digest"] and rec.base_digest == base1
    assert rec.due_reasons == ["never-built"] and len(rec.steps) == 7

    again = as_json(cli(env, str(proj), "--check", "--format", "json"))
    assert again["builds"][0]["due"] is False, again
    assert again["requests"]["manifest_get"] == 0 and again["requests"]["blob"] == 0

    base2 = push_web_image(tmp_path / "l2", host, f"{ns}/base", "1", version="v2")
    assert base2 != base1
    moved = as_json(cli(env, str(proj), "--check", "--format", "json"))
    decision = moved["builds"][0]
    assert decision["due"] is True
    assert [r["kind"] for r in decision["reasons"]] == ["base-moved"]
    assert decision["base_digest_built"] == base1 and decision["base_digest_now"] == base2
    assert moved["requests"]["manifest_get"] == 0 and moved["requests"]["blob"] == 0
    assert moved["requests"]["manifest_head"] == 2

    second = as_json(cli(env, str(proj), "--format", "json"))["builds"][0]
    assert second["outcome"] == "pushed", second
    assert second["tags"] == [f"1.0-{today}.2", "latest"]
    assert labels(f"{dest}:latest")["org.opencontainers.image.base.digest"] == base2
    # the first immutable tag still serves the first build
    assert skopeo.inspect_digest(f"{dest}:1.0-{today}.1") == built["digest"]


def test_check_reads_base_labels_of_an_image_built_elsewhere(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    """No record in this state store: the last image's own labels say what it was built on."""
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    proj = project(
        tmp_path / "p", f"{host}/{ns}/base:1", dest, WEB, "    gates: {new_vulnerabilities: off}\n"
    )
    assert cli(env, str(proj)).returncode == 0
    other = {**env, "PATCHWARDEN_STATE": str(tmp_path / "other.db")}
    fresh = as_json(cli(other, str(proj), "--check", "--format", "json"))
    assert fresh["builds"][0]["due"] is False, fresh
    push_web_image(tmp_path / "l2", host, f"{ns}/base", "1", version="v2")
    push_web_image(tmp_path / "l3", host, f"{ns}/base", "2", version="v3")
    moved = as_json(cli(other, str(proj), "--check", "--format", "json", "--no-cache"))
    reasons = {r["kind"]: r["detail"] for r in moved["builds"][0]["reasons"]}
    assert set(reasons) == {"base-moved", "newer-base-tag"}, reasons
    assert f"{ns}/base:2 (major) is allowed by policy" in reasons["newer-base-tag"]


def test_failing_test_stops_before_the_registry(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    failing = (
        "    tests:\n"
        "      - name: smoke\n"
        '        run: ["/bin/sh", "-c", "echo smoke-output-here; exit 3"]\n'
    )
    proj = project(tmp_path / "p", f"{host}/{ns}/base:1", f"{host}/{ns}/app", WEB, failing)
    run = cli(env, str(proj), "--format", "json")
    assert run.returncode == 1, run.stdout + run.stderr
    result = as_json(run)["builds"][0]
    assert result["outcome"] == "stopped"
    assert "test: smoke failed: exited 3, expected 0" in result["reason"]
    failed = [s for s in result["steps"] if not s["ok"]]
    assert len(failed) == 1 and "smoke-output-here" in failed[0]["output"]
    assert tags(host, f"{ns}/app") == []
    with open_store(env["PATCHWARDEN_STATE"]) as store:
        assert store.builds("app", destination=f"{host}/{ns}/app", outcome="stopped")


def test_scan_gate_stops_a_build_that_adds_vulnerabilities(
    env: dict[str, str], plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    clean = {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": _status("7.74.0-1.3+deb11u7")}
    pusher.image(plain_registry, f"{ns}/debian", "11", files=clean)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "status").write_bytes(_status("7.74.0-1.3+deb11u3"))
    proj = project(
        tmp_path / "p",
        f"{host}/{ns}/debian:11",
        f"{host}/{ns}/app",
        "FROM {base}\nCOPY status /var/lib/dpkg/status\n",
        "    gates: {new_vulnerabilities: any}\n",
    )
    run = cli(env, str(proj), "--format", "json")
    assert run.returncode == 1, run.stdout + run.stderr
    result = as_json(run)["builds"][0]
    assert result["outcome"] == "stopped"
    assert result["reason"].startswith(
        "scan gate: new vulnerabilities compared with the base image"
    )
    assert "CVE-2023-23916" in result["reason"]
    assert "CVE-2023-23916 (curl)" in result["introduced"]
    assert tags(host, f"{ns}/app") == []
    # the findings are of unknown severity: a `critical` gate lets the build through, and the
    # distro-fixable findings it records make the next check due
    cfg = proj / "patchwarden.yaml"
    cfg.write_text(
        cfg.read_text().replace("new_vulnerabilities: any", "new_vulnerabilities: critical")
    )
    pushed = as_json(cli(env, str(proj), "--format", "json"))["builds"][0]
    assert pushed["outcome"] == "pushed", pushed
    checked = as_json(cli(env, str(proj), "--check", "--format", "json"))["builds"][0]
    assert [r["kind"] for r in checked["reasons"]] == ["fixable-packages"], checked
    assert "found 2 vulnerabilities with a fixed package version" in checked["reasons"][0]["detail"]


def test_killed_build_leaves_no_tag(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    slow = "FROM {base}\nRUN /bin/busybox sleep 60\n"
    proj = project(
        tmp_path / "p",
        f"{host}/{ns}/base:1",
        f"{host}/{ns}/app",
        slow,
        "    gates: {new_vulnerabilities: off}\n",
    )
    argv = [
        sys.executable,
        "-m",
        "patchwarden.cli.main",
        "rebuild",
        str(proj),
        "--cache-dir",
        env["CACHE"],
    ]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not _buildah_running(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    time.sleep(1)
    assert not _buildah_running(proc.pid), "the build tool outlived patchwarden"
    assert tags(host, f"{ns}/app") == []


def _buildah_running(parent: int) -> bool:
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
            stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"buildah") and int(stat[1]) == parent:
            return True
    return False


def test_to_without_config_and_bad_destination(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    d = tmp_path / "plain"
    d.mkdir()
    (d / "Dockerfile").write_text(f"FROM {host}/{ns}/base:1\n")
    bad = cli(env, str(d), "--to", f"{host}/{ns}/app:1.0")
    assert bad.returncode == 2 and "without tag or digest" in bad.stderr
    checked = as_json(cli(env, str(d), "--to", f"{host}/{ns}/app", "--check", "--format", "json"))
    assert checked["builds"][0]["due"] is True
    run = cli(env, str(d), "--to", f"{host}/{ns}/app", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "latest" in tags(host, f"{ns}/app")


@pytest.fixture(autouse=True)
def _no_leftover_images(env: dict[str, str]) -> Iterator[None]:
    yield
    out = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "patchwarden-rebuild" not in out.stdout, "a built image was left in the local store"
