"""`registry retain` on a real registry with deletes enabled, then the registry's own
`docker-registry garbage-collect`: deleted manifests are gone (their blobs too), every kept
and every protected version still pulls with skopeo."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.cosign import Signer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.sigstore_bundle import TestInstance, attach_bundle
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry import RegistryClient
from patchwarden.registry.model import MEDIA_OCI_MANIFEST
from patchwarden.registry.writer import RegistryWriter
from patchwarden.store import UpdateRecord, open_store
from patchwarden.trust.simple_signing import cosign_tag
from testkit.cli_process import cli

pytestmark = pytest.mark.integration


def test_retain_then_garbage_collect(tools: None, pusher: Pusher, tmp_path: Path) -> None:
    reg = RegistryServer("none", workdir=tmp_path / "registry").start()
    try:
        _scenario(reg, pusher, tmp_path)
    finally:
        reg.stop()


def _scenario(reg: RegistryServer, pusher: Pusher, tmp: Path) -> None:
    repo = f"team/app{uuid.uuid4().hex[:4]}"
    versions = ["0.1", "0.2", "1.0", "1.1", "1.2", "release-1", "2.0", "2.1"]
    d = {
        t: pusher.image(reg, repo, t, salt=t, created=f"2024-01-0{i + 1}T00:00:00Z")
        for i, t in enumerate(versions)
    }
    R = reg.host
    with RegistryClient() as c:
        Signer("ecdsa").sign_image(RegistryWriter(c), parse_reference(f"{R}/{repo}:0.1"), d["0.1"])
    deploy = tmp / "deploy"
    deploy.mkdir()
    (deploy / "compose.yaml").write_text(
        f"services:\n  a:\n    image: {R}/{repo}:1.0\n  b:\n    image: {R}/{repo}@{d['1.1']}\n"
    )
    state = tmp / "state.db"
    with open_store(str(state)) as store:
        now = datetime.now(UTC)
        store.record(
            UpdateRecord(
                None,
                now,
                now,
                "web",
                f"{R}/{repo}:1.2",
                d["1.2"],
                f"{R}/{repo}:2.1",
                d["2.1"],
                "updated",
                "test",
            )
        )
    args = [
        "registry",
        "retain",
        f"{R}/{repo}",
        "--keep-last",
        "2",
        "--keep-tags",
        "^release-",
        "--paths",
        str(deploy),
        "--state",
        str(state),
        "--keep-rollback",
        "2",
    ]
    dry = cli(*args, "--dry-run", "--format", "json", cwd=tmp)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["repositories"][0]
    assert plan["dry_run"] is True
    assert sorted(v["tags"][0] for v in plan["deleted"]) == ["0.1", "0.2"]
    assert skopeo.inspect_digest(f"{R}/{repo}:0.1") == d["0.1"]  # nothing deleted yet

    layer_of_01 = _layer(reg, repo, d["0.1"])
    done = cli(*args, "--format", "json", cwd=tmp)
    assert done.returncode == 0, done.stderr
    kept = {
        v["tags"][0]: " | ".join(v["kept_because"])
        for v in json.loads(done.stdout)["repositories"][0]["kept"]
    }
    assert "deployed: compose.yaml:3" in kept["1.0"]
    assert "deployed: compose.yaml:5" in kept["1.1"]
    assert "rollback version #2 of container web (state store)" in kept["1.2"]
    assert "rollback version #1 of container web" in kept["2.1"]
    assert "matches --keep-tags ^release-" in kept["release-1"]
    assert "one of the last 2 versions (#2)" in kept["2.0"]
    assert sorted(skopeo.list_tags(f"{R}/{repo}")) == sorted(set(versions) - {"0.1", "0.2"})
    table = cli(*args, "--dry-run", cwd=tmp)
    assert "would delete 0" in table.stdout

    reg.stop()
    gc = subprocess.run(
        [
            shutil.which("docker-registry") or "docker-registry",
            "garbage-collect",
            str(reg.dir / "config.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gc.returncode == 0, gc.stderr
    reg.start()
    R = reg.host
    blob = reg.dir / "storage/docker/registry/v2/blobs/sha256" / layer_of_01[7:9] / layer_of_01[7:]
    assert not blob.exists(), "garbage collection removed the deleted version's layer"
    for t in ("0.1", "0.2"):
        with pytest.raises(skopeo.SkopeoError):
            skopeo.inspect_digest(f"{R}/{repo}@{d[t]}")
    with pytest.raises(skopeo.SkopeoError):
        skopeo.inspect_digest(f"{R}/{repo}:{cosign_tag(d['0.1'])}")
    for t in set(versions) - {"0.1", "0.2"}:
        out = tmp / f"pull-{t}"
        skopeo._run(["copy", "--src-tls-verify=false", f"docker://{R}/{repo}:{t}", f"oci:{out}:x"])
        assert (out / "index.json").is_file()


def _layer(reg: RegistryServer, repo: str, digest: str) -> str:
    raw = skopeo.inspect_raw(f"{reg.host}/{repo}@{digest}")
    return str(json.loads(raw)["layers"][0]["digest"])


def test_retention_rules_from_config(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    """`retention:` in patchwarden.yaml: keep_last, keep_days, keep_tags and paths per
    repository pattern; the dry run says why each version would go or stays; the real run
    deletes exactly that; a repository no rule matches (and no --keep-last) is a usage error."""
    R = plain_registry.host
    repo = f"ret/app{uuid.uuid4().hex[:4]}"
    tags = ["1.0", "1.1", "1.2", "lts-1", "2.0"]
    d = {
        t: pusher.image(
            plain_registry, repo, t, salt=f"{repo}{t}", created=f"2024-02-0{i + 1}T00:00:00Z"
        )
        for i, t in enumerate(tags)
    }
    with RegistryClient() as c:  # a keyless signature (an OCI referrer) on a version that goes
        attach_bundle(
            RegistryWriter(c),
            parse_reference(f"{R}/{repo}:1.0"),
            d["1.0"],
            MEDIA_OCI_MANIFEST,
            TestInstance().sign_digest(d["1.0"], subject="a@example.org", issuer="https://i"),
        )
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "compose.yaml").write_text(
        f"services:\n  a:\n    image: {R}/{repo}:1.1\n"
    )
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  {R}:\n    insecure: true\n"
        "retention:\n"
        f"  - match: '{R}/ret/*'\n"
        "    keep_last: 1\n"
        "    keep_days: 3650\n"  # everything is younger than ten years: kept
        "  - match: 'nomatch/*'\n    keep_last: 0\n"
    )
    state = ["--state", str(tmp_path / "state.db")]
    young = cli(
        "registry", "retain", f"{R}/{repo}", *state, "--dry-run", "--format", "json", cwd=tmp_path
    )
    assert young.returncode == 0, young.stderr
    assert json.loads(young.stdout)["repositories"][0]["deleted"] == []

    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  {R}:\n    insecure: true\n"
        "retention:\n"
        f"  - match: '{R}/ret/*'\n"
        "    keep_last: 1\n"
        "    keep_days: 1\n"
        "    keep_tags: ['^lts-']\n"
        "    paths: [deploy]\n"
    )
    dry = cli(
        "registry", "retain", f"{R}/{repo}", *state, "--dry-run", "--format", "json", cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["repositories"][0]
    assert f"sha256-{d['1.0'][7:]}" in skopeo.list_tags(f"{R}/{repo}")
    gone = {v["tags"][0]: " | ".join(v["deleted_because"]) for v in plan["deleted"]}
    kept = {v["tags"][0]: " | ".join(v["kept_because"]) for v in plan["kept"]}
    assert sorted(gone) == ["1.0", "1.2"]
    rule = f"retention[0] (match: {R}/ret/*)"
    assert f"beyond keep_last of {rule} 1" in gone["1.0"]
    assert "over 1 days ago" in gone["1.0"] and "no tag matches keep_tags" in gone["1.0"]
    assert "not deployed" in gone["1.2"]
    assert f"one of the last 1 versions (#1; {rule})" in kept["2.0"]
    assert f"matches keep_tags of {rule}" in kept["lts-1"]
    assert "deployed: compose.yaml:3" in kept["1.1"]
    table = cli("registry", "retain", f"{R}/{repo}", *state, "--dry-run", cwd=tmp_path)
    assert "would delete" in table.stdout and "beyond keep_last" in table.stdout
    assert skopeo.inspect_digest(f"{R}/{repo}:1.0") == d["1.0"]  # a dry run deletes nothing

    done = cli("registry", "retain", f"{R}/{repo}", *state, "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the referrers tag-schema index went with its version
    assert sorted(skopeo.list_tags(f"{R}/{repo}")) == ["1.1", "2.0", "lts-1"]

    none = cli("registry", "retain", f"{R}/other/app", *state, "--dry-run", cwd=tmp_path)
    assert none.returncode == 2 and "no retention rule for" in none.stderr
