"""`patchwarden check` and `inventory` end to end: the real CLI process, real registries
(CNCF distribution on loopback), images pushed with skopeo, real files on disk."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from testkit.cli_process import cli

pytestmark = pytest.mark.integration


def check_json(
    repo: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    proc = cli(
        "check",
        ".",
        "--format",
        "json",
        "--cache-dir",
        str(repo / ".cache"),
        *extra,
        cwd=repo,
        env=env,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def by_line(data: dict[str, Any], file: str) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in data["results"] if r["file"] == file}


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture()
def ns() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def test_every_file_kind_checked_against_real_registry(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    digests = {
        t: pusher.image(plain_registry, f"{ns}/node", t)
        for t in ("18-alpine", "20-alpine", "20.1.0-alpine", "20-bookworm", "22-rc-alpine")
    }
    for t in ("7.2.3", "7.2.4", "7.4.0", "8.0.0"):
        digests[f"redis:{t}"] = pusher.image(plain_registry, f"{ns}/redis", t)
    for t in ("1.36.0", "1.36.1"):
        digests[f"busybox:{t}"] = pusher.image(plain_registry, f"{ns}/busybox", t)
    (tmp_path / "Dockerfile").write_text(
        f"ARG V=18\nFROM {R}/{ns}/node:${{V}}-alpine AS build\nFROM build\nFROM scratch\n"
    )
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  cache:\n    image: {R}/{ns}/redis:7.2.3\n"
    )
    (tmp_path / "k8s.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        f"    - name: a\n      image: {R}/{ns}/node:20-alpine\n"
        f"    - name: b\n      image: {R}/{ns}/ghost:1.0\n"
    )
    (tmp_path / "values.yaml").write_text(
        f"image:\n  registry: {R}\n  repository: {ns}/redis\n  tag: 7.2.3\n"
    )
    (tmp_path / "kustomization.yaml").write_text(
        f"images:\n  - name: {R}/{ns}/busybox\n    newTag: 1.36.0\n"
    )
    (tmp_path / "patchwarden.yaml").write_text(
        f"images:\n  - match: '*/{ns}/redis'\n    level: patch\n"
    )
    code, data, stderr = check_json(tmp_path)
    assert code == 3, stderr  # the ghost repository is an error; everything else is reported
    docker = by_line(data, "Dockerfile")[2]
    assert docker["image"] == f"{R}/{ns}/node:${{V}}-alpine"
    assert (docker["status"], docker["update"]) == ("outdated", "major")
    assert docker["candidate"] == {"tag": "20-alpine", "digest": digests["20-alpine"]}
    assert "20.1.0-alpine" in docker["reason"] and "20-bookworm" in docker["reason"]
    pod = by_line(data, "k8s.yaml")
    assert pod[7]["status"] == "up-to-date" and pod[7]["current"]["digest"] == digests["20-alpine"]
    assert pod[9]["status"] == "error" and "not found" in pod[9]["reason"]
    compose = by_line(data, "compose.yaml")[3]
    assert compose["candidate"] == {"tag": "7.2.4", "digest": digests["redis:7.2.4"]}
    assert compose["update"] == "patch" and "images[0]" in compose["reason"]
    helm = by_line(data, "values.yaml")[3]
    assert (helm["kind"], helm["candidate"]["tag"]) == ("helm", "7.2.4")
    kust = by_line(data, "kustomization.yaml")[3]  # the newTag line: what an update edits
    assert (kust["kind"], kust["candidate"]["tag"], kust["update"]) == (
        "kustomize",
        "1.36.1",
        "patch",
    )
    assert data["summary"] == {
        "up-to-date": 1,
        "outdated": 4,
        "error": 1,
        "skipped": 0,
        "blocked": 0,
    }
    # one tag listing per repository, even with two references to redis
    assert data["requests"]["tags"] == 4


def test_fail_on_and_exit_codes(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    for t in ("1.0.0", "1.0.1", "1.1.0"):
        pusher.image(plain_registry, f"{ns}/app", t)
    (tmp_path / "Dockerfile").write_text(f"FROM {R}/{ns}/app:1.0.0\n")
    cache = ["--cache-dir", str(tmp_path / ".cache")]
    assert cli("check", ".", *cache, cwd=tmp_path).returncode == 0
    assert cli("check", ".", *cache, "--fail-on", "minor", cwd=tmp_path).returncode == 1
    assert cli("check", ".", *cache, "--fail-on", "major", cwd=tmp_path).returncode == 0
    # --exit-code N: the code for findings at the threshold (Trivy's convention)
    assert (
        cli("check", ".", *cache, "--fail-on", "minor", "--exit-code", "9", cwd=tmp_path).returncode
        == 9
    )
    assert (
        cli("check", ".", *cache, "--fail-on", "minor", "--exit-code", "0", cwd=tmp_path).returncode
        == 0
    )
    env = {"PATCHWARDEN_EXIT_CODE": "7", "PATCHWARDEN_FAIL_ON": "minor"}
    assert cli("check", ".", *cache, cwd=tmp_path, env=env).returncode == 7
    assert (
        cli("check", ".", *cache, "--fail-on", "major", "--exit-code", "9", cwd=tmp_path).returncode
        == 0
    )
    table = cli("check", ".", *cache, cwd=tmp_path).stdout
    assert "1.1.0" in table and "minor" in table and "1 outdated" in table


def test_floating_tag_and_pinned_digest_drift_survive_the_cache(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    old = pusher.image(plain_registry, f"{ns}/web", "stable", salt="one")
    pusher.image(plain_registry, f"{ns}/web", "1.25.3", salt="a")
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  a:\n    image: {R}/{ns}/web:stable\n  b:\n    image: {R}/{ns}/web:1.25.3@{old}\n"
    )
    state = {"PATCHWARDEN_STATE": str(tmp_path / "state.db")}
    _, first, _ = check_json(tmp_path, env=state)
    rows = by_line(first, "compose.yaml")
    assert rows[3]["status"] == "up-to-date" and rows[3]["current"]["digest"] == old
    assert rows[5]["status"] == "outdated" and rows[5]["update"] == "digest"  # pin points elsewhere
    new = pusher.image(plain_registry, f"{ns}/web", "stable", salt="two")
    _, second, _ = check_json(tmp_path, env=state)
    r = by_line(second, "compose.yaml")[3]
    assert (r["status"], r["update"]) == ("outdated", "digest")
    assert r["current"]["digest"] == old and r["candidate"]["digest"] == new
    assert "moved upstream" in r["reason"] and "unchanged" not in r["reason"]
    assert second["requests"]["tags"] == 0  # warm: the tag list came from the cache
    assert second["requests"]["manifest_head"] == 2
    # Reported again, with no cache at all (a CI job's fresh cache directory): drift is state.
    _, third, _ = check_json(tmp_path, "--no-cache", env=state)
    r = by_line(third, "compose.yaml")[3]
    assert (r["status"], r["current"]["digest"], r["candidate"]["digest"]) == (
        "outdated",
        old,
        new,
    )


def test_pagination_through_proxy_and_429(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    for t in ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.10"):
        pusher.image(plain_registry, f"{ns}/paged", t)
    with RegistryProxy(R, tags_page_size=2) as proxy:
        proxy.throttle(r"/tags/list", 1, retry_after="1")
        (tmp_path / "Dockerfile").write_text(f"FROM {proxy.host}/{ns}/paged:1.0.0\n")
        code, data, stderr = check_json(tmp_path, "--no-cache")
        assert code == 0, stderr
        r = data["results"][0]
        assert r["candidate"]["tag"] == "1.0.10"  # on the last of three pages; 1.0.10 > 1.0.3
        # every HTTP request is counted: 3 pages + the one answered 429, retried once
        assert data["requests"]["tags"] == 4 and data["requests"]["retries"] == 1
        assert proxy.count("GET", "tags") == 4  # 1 throttled + 3 pages


def test_min_age_reads_created_of_the_platform(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    pusher.index(plain_registry, f"{ns}/multi", "2.0.0", created=ago(60))
    pusher.index(plain_registry, f"{ns}/multi", "2.1.0", created=ago(30))
    pusher.index(plain_registry, f"{ns}/multi", "2.2.0", created=ago(1))
    (tmp_path / "Dockerfile").write_text(f"FROM --platform=linux/arm64 {R}/{ns}/multi:2.0.0\n")
    (tmp_path / "patchwarden.yaml").write_text(
        "defaults:\n  min_age: 7d\n  platform: linux/arm64\n"
    )
    code, data, stderr = check_json(tmp_path)
    assert code == 0, stderr
    r = data["results"][0]
    assert (r["candidate"]["tag"], r["update"]) == ("2.1.0", "minor")
    assert "2.2.0" in r["reason"] and "min-age" in r["reason"]


def test_htpasswd_credentials_from_config_and_wrong_password(
    htpasswd_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = htpasswd_registry.host
    for t in ("1.0", "1.1"):
        pusher.image(htpasswd_registry, f"{ns}/private", t)
    (tmp_path / "Dockerfile").write_text(f"FROM {R}/{ns}/private:1.0\n")
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  '{R}':\n    username: {htpasswd_registry.username}\n    password_env: PW_TEST\n"
    )
    code, data, stderr = check_json(tmp_path, env={"PW_TEST": htpasswd_registry.password})
    assert code == 0, stderr
    assert data["results"][0]["candidate"]["tag"] == "1.1"
    wrong = "Not-The-Password-9"
    code, data, stderr = check_json(tmp_path, "--no-cache", env={"PW_TEST": wrong})
    assert code == 3
    r = data["results"][0]
    assert r["status"] == "error" and "rejected" in r["reason"]
    assert wrong not in json.dumps(data) + stderr
    missing = cli("check", ".", cwd=tmp_path)
    assert missing.returncode == 2 and "PW_TEST" in missing.stderr


def test_password_env_of_an_unused_registry_is_not_needed(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    """The documented example configures several registries; a run that uses only one of
    them must not demand the others' secrets."""
    R = plain_registry.host
    for t in ("1.0", "1.1"):
        pusher.image(plain_registry, f"{ns}/public", t)
    (tmp_path / "Dockerfile").write_text(f"FROM {R}/{ns}/public:1.0\n")
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  '{R}':\n    insecure: true\n"
        "  ghcr.io:\n    username: bot\n    password_env: PW_NOT_SET_ANYWHERE\n"
    )
    assert "PW_NOT_SET_ANYWHERE" not in os.environ
    code, data, stderr = check_json(tmp_path)
    assert code == 0, stderr
    assert data["results"][0]["candidate"]["tag"] == "1.1"


def test_token_auth_with_docker_config_json(
    token_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = token_registry.host
    for t in ("3.0.0", "3.0.1"):
        pusher.image(token_registry, f"{ns}/tok", t)
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    auth = base64.b64encode(
        f"{token_registry.username}:{token_registry.password}".encode()
    ).decode()
    (docker_dir / "config.json").write_text(json.dumps({"auths": {R: {"auth": auth}}}))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(f"FROM {R}/{ns}/tok:3.0.0\n")
    code, data, stderr = check_json(repo, "--no-cache", env={"DOCKER_CONFIG": str(docker_dir)})
    assert code == 0, stderr
    assert data["results"][0]["candidate"]["tag"] == "3.0.1"
    assert data["requests"]["token"] >= 1


def test_bad_config_is_exit_2_with_key_path(tmp_path: Path) -> None:
    (tmp_path / "patchwarden.yaml").write_text("defaults:\n  levle: minor\n")
    proc = cli("check", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert "patchwarden.yaml:2: defaults.levle: unknown key 'levle'" in proc.stderr
    assert cli("check", "does-not-exist", cwd=tmp_path).returncode == 2
    assert cli("check", "--format", "xml", cwd=tmp_path).returncode == 2


def test_inventory_json_contract(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM nginx:1.25\nFROM ghcr.io/acme/app@sha256:" + "a" * 64 + "\n"
    )
    (tmp_path / "values.yaml").write_text("image:\n  repository: x/y\n  tag: '{{ .Values.tag }}'\n")
    proc = cli("inventory", ".", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    first = data["references"][0]
    assert {
        k: first[k]
        for k in ("file", "line", "kind", "image", "registry", "repository", "tag", "digest")
    } == {
        "file": "Dockerfile",
        "line": 1,
        "kind": "dockerfile",
        "image": "nginx:1.25",
        "registry": "docker.io",
        "repository": "library/nginx",
        "tag": "1.25",
        "digest": None,
    }
    assert data["references"][1]["digest"] == "sha256:" + "a" * 64
    (skipped,) = data["skipped"]
    assert skipped["file"] == "values.yaml" and "templated" in skipped["reason"]


def test_explicit_platform_rejects_candidates_without_it(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path, ns: str
) -> None:
    R = plain_registry.host
    pusher.index(plain_registry, f"{ns}/plat", "2.0.0")
    pusher.index(plain_registry, f"{ns}/plat", "2.1.0")
    pusher.index(plain_registry, f"{ns}/plat", "2.2.0", platforms=("linux/amd64",))
    pusher.image(plain_registry, f"{ns}/plat", "2.3.0", platform="linux/amd64")
    (tmp_path / "Dockerfile").write_text(
        f"FROM --platform=linux/arm64 {R}/{ns}/plat:2.0.0 AS arm\nFROM {R}/{ns}/plat:2.0.0\n"
    )
    _, data, stderr = check_json(tmp_path)
    rows = by_line(data, "Dockerfile")
    assert rows[1]["candidate"]["tag"] == "2.1.0", stderr
    assert "not available for linux/arm64" in rows[1]["reason"]
    assert "2.3.0" in rows[1]["reason"] and "2.2.0" in rows[1]["reason"]
    assert rows[2]["candidate"]["tag"] == "2.3.0"  # no platform asked for: not enforced
