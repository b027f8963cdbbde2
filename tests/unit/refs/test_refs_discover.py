from __future__ import annotations

import re
from pathlib import Path

import pytest

from patchwarden.errors import UsageError
from patchwarden.refs import registry
from patchwarden.refs.ci import GitHubActionsSource, GitLabCISource
from patchwarden.refs.compose import ComposeSource
from patchwarden.refs.devcontainer import DevcontainerSource
from patchwarden.refs.discover import MAX_FILE_SIZE, discover
from patchwarden.refs.dockerfile import DockerfileSource
from patchwarden.refs.helm import HelmSource
from patchwarden.refs.helm_templates import HelmTemplateSource
from patchwarden.refs.kubernetes import KubernetesSource
from patchwarden.refs.kustomize import KustomizeSource
from patchwarden.refs.model import Inventory, Reference, RefKind, Skipped

DA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
DB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
DC = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

D, C, K, H, Z = (
    RefKind.DOCKERFILE,
    RefKind.COMPOSE,
    RefKind.KUBERNETES,
    RefKind.HELM,
    RefKind.KUSTOMIZE,
)

EXPECTED_REFERENCES = [
    ("build/Dockerfile", 1, 6, D, "docker.io/library/golang:1.23-bookworm"),
    ("charts/shop/values-prod.yaml", 3, 15, H, "docker.io/bitnami/redis:7.2.4-debian-12-r0"),
    ("charts/shop/values.yaml", 5, 15, H, "docker.io/bitnami/redis:7.2.3"),
    ("charts/shop/values.yaml", 13, 17, H, "quay.io/oliver006/redis_exporter:1.20"),
    ("charts/shop/values.yaml", 17, 12, H, "docker.io/fluent/fluent-bit:3.1"),
    ("charts/shop/values.yaml", 24, 17, H, f"ghcr.io/acme/backup:2.1@sha256:{DC}"),
    ("deploy/k8s/workloads.yaml", 10, 18, K, "ghcr.io/acme/migrate:2.0.1"),
    ("deploy/k8s/workloads.yaml", 13, 18, K, f"ghcr.io/acme/web@sha256:{DA}"),
    ("deploy/k8s/workloads.yaml", 15, 18, K, "docker.io/envoyproxy/envoy:v1.31.0"),
    ("deploy/k8s/workloads.yaml", 36, 22, K, "quay.io/acme/report:2024.10"),
    ("deploy/k8s/workloads.yaml", 48, 18, K, "docker.io/library/alpine:latest"),
    ("deploy/k8s/workloads.yaml", 51, 18, K, "docker.io/library/busybox:1.36"),
    ("deploy/k8s/workloads.yaml", 61, 22, K, f"docker.io/library/postgres:16.4@sha256:{DB}"),
    ("deploy/overlays/prod/kustomization.yaml", 7, 13, Z, "ghcr.io/acme/web:2.3.0"),
    (
        "deploy/overlays/prod/kustomization.yaml",
        9,
        14,
        Z,
        "registry.example.com/mirror/postgres:16.4",
    ),
    (
        "deploy/overlays/prod/kustomization.yaml",
        13,
        13,
        Z,
        f"docker.io/library/busybox@sha256:{DC}",
    ),
    ("docker-compose.override.yml", 3, 12, C, "registry.example.com/shop/app:dev"),
    ("docker-compose.override.yml", 5, 12, C, "docker.io/library/busybox:1.36.1"),
    ("docker-compose.yml", 2, 10, C, "registry.example.com/shop/app:1.4.2"),
    ("docker-compose.yml", 13, 12, C, "docker.io/library/postgres:16.4"),
    ("docker-compose.yml", 17, 12, C, "docker.io/library/nginx:1.27.2-alpine"),
    ("services/api/Dockerfile", 1, 10, D, "docker.io/docker/dockerfile:1.7"),
    ("services/api/Dockerfile", 9, 32, D, "docker.io/library/node:18-alpine"),
    ("services/api/Dockerfile", 19, 6, D, "registry.example.com:5000/base/python:3.12-slim"),
    ("services/api/Dockerfile", 21, 25, D, "ghcr.io/astral-sh/uv:0.4.18"),
    ("services/api/Dockerfile", 23, 28, D, "docker.io/library/busybox:1.36"),
    ("services/api/Dockerfile", 32, 6, D, "docker.io/library/alpine:3.20"),
    ("services/web/web.Dockerfile", 3, 6, D, "mcr.microsoft.com/windows/servercore:ltsc2022"),
]

EXPECTED_SKIPPED = [
    (
        "broken/compose.yaml",
        4,
        C,
        "malformed YAML at line 4: did not find expected key",
    ),
    (
        "charts/shop/templates/deployment.yaml",
        10,
        H,
        "Helm chart template: the image is rendered from the chart's values (see values*.yaml)",
    ),
    ("charts/shop/values.yaml", 20, H, "tag is empty (the chart falls back to .Chart.AppVersion)"),
    ("charts/shop/values.yaml", 28, H, "templated value ({{ ... }}) cannot be resolved statically"),
    (
        "docker-compose.yml",
        15,
        C,
        "variable REDIS_TAG is unset; compose interpolates it from the environment or .env",
    ),
    (
        "services/api/Dockerfile",
        28,
        D,
        "variable DISTRO has no default (set by --build-arg at build time)",
    ),
    (
        "tools/ci.dockerfile",
        1,
        D,
        "repository name must be lowercase in 'Ubuntu:22.04' (did you mean 'ubuntu:22.04'?)",
    ),
]


def ref_rows(inv: Inventory) -> list[tuple[object, ...]]:
    return [(r.file, r.line, r.column, r.kind, str(r.ref)) for r in inv.references]


def skip_rows(inv: Inventory) -> list[tuple[object, ...]]:
    return [(s.file, s.line, s.kind, s.reason) for s in inv.skipped]


def test_monorepo_inventory_is_exact(monorepo: Path) -> None:
    inv = discover([monorepo], excludes=["examples/"])
    assert ref_rows(inv) == EXPECTED_REFERENCES
    assert skip_rows(inv) == EXPECTED_SKIPPED


def test_vendored_ignored_and_excluded_paths(monorepo: Path) -> None:
    inv = discover([monorepo])
    files = {r.file for r in inv.references} | {s.file for s in inv.skipped}
    assert "examples/legacy/Dockerfile" in files  # only excluded when asked
    assert "build/Dockerfile" in files  # build/ may hold Dockerfiles: not skipped
    for gone in ("vendor/", "node_modules/", "sandbox/", "scratch.tmp.yaml", "docs/"):
        assert not any(f.startswith(gone) for f in files), gone
    narrowed = discover([monorepo], excludes=["**/legacy", "*.yml"])
    assert {r.file for r in narrowed.references}.isdisjoint(
        {"examples/legacy/Dockerfile", "docker-compose.yml", "docker-compose.override.yml"}
    )


def test_negated_exclude(monorepo: Path) -> None:
    inv = discover([monorepo], excludes=["*.yml", "!docker-compose.override.yml"])
    files = {r.file for r in inv.references}
    assert "docker-compose.override.yml" in files
    assert "docker-compose.yml" not in files


def test_patchwardenignore(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM nginx:1.25\n")
    (tmp_path / "Dockerfile").write_text("FROM nginx:1.26\n")
    assert [r.file for r in discover([tmp_path]).references] == ["Dockerfile", "a/Dockerfile"]
    (tmp_path / ".patchwardenignore").write_text("# comment\na/\n")
    assert [r.file for r in discover([tmp_path]).references] == ["Dockerfile"]


def test_every_candidate_is_accounted_for(monorepo: Path) -> None:
    """Nothing is silently dropped: every line that looks like it names an image is either
    a Reference (or one of its parts), a Skipped, or listed here with why it is not an image."""
    not_images = {
        ("services/api/Dockerfile", 15): "inside a RUN heredoc",
        ("services/api/Dockerfile", 20): "COPY --from a stage",
        ("services/api/Dockerfile", 22): "COPY --from a stage index",
        ("services/api/Dockerfile", 25): "FROM an earlier stage",
        ("services/api/Dockerfile", 33): "FROM scratch",
        ("services/api/Dockerfile", 34): "COPY --from a stage",
        ("services/api/Dockerfile", 35): "COPY --from a stage",
        ("services/web/web.Dockerfile", 6): "FROM an earlier stage",
        ("deploy/k8s/workloads.yaml", 22): "ConfigMap data, not a workload",
        ("charts/shop/values.yaml", 30): "a git URL, not an image",
        ("deploy/overlays/prod/kustomization.yaml", 11): "only name: changes nothing",
        ("docs/notes.yaml", 2): "not a compose, Kubernetes, Helm or Kustomize file",
    }
    inv = discover([monorepo], excludes=["examples/"])
    accounted = {(s.file, s.line) for s in inv.skipped}
    whole_files = {s.file for s in inv.skipped if s.reason.startswith("malformed YAML")}
    for r in inv.references:
        accounted.add((r.file, r.line))
        accounted.update((r.file, line) for _, line, _ in r.parts)
    docker_re = re.compile(r"^\s*FROM\b|--from=|[,=]from=|^#\s*syntax=", re.I)
    yaml_re = re.compile(r"^\s*(?:- )?(?:image|repository|newName|newTag|digest)\s*:\s*\S")
    kustomize_re = re.compile(r"^\s*- name\s*:")  # one per images: entry
    ignored = ("vendor/", "node_modules/", "examples/", "sandbox/", "scratch.tmp.yaml")
    candidates: list[tuple[str, int]] = []
    for path in sorted(monorepo.rglob("*")):
        rel = path.relative_to(monorepo).as_posix()
        if not path.is_file() or rel.startswith(ignored):
            continue
        if "ockerfile" in rel:
            pattern = docker_re
        elif rel.endswith("kustomization.yaml"):
            pattern = kustomize_re
        elif rel.endswith((".yaml", ".yml")):
            pattern = yaml_re
        else:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and "imageRegistry" not in line:
                candidates.append((rel, number))
    for key in candidates:
        assert key in accounted or key in not_images or key[0] in whole_files, key
    assert set(not_images) <= set(candidates)  # the allow-list is not stale
    assert len(candidates) == 48
    assert len(inv.references) + len(inv.skipped) == 35
    assert all(s.reason for s in inv.skipped)


def test_file_arguments_path_convention(
    monorepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(monorepo / "services")
    inv = discover([Path("api/Dockerfile"), monorepo / "build" / "Dockerfile"])
    # under the cwd: relative to it; elsewhere: as given
    assert sorted({r.file for r in inv.references}) == sorted(
        {"api/Dockerfile", (monorepo / "build" / "Dockerfile").as_posix()}
    )
    monkeypatch.chdir(monorepo)
    assert {r.file for r in discover([Path("services")]).references} == {
        "api/Dockerfile",
        "web/web.Dockerfile",
    }
    assert discover([Path("services/api/Dockerfile")], excludes=["services/"]).references == ()


def test_duplicates_are_reported_once(monorepo: Path) -> None:
    once = discover([monorepo])
    twice = discover([monorepo, monorepo])
    assert twice == once


def test_results_sorted(monorepo: Path) -> None:
    inv = discover([monorepo])
    keys = [(r.file, r.line) for r in inv.references]
    assert keys == sorted(keys)
    skeys = [(s.file, s.line) for s in inv.skipped]
    assert skeys == sorted(skeys)


def test_large_undecodable_and_bom_files(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"FROM alpine:3.20\n" + b"#" * MAX_FILE_SIZE)
    (tmp_path / "bin.Dockerfile").write_bytes(b"FROM \xff\xfe\n")
    (tmp_path / "bom.Dockerfile").write_bytes(b"\xef\xbb\xbfFROM alpine:3.19\n")
    (tmp_path / "huge.bin").write_bytes(b"\0" * (MAX_FILE_SIZE + 1))  # not a candidate
    inv = discover([tmp_path])
    assert [(r.file, r.line, r.column, r.image) for r in inv.references] == [
        ("bom.Dockerfile", 1, 6, "alpine:3.19")
    ]
    assert [(s.file, s.reason) for s in inv.skipped] == [
        ("Dockerfile", f"file is larger than 32 MiB ({MAX_FILE_SIZE + 17} bytes); not scanned"),
        ("bin.Dockerfile", "file is not valid UTF-8 (byte 5); not scanned"),
    ]


def test_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "Dockerfile").write_text("FROM alpine:3.20\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(real, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "Containerfile").symlink_to(real / "Dockerfile")
    assert discover([root]).references == ()
    files = [r.file for r in discover([root], follow_symlinks=True).references]
    assert files == ["Containerfile", "linked/Dockerfile"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        discover([tmp_path / "nope"])


def test_a_crashing_source_becomes_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine\n")

    def boom(self: object, rel_path: str, text: str, *, path: Path | None = None) -> list[object]:
        raise RuntimeError("bug")

    monkeypatch.setattr(DockerfileSource, "extract", boom)
    [s] = discover([tmp_path]).skipped
    assert isinstance(s, Skipped)
    assert s.reason == (
        "internal error in the dockerfile reader (RuntimeError: bug); please report this"
    )


def test_sources_tuple_and_claim_order(tmp_path: Path) -> None:
    assert [type(s) for s in registry.SOURCES] == [
        DockerfileSource,
        KustomizeSource,
        DevcontainerSource,
        GitHubActionsSource,
        GitLabCISource,
        ComposeSource,
        HelmSource,
        HelmTemplateSource,
        KubernetesSource,
    ]
    manifest = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.25\n"
    for name, kind in [
        ("values.yaml", RefKind.HELM),
        ("kustomization.yaml", RefKind.KUSTOMIZE),
        ("compose.yaml", RefKind.COMPOSE),
        ("pod.yaml", RefKind.KUBERNETES),
    ]:
        source = registry.source_for(tmp_path / name, manifest)
        assert source is not None and source.kind is kind, name
    assert registry.source_for(tmp_path / "plain.yaml", "a: 1\n") is None
    # a values file that is also a manifest is read once, by Helm
    (tmp_path / "values.yaml").write_text(manifest)
    [r] = discover([tmp_path]).references
    assert isinstance(r, Reference)
    assert (r.kind, r.context) == (RefKind.HELM, "spec.containers[0].image")


def test_fifo_named_dockerfile_is_skipped_not_opened(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: inventory must never open one."""
    import os
    import threading

    (tmp_path / "api").mkdir()
    os.mkfifo(tmp_path / "api" / "Dockerfile")
    (tmp_path / "web.Dockerfile").write_text("FROM nginx:1.25\n")
    os.mkfifo(tmp_path / ".patchwardenignore")
    found: list[Inventory] = []
    t = threading.Thread(target=lambda: found.append(discover([tmp_path])), daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        for name in ("api/Dockerfile", ".patchwardenignore"):
            os.close(os.open(tmp_path / name, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("discover blocked on a FIFO")
    inv = found[0]
    assert [r.image for r in inv.references] == ["nginx:1.25"]
    assert [(s.file, s.reason) for s in inv.skipped] == [
        ("api/Dockerfile", "not read: a FIFO (named pipe), not a regular file")
    ]


def test_unreadable_directory_is_reported() -> None:
    """As root a mode-000 directory is still readable: the walk then runs as nobody (in a
    directory of its own under the system temp dir, which nobody can reach)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="pw-unreadable-"))
    root = tmp_path / "repo"
    (root / "secret").mkdir(parents=True)
    (root / "secret" / "Dockerfile").write_text("FROM redis:7\n")
    (root / "Dockerfile").write_text("FROM nginx:1.25\n")
    (root / "secret").chmod(0)
    tmp_path.chmod(0o755)
    code = (
        "import sys; from pathlib import Path; from patchwarden.refs.discover import discover;"
        "inv = discover([Path(sys.argv[1])]);"
        "print([r.image for r in inv.references]); print([(s.file, s.reason) for s in inv.skipped])"
    )
    cmd = [sys.executable, "-c", code, str(root)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    finally:
        (root / "secret").chmod(0o755)
        shutil.rmtree(tmp_path)
    refs, skipped = out.strip().splitlines()
    assert refs == "['nginx:1.25']"
    assert skipped == "[('secret', 'cannot read directory: Permission denied')]"
