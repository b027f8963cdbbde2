from __future__ import annotations

from pathlib import Path

from patchwarden.refs.kubernetes import KubernetesSource
from patchwarden.refs.model import Reference, RefKind, Skipped

SRC = KubernetesSource()
DA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
DB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"


def test_fixture_has_crlf_line_endings(monorepo: Path) -> None:
    data = (monorepo / "deploy/k8s/workloads.yaml").read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") == 61


def test_fixture_multi_document(monorepo: Path) -> None:
    path = monorepo / "deploy/k8s/workloads.yaml"
    text = path.read_bytes().decode()
    assert SRC.claims(path, text)
    found = SRC.extract("deploy/k8s/workloads.yaml", text)
    refs = [f for f in found if isinstance(f, Reference)]
    assert refs == found and all(f.kind is RefKind.KUBERNETES for f in refs)
    assert [(f.line, f.column, f.image, str(f.ref), f.context) for f in refs] == [
        (
            10,
            18,
            "ghcr.io/acme/migrate:2.0.1",
            "ghcr.io/acme/migrate:2.0.1",
            "Deployment/web spec.template.spec.initContainers[0] (migrate)",
        ),
        (
            13,
            18,
            f"ghcr.io/acme/web@sha256:{DA}",
            f"ghcr.io/acme/web@sha256:{DA}",
            "Deployment/web spec.template.spec.containers[0] (app)",
        ),
        (
            15,
            18,
            "envoyproxy/envoy:v1.31.0",
            "docker.io/envoyproxy/envoy:v1.31.0",
            "Deployment/web spec.template.spec.containers[1] (sidecar)",
        ),
        (
            36,
            22,
            "quay.io/acme/report:2024.10",
            "quay.io/acme/report:2024.10",
            "CronJob/nightly spec.jobTemplate.spec.template.spec.containers[0] (report)",
        ),
        (
            48,
            18,
            "alpine",
            "docker.io/library/alpine:latest",
            "items[0] Pod/debug spec.containers[0] (shell)",
        ),
        (
            51,
            18,
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "items[0] Pod/debug spec.ephemeralContainers[0] (dbg)",
        ),
        (
            61,
            22,
            f"postgres:16.4@sha256:{DB}",
            f"docker.io/library/postgres:16.4@sha256:{DB}",
            "items[1] StatefulSet/db spec.template.spec.containers[0] (pg)",
        ),
    ]


WORKLOADS = """\
apiVersion: v1
kind: PodTemplate
metadata: {name: tpl}
template:
  spec:
    containers: [{name: a, image: "nginx:1.25"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      containers:
        - name: agent
          image: datadog/agent:7
        - name: no-image
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      containers:
        - image: "{{ .Values.image }}"
        - image: ""
        - image: 5
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
---
"""


def test_other_workload_kinds_and_bad_values() -> None:
    found = SRC.extract("all.yaml", WORKLOADS)
    got = [
        (f.line, f.column, f.image, f.context)
        if isinstance(f, Reference)
        else (f.line, f.column, f.text, f.reason)
        for f in found
    ]
    assert got == [
        (6, 35, "nginx:1.25", "PodTemplate/tpl template.spec.containers[0] (a)"),
        (17, 18, "datadog/agent:7", "DaemonSet/agent spec.template.spec.containers[0] (agent)"),
        (
            28,
            18,
            "{{ .Values.image }}",
            "templated value ({{ ... }}) cannot be resolved statically",
        ),
        (29, 18, "", "image is empty (set elsewhere at deploy time)"),
        (30, 18, "5", "image is not a string"),
    ]


def test_claims_needs_top_level_api_version_and_kind() -> None:
    assert SRC.claims(Path("x.yml"), "apiVersion: v1\nkind: Pod\n")
    assert not SRC.claims(Path("x.json"), "apiVersion: v1\nkind: Pod\n")
    assert SRC.claims(Path("x.json"), '{"apiVersion": "v1", "kind": "Pod"}')
    assert not SRC.claims(Path("x.yaml"), "spec:\n  apiVersion: v1\n  kind: Pod\n")
    assert not SRC.claims(Path("x.yaml"), "apiVersion: v2\nname: chart\n")


def test_malformed_manifest() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n    {image: nginx:1.27\n"
    [s] = SRC.extract("bad.yaml", text)
    assert isinstance(s, Skipped)
    assert s.kind is RefKind.KUBERNETES
    assert s.line == 6
    assert s.reason.startswith("malformed YAML at line 6:")


def test_helm_template_that_is_not_yaml(monorepo: Path) -> None:
    text = (monorepo / "charts/shop/templates/deployment.yaml").read_text()
    s, line = SRC.extract("t.yaml", text)
    assert isinstance(s, Skipped)
    assert s.reason.endswith("(the file contains {{ ... }} template syntax and is not plain YAML)")
    # the image lines of a malformed document are still shown, read line by line
    assert isinstance(line, Skipped) and line.reason.startswith("templated value")


def test_kind_list_variants_and_non_map_documents() -> None:
    text = (
        "apiVersion: v1\nkind: DeploymentList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n"
        "  spec:\n    template:\n      spec:\n        containers:\n        - image: redis:7\n"
        "---\n- just\n- a list\n---\nplain scalar\n"
    )
    [r] = SRC.extract("l.yaml", text)
    assert isinstance(r, Reference)
    assert (r.line, r.context) == (10, "items[0] Deployment spec.template.spec.containers[0]")
