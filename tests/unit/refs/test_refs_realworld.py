"""Discovery on file shapes taken from public repositories (each fixture names its origin in
its header): custom resources, OLM bundles, scorecard configs and patches, Helm overlays and
test templates, compose names and local builds, CI files, devcontainer.json, JSON manifests,
YAML with trailing tabs, a malformed document, inline kustomize patches."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.refs import _nodes
from patchwarden.refs.discover import discover
from patchwarden.refs.kubernetes import KubernetesSource
from patchwarden.refs.model import Inventory, Reference

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "repos" / "realworld"
CSV = "olm/bundle/memcached-operator.clusterserviceversion.yaml"
DIGEST = "sha256:4c0d6e4d8ec7c1d5b4b8e0d4a3f6d0e1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7"
SCORECARD = "quay.io/operator-framework/scorecard-test:v1.42.3"

EXPECTED = [
    (".devcontainer/devcontainer.json", 5, 13, "docker.io/library/golang:1.24"),
    (".github/workflows/ci.yml", 8, 16, "docker.io/library/node:20.11-bookworm"),
    (".github/workflows/ci.yml", 11, 16, "docker.io/library/postgres:16.2"),
    (".github/workflows/ci.yml", 14, 16, "docker.io/library/redis:7"),
    (".github/workflows/ci.yml", 17, 24, "docker.io/library/alpine:3.19"),
    (".gitlab-ci.yml", 6, 10, "docker.io/library/ruby:3.3"),
    (".gitlab-ci.yml", 9, 11, "docker.io/library/node:18.19"),
    (".gitlab-ci.yml", 12, 7, "docker.io/library/postgres:15.6"),
    (".gitlab-ci.yml", 13, 13, "docker.io/library/redis:7.2"),
    ("app/Dockerfile", 1, 10, "docker.io/docker/dockerfile:1.4"),
    ("app/Dockerfile", 5, 32, "docker.io/library/node:18-alpine"),
    ("app/Dockerfile", 9, 6, "docker.io/library/nginx:1.25.3-alpine"),
    ("chart/templates/tests/test-connection.yaml", 12, 14, "docker.io/library/busybox:latest"),
    ("chart/values-prod.yaml", 6, 10, "quay.io/brancz/kube-rbac-proxy:v0.18.1"),
    ("chart/values-prod.yaml", 10, 12, "docker.io/library/busybox:1.37"),
    ("chart/values.yaml", 12, 17, "quay.io/brancz/kube-rbac-proxy:v0.18.0"),
    ("chart/values.yaml", 20, 19, "docker.io/library/busybox:1.36"),
    ("compose/compose-web.yaml", 9, 12, "ghcr.io/acme/api:1.4.2"),
    ("compose/compose-web.yaml", 12, 12, "docker.io/library/nginx:1.25.3"),
    ("compose/compose-web.yaml", 14, 12, "docker.io/library/mariadb:10.6.4-focal"),
    ("compose/docker-stack.yml", 5, 12, "docker.io/dockersamples/visualizer:stable"),
    ("compose/stack.prod.yml", 4, 12, "docker.io/library/redis:7.2.5-alpine"),
    ("deploy/tabbed.yaml", 10, 12, "docker.io/library/nginx:1.27.2"),
    ("kustomize/kustomization.yaml", 7, 11, "docker.io/argoproj/rollouts-demo:green"),
    ("kustomize/kustomization.yaml", 19, 20, "docker.io/library/guestbook-patched:v1"),
    (CSV, 15, 22, "docker.io/library/memcached:1.5.20"),
    (CSV, 16, 52, "quay.io/prometheus/memcached-exporter:v0.6.0"),
    (CSV, 21, 21, "quay.io/example/memcached-operator:v0.0.1"),
    (CSV, 33, 24, "quay.io/example/memcached-operator:v0.0.1"),
    (CSV, 36, 24, "gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0"),
    (CSV, 40, 12, f"docker.io/library/memcached@{DIGEST}"),
    ("olm/bundle/tests/scorecard/config.yaml", 10, 12, SCORECARD),
    ("olm/config/scorecard/patches/olm.config.yaml", 9, 12, SCORECARD),
    ("rollouts/canary-analysis.yaml", 19, 24, "docker.io/library/alpine:3.8"),
    ("rollouts/canary-analysis.yaml", 35, 55, "docker.io/argoproj/load-tester:latest"),
    ("rollouts/canary-analysis.yaml", 47, 16, "docker.io/library/busybox:1.36"),
    ("rollouts/canary-analysis.yaml", 50, 16, "docker.io/argoproj/rollouts-demo:blue"),
    ("rollouts/canary-analysis.yaml", 72, 18, "docker.io/argoproj/rollouts-demo:purple"),
    ("rollouts/canary-analysis.yaml", 88, 24, "ghcr.io/acme/smoke-tests:2.3.1"),
    ("rollouts/failfast.yaml", 17, 26, "docker.io/library/alpine:3.8"),
    ("rollouts/valid.json", 11, 22, "docker.io/library/valid-rollout:0.0.0"),
]

FEATURE = "Dev Container feature (an OCI artifact installed into the container), not an image"
EXPECTED_SKIPPED = [
    (".devcontainer/devcontainer.json", 7, FEATURE),
    (".devcontainer/devcontainer.json", 8, FEATURE),
    (
        ".github/workflows/ci.yml",
        24,
        "GitHub Actions expression (${{ ... }}) evaluated by the runner",
    ),
    (
        ".gitlab-ci.yml",
        17,
        "variable CI_REGISTRY_IMAGE is set by GitLab at run time; its value is not in this file",
    ),
    ("chart/values.yaml", 6, "tag is empty (the chart falls back to .Chart.AppVersion)"),
    ("chart/values.yaml", 16, "repository is empty (set at install time)"),
    (
        "compose/compose-web.yaml",
        5,
        "tag of the image built by this service's build: (no registry host), not pulled from "
        "a registry",
    ),
    ("rollouts/failfast.yaml", 19, "malformed YAML at line 19: did not find expected key"),
]


@pytest.fixture()
def inventory(monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("API_TAG", "")  # empty: ${API_TAG:-1.4.2} uses its default
    monkeypatch.delenv("NGINX_TAG", raising=False)
    return discover([ROOT], compose_files=["compose/stack.*.yml"])


def test_every_reference_in_real_file_shapes(inventory: Inventory) -> None:
    got = [(r.file, r.line, r.column, str(r.ref)) for r in inventory.references]
    assert got == EXPECTED


def test_everything_seen_and_not_reported_has_a_reason(inventory: Inventory) -> None:
    got = [(s.file, s.line, s.reason) for s in inventory.skipped]
    assert got == EXPECTED_SKIPPED


def test_contexts_name_the_custom_resource_path(inventory: Inventory) -> None:
    by_line = {(r.file, r.line): r.context for r in inventory.references}
    assert by_line[("rollouts/canary-analysis.yaml", 88)] == (
        "AnalysisRun/run-1 spec.metrics[0].provider.job.spec.template.spec.containers[0] (smoke)"
    )
    assert by_line[(CSV, 40)] == (
        "ClusterServiceVersion/memcached-operator.v0.0.1 spec.relatedImages[0] (memcached)"
    )
    assert by_line[("chart/values-prod.yaml", 6)] == (
        "kubeRBACProxy.image (repository from values.yaml)"
    )


def test_compose_shell_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGINX_TAG", "1.27.3")
    monkeypatch.setenv("API_TAG", "1.5.0")
    inv = discover([ROOT / "compose"])
    images = {r.line: str(r.ref) for r in inv.references if r.file == "compose-web.yaml"}
    assert images[12] == "docker.io/library/nginx:1.27.3"
    assert images[9] == "ghcr.io/acme/api:1.5.0"


def test_without_compose_files_config_the_stack_file_is_not_read() -> None:
    inv = discover([ROOT / "compose"])
    assert "stack.prod.yml" not in {r.file for r in inv.references}


def crd(i: int) -> str:
    props = "".join(
        f"                field{j}:\n                  type: string\n"
        f"                  description: image: the container image of field {j}\n"
        for j in range(40)
    )
    return (
        "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        f"metadata:\n  name: thing{i}.example.com\nspec:\n  versions:\n  - name: v1\n"
        "    schema:\n      openAPIV3Schema:\n        properties:\n          spec:\n"
        "            properties:\n              image:\n                type: string\n"
        f"              nested:\n                properties:\n{props}"
    )


def test_a_3mb_crd_only_file_is_not_parsed_and_a_large_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path: documents that cannot hold an image are never handed to the parser.
    (Speed itself is measured by bench/inventory.py, not asserted here.)"""
    one = len(crd(0))
    text = "".join(crd(i) for i in range(3 * 1024 * 1024 // one + 1))
    deployment = (
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: c\n"
        "        image: quay.io/argoproj/argo-rollouts:v1.7.2\n"
    )
    (tmp_path / "install.yaml").write_text(text + deployment)
    parsed: list[int] = []
    real = _nodes.compose_documents

    def counting(chunk: str) -> list[_nodes.Node]:
        parsed.append(len(chunk))
        return real(chunk)

    monkeypatch.setattr(_nodes, "compose_documents", counting)
    inv = discover([tmp_path])
    assert [str(r.ref) for r in inv.references] == ["quay.io/argoproj/argo-rollouts:v1.7.2"]
    assert inv.skipped == ()
    assert len(parsed) == 1  # only the Deployment was parsed, none of the CRDs
    assert inv.references[0].line == text.count("\n") + 10


def test_yaml_1_2_trailing_tab_keeps_positions() -> None:
    text = (ROOT / "deploy/tabbed.yaml").read_text()
    assert "\t\n" in text
    [ref] = KubernetesSource().extract("deploy/tabbed.yaml", text)
    assert isinstance(ref, Reference) and (ref.line, ref.column) == (10, 12)


def test_image_without_tag_or_digest_is_latest() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ghcr.io/acme/tool\n"
    [ref] = KubernetesSource().extract("p.yaml", text)
    assert isinstance(ref, Reference)
    assert (ref.ref.tag, ref.ref.digest, ref.image) == ("latest", None, "ghcr.io/acme/tool")
