from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.refs.helm import EMPTY_TAG_REASON, NO_TAG_REASON, HelmSource, is_values_file
from patchwarden.refs.model import Reference, RefKind, Skipped

SRC = HelmSource()
DC = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
TEMPLATED = "templated value ({{ ... }}) cannot be resolved statically"


def rows(found: list[Reference | Skipped]) -> list[tuple[object, ...]]:
    return [
        (f.line, f.column, f.image, str(f.ref), f.context, f.parts)
        if isinstance(f, Reference)
        else (f.line, f.column, f.text, f.reason)
        for f in found
    ]


def test_fixture_values(monorepo: Path) -> None:
    text = (monorepo / "charts/shop/values.yaml").read_text()
    found = SRC.extract("charts/shop/values.yaml", text)
    assert all(f.kind is RefKind.HELM for f in found)
    assert rows(found) == [
        (
            5,
            15,
            "docker.io/bitnami/redis:7.2.3",
            "docker.io/bitnami/redis:7.2.3",
            "image.repository",
            (("registry", 4, 13), ("repository", 5, 15), ("tag", 6, 8), ("digest", 7, 11)),
        ),
        # tag: 1.20 is a float in YAML; the text as written is kept
        (
            13,
            17,
            "quay.io/oliver006/redis_exporter:1.20",
            "quay.io/oliver006/redis_exporter:1.20",
            "metrics.image.repository",
            (("registry", 12, 15), ("repository", 13, 17), ("tag", 14, 10)),
        ),
        (
            17,
            12,
            "fluent/fluent-bit:3.1",
            "docker.io/fluent/fluent-bit:3.1",
            "sidecars[0].image",
            (),
        ),
        (20, 17, "ghcr.io/acme/migrate", EMPTY_TAG_REASON),
        (
            24,
            17,
            f"ghcr.io/acme/backup:2.1@sha256:{DC}",
            f"ghcr.io/acme/backup:2.1@sha256:{DC}",
            "backup.image.repository",
            (("repository", 24, 17), ("tag", 25, 10), ("digest", 26, 13)),
        ),
        (28, 10, "{{ .Values.global.imageRegistry }}/nginx:1.27", TEMPLATED),
    ]


def test_claims(tmp_path: Path) -> None:
    for name in ("values.yaml", "values.yml", "values-prod.yaml", "values.staging.yaml"):
        assert is_values_file(tmp_path / name), name
    assert not is_values_file(tmp_path / "valuesOverride.yaml")
    assert not is_values_file(tmp_path / "myvalues.yaml")
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: x\n")
    assert is_values_file(tmp_path / "valuesOverride.yaml")
    assert not is_values_file(tmp_path / "other.yaml")


@pytest.mark.parametrize(
    ("tag_line", "expected"),
    [
        ("tag: 1.20", "nginx:1.20"),
        ("tag: 1.10.0", "nginx:1.10.0"),
        ("tag: 10", "nginx:10"),
        ("tag: 010", "nginx:010"),
        ("tag: '1.20'", "nginx:1.20"),
        ('tag: "1.20" # quoted', "nginx:1.20"),
        ("tag: &t 1.20", "nginx:1.20"),
        ("tag: !!float 1.20", "nginx:1.20"),
        ("tag: 1e3", "nginx:1e3"),
    ],
)
def test_tag_spelling_is_kept(tag_line: str, expected: str) -> None:
    [r] = SRC.extract("values.yaml", f"image:\n  repository: nginx\n  {tag_line}\n")
    assert isinstance(r, Reference)
    assert r.image == expected
    assert r.ref.tag == expected.split(":")[1]


def test_empty_missing_and_null_tag() -> None:
    text = (
        "a:\n  repository: x/a\n  tag: ''\n"
        "b:\n  repository: x/b\n"
        "c:\n  repository: x/c\n  tag:\n"
        "d:\n  repository: x/d\n  tag: ''\n  digest: sha256:" + DC + "\n"
    )
    found = SRC.extract("values.yaml", text)
    assert [(f.line, getattr(f, "reason", None)) for f in found] == [
        (2, EMPTY_TAG_REASON),
        (5, NO_TAG_REASON),
        (7, EMPTY_TAG_REASON),
        (10, None),
    ]
    assert isinstance(found[3], Reference)
    assert str(found[3].ref) == f"docker.io/x/d@sha256:{DC}"


def test_image_name_variant_and_registry_slash() -> None:
    text = "img:\n  registry: ghcr.io/\n  image: acme/tool\n  tag: v2\n"
    [r] = SRC.extract("values.yaml", text)
    assert isinstance(r, Reference)
    assert (r.line, r.column, r.image, r.context) == (3, 10, "ghcr.io/acme/tool:v2", "img.image")


def test_templated_parts_and_non_images() -> None:
    text = (
        "a:\n  repository: nginx\n  tag: '{{ .Chart.AppVersion }}'\n"
        "git:\n  repository: https://github.com/x/y.git\n  tag: main\n"
        "b:\n  image: ''\n  other: {image: null}\n"
        "c:\n  image: [1, 2]\n"
        "d:\n  image: 3\n"
    )
    found = SRC.extract("values.yaml", text)
    assert [(f.line, f.text, f.reason) for f in found if isinstance(f, Skipped)] == [
        (2, "nginx:{{ .Chart.AppVersion }}", TEMPLATED),
    ]
    assert [(f.line, f.image) for f in found if isinstance(f, Reference)] == [(13, "3")]


def test_anchors_reported_once() -> None:
    text = (
        "base: &img\n  repository: nginx\n  tag: '1.27'\n"
        "web:\n  image: *img\napi:\n  image:\n    <<: *img\n    tag: '1.28'\n"
    )
    found = SRC.extract("values.yaml", text)
    assert [(f.line, getattr(f, "image", None)) for f in found] == [
        (2, "nginx:1.27"),
        (2, "nginx:1.28"),
    ]
    assert isinstance(found[1], Reference)
    assert found[1].parts == (("repository", 2, 15), ("tag", 9, 10))


def test_malformed_values() -> None:
    [s] = SRC.extract("values.yaml", "image:\n  tag: [1\n")
    assert isinstance(s, Skipped)
    assert (s.line, s.kind) == (3, RefKind.HELM)


def test_chart_templates_report_image_lines_not_yaml_errors(tmp_path: Path) -> None:
    from patchwarden.refs.discover import discover

    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "templates" / "deploy.yaml").write_text(
        "spec:\n  containers:\n"
        '    - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
        "{{- if .Values.sidecar }}\n"
        "    - image: busybox:1.36.1  # pinned sidecar\n"
        "{{- end }}\n"
    )
    inv = discover([tmp_path])
    (ref,) = inv.references
    assert (ref.file, ref.line, ref.image, str(ref.ref)) == (
        "chart/templates/deploy.yaml",
        5,
        "busybox:1.36.1",
        "docker.io/library/busybox:1.36.1",
    )
    (skip,) = inv.skipped
    assert skip.line == 3 and "rendered from the chart's values" in skip.reason
