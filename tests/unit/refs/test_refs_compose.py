from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.refs.compose import (
    ComposeSource,
    _Unset,
    interpolate,
    is_compose_name,
    parse_dotenv,
)
from patchwarden.refs.model import Reference, RefKind, Skipped

SRC = ComposeSource()
UNSET = "variable {} is unset; compose interpolates it from the environment or .env"


def rows(found: list[Reference | Skipped]) -> list[tuple[object, ...]]:
    return [
        (f.line, f.column, f.image, str(f.ref), f.context)
        if isinstance(f, Reference)
        else (f.line, f.column, f.text, f.reason)
        for f in found
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("docker-compose.yml", True),
        ("docker-compose.yaml", True),
        ("compose.yml", True),
        ("compose.yaml", True),
        ("docker-compose.override.yml", True),
        ("compose.prod.yaml", True),
        ("docker-compose.ci.yaml", True),
        ("my-compose.yml", False),
        ("compose.json", False),
        ("values.yaml", False),
    ],
)
def test_file_names(name: str, expected: bool) -> None:
    assert is_compose_name(name) is expected


def test_fixture_with_anchors_and_dotenv(monorepo: Path) -> None:
    path = monorepo / "docker-compose.yml"
    found = SRC.extract("docker-compose.yml", path.read_text(), path=path)
    assert rows(found) == [
        (
            2,
            10,
            "registry.example.com/shop/app:${APP_TAG:-1.4.2}",
            "registry.example.com/shop/app:1.4.2",
            "services.web.image (from a merged anchor)",
        ),
        (13, 12, "postgres:${PG_VERSION}", "docker.io/library/postgres:16.4", "services.db.image"),
        (15, 12, "redis:${REDIS_TAG}", UNSET.format("REDIS_TAG")),
        (
            17,
            12,
            "nginx:${NGINX_TAG-1.27}-alpine",
            "docker.io/library/nginx:1.27.2-alpine",
            "services.proxy.image",
        ),
    ]
    assert all(f.kind is RefKind.COMPOSE for f in found)


def test_without_path_no_dotenv_is_read(monorepo: Path) -> None:
    found = SRC.extract("docker-compose.yml", (monorepo / "docker-compose.yml").read_text())
    db = found[1]
    assert isinstance(db, Skipped)
    assert db.reason == UNSET.format("PG_VERSION")


def test_override_file(monorepo: Path) -> None:
    path = monorepo / "docker-compose.override.yml"
    assert rows(SRC.extract("docker-compose.override.yml", path.read_text(), path=path)) == [
        (
            3,
            12,
            "registry.example.com/shop/app:${APP_TAG:-dev}",
            "registry.example.com/shop/app:dev",
            "services.web.image",
        ),
        (5, 12, "busybox:1.36.1", "docker.io/library/busybox:1.36.1", "services.debug.image"),
    ]


def test_scalar_alias_reported_once_at_anchor() -> None:
    text = "services:\n  a:\n    image: &img redis:7.4\n  b:\n    image: *img\n"
    [ref] = SRC.extract("compose.yaml", text)
    assert isinstance(ref, Reference)
    assert (ref.line, ref.image) == (3, "redis:7.4")


def test_service_overrides_merged_image() -> None:
    text = (
        "x-base: &base\n  image: nginx:1.25\n"
        "services:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    image: nginx:1.27\n"
    )
    assert [(f.line, getattr(f, "image", None)) for f in SRC.extract("compose.yaml", text)] == [
        (2, "nginx:1.25"),
        (8, "nginx:1.27"),
    ]


def test_build_only_service_and_no_services() -> None:
    assert SRC.extract("compose.yaml", "services:\n  app:\n    build: .\n") == []
    assert SRC.extract("compose.yaml", "volumes:\n  data: {}\nservices:\n") == []
    assert SRC.extract("compose.yaml", "") == []


def test_compose_v1_top_level_services() -> None:
    text = "web:\n  image: nginx:1.25\n  ports: ['80:80']\nx-ext:\n  image: ignored:1\n"
    assert [
        (f.line, getattr(f, "image", None)) for f in SRC.extract("docker-compose.yml", text)
    ] == [(2, "nginx:1.25")]


def test_malformed_yaml_is_one_skip() -> None:
    [s] = SRC.extract("compose.yaml", "services:\n  web:\n    image: [nginx\n")
    assert isinstance(s, Skipped)
    assert s.line == 4
    assert s.reason.startswith("malformed YAML at line 4: ")


def test_templated_and_invalid_images() -> None:
    text = (
        "services:\n  a:\n    image: '{{ image }}'\n  b:\n    image: 'Nginx:1'\n"
        "  c:\n    image: 42\n  d:\n    image: '{{ .Values.${X} }}'\n"
    )
    found = SRC.extract("compose.yaml", text)
    assert [(f.line, getattr(f, "reason", None)) for f in found] == [
        (3, "templated value ({{ ... }}) cannot be resolved statically"),
        (5, "repository name must be lowercase in 'Nginx:1' (did you mean 'nginx:1'?)"),
        (7, "image is not a string"),
        (9, "templated value ({{ ... }}) cannot be resolved statically"),
    ]
    assert all(isinstance(f, Skipped) for f in found)


def test_interpolation() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("a$$b", env) == "a$b"
    assert interpolate("$SET-${SET}", env) == "v-v"
    assert interpolate("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}", env) == "d||d"
    assert interpolate("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", env) == "alt||alt|"
    assert interpolate("${UNSET:-${SET}}", env) == "v"
    assert interpolate("${SET:?need it}", env) == "v"
    for bad in ("${UNSET}", "$UNSET", "${UNSET:?need it}", "${EMPTY:?need}"):
        with pytest.raises(_Unset):
            interpolate(bad, env)


def test_dotenv_parsing() -> None:
    text = (
        '# comment\nA=1\nexport B=\'two words\'\nC="x\\"y" \nD=plain # trailing comment\n'
        "E=${A}-suffix\nnot a line\n=novalue\n"
    )
    assert parse_dotenv(text) == {
        "A": "1",
        "B": "two words",
        "C": 'x"y',
        "D": "plain",
        "E": "1-suffix",
    }


def test_service_platform() -> None:
    text = "services:\n  a:\n    image: nginx:1\n    platform: linux/${ARCH:-arm64}\n"
    [r] = SRC.extract("compose.yaml", text)
    assert isinstance(r, Reference)
    assert r.platform == "linux/arm64"
