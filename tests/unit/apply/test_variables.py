"""``update`` on references built from variables: the value is edited where it is written
(Dockerfile ARG defaults, compose ``${VAR:-default}``, literal tags after a variable), byte for
byte; what cannot be written is skipped with a reason and never holds back the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.apply.edits import Target
from patchwarden.apply.rewrite import Change, prepare_partial, write_group
from patchwarden.core.ref import parse_reference
from patchwarden.refs.discover import discover

D_NEW = "sha256:" + "2" * 64


def changes(root: Path, moves: dict[str, str], digest: str | None = None) -> list[Change]:
    """One change per reference whose repository is in ``moves`` (repository -> new tag)."""
    out = []
    for ref in discover([root]).references:
        for image, tag in moves.items():
            if ref.ref.repository == parse_reference(image).repository:
                want = ref.ref.with_tag(tag).with_digest(digest or ref.ref.digest)
                out.append(Change(ref, Target(tag=tag, digest=digest), want))
    assert out, f"no reference to {list(moves)}"
    return out


def run(root: Path, moves: dict[str, str], digest: str | None = None) -> list[str]:
    files, skipped = prepare_partial(root, changes(root, moves, digest))
    write_group(files)
    return [f"{s.change.reference.line}: {s.reason}" for s in skipped]


def diff_lines(before: str, after: str) -> list[tuple[str, str]]:
    b, a = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(b) == len(a)
    return [(x, y) for x, y in zip(b, a, strict=True) if x != y]


# Modelled on the official Node.js image's multi-variant Dockerfiles and on
# docker/awesome-compose's react-express-mongodb backend (ARG-built FROM lines).
NODE_DOCKERFILE = """\
# syntax=docker/dockerfile:1.4
ARG NODE_VERSION=18
ARG ALPINE="3.19"
FROM node:${NODE_VERSION}-alpine${ALPINE} AS build
WORKDIR /src
RUN npm ci
FROM node:${NODE_VERSION}-alpine${ALPINE} AS test
FROM nginx:1.25.3-alpine
COPY --from=build /src/dist /usr/share/nginx/html
"""


def test_arg_default_rewritten_once_for_every_covered_use(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(NODE_DOCKERFILE)
    assert run(tmp_path, {"node": "21-alpine3.19", "nginx": "1.27.0-alpine"}) == []
    assert diff_lines(NODE_DOCKERFILE, f.read_text()) == [
        ("ARG NODE_VERSION=18\n", "ARG NODE_VERSION=21\n"),
        ("FROM nginx:1.25.3-alpine\n", "FROM nginx:1.27.0-alpine\n"),
    ]


def test_quoted_arg_default_keeps_its_quotes(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(NODE_DOCKERFILE)
    assert run(tmp_path, {"node": "18-alpine3.20"}) == []
    assert diff_lines(NODE_DOCKERFILE, f.read_text()) == [
        ('ARG ALPINE="3.19"\n', 'ARG ALPINE="3.20"\n')
    ]


def test_arg_used_elsewhere_is_skipped_and_the_others_are_written(tmp_path: Path) -> None:
    text = 'ARG PY=3.11\nFROM python:${PY}-slim\nLABEL python.version="${PY}"\nFROM redis:7.2.3\n'
    f = tmp_path / "Dockerfile"
    f.write_text(text)
    skipped = run(tmp_path, {"python": "3.12-slim", "redis": "7.2.5"})
    assert skipped == [
        "2: 'python:${PY}-slim': ARG PY is also used at line 3, which this update does not "
        "move; change it by hand (or give that use its own ARG)"
    ]
    assert diff_lines(text, f.read_text()) == [("FROM redis:7.2.3\n", "FROM redis:7.2.5\n")]


def test_default_word_of_an_arg_without_default(tmp_path: Path) -> None:
    text = "ARG TAG\nFROM alpine:${TAG:-3.19}\n"
    f = tmp_path / "Containerfile"
    f.write_text(text)
    assert run(tmp_path, {"alpine": "3.20"}) == []
    assert f.read_text() == "ARG TAG\nFROM alpine:${TAG:-3.20}\n"


def test_whole_image_in_an_arg_gets_the_digest_pin(tmp_path: Path) -> None:
    text = "ARG BASE=debian:12.5-slim\nFROM ${BASE}\nRUN true\n"
    f = tmp_path / "Dockerfile"
    f.write_text(text)
    assert run(tmp_path, {"debian": "12.6-slim"}, D_NEW) == []
    assert f.read_text() == f"ARG BASE=debian:12.6-slim@{D_NEW}\nFROM ${{BASE}}\nRUN true\n"


def test_change_spanning_two_variables_is_skipped(tmp_path: Path) -> None:
    text = "ARG MAJOR=18\nARG MINOR=9\nFROM node:${MAJOR}.${MINOR}\n"
    (tmp_path / "Dockerfile").write_text(text)
    [reason] = run(tmp_path, {"node": "19.0"})
    assert "would change several variables at once" in reason
    assert (tmp_path / "Dockerfile").read_text() == text


# Modelled on docker/awesome-compose (nginx-golang-mysql) with a TAG default, and on
# compose files that take the registry from .env.
COMPOSE = """\
services:
  proxy:
    image: "nginx:${NGINX_TAG:-1.25.3}"   # keep in step with the config
  backend:
    image: ${REGISTRY:-ghcr.io/acme}/backend:2.4.1
  db:
    image: mariadb:${DB_TAG}
"""


def test_compose_defaults_and_literal_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NGINX_TAG", raising=False)
    monkeypatch.delenv("REGISTRY", raising=False)
    (tmp_path / ".env").write_text("DB_TAG=10.11\n")
    f = tmp_path / "compose.yaml"
    f.write_text(COMPOSE)
    assert run(tmp_path, {"nginx": "1.27.2", "acme/backend": "2.5.0", "mariadb": "11.4"}) == [
        "7: 'mariadb:${DB_TAG}': DB_TAG comes from the environment or the .env file; "
        "change it there"
    ]
    assert diff_lines(COMPOSE, f.read_text()) == [
        (
            '    image: "nginx:${NGINX_TAG:-1.25.3}"   # keep in step with the config\n',
            '    image: "nginx:${NGINX_TAG:-1.27.2}"   # keep in step with the config\n',
        ),
        (
            "    image: ${REGISTRY:-ghcr.io/acme}/backend:2.4.1\n",
            "    image: ${REGISTRY:-ghcr.io/acme}/backend:2.5.0\n",
        ),
    ]


def test_compose_variable_from_the_shell_environment_is_not_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGINX_TAG", "1.25.4")
    (tmp_path / "compose.yaml").write_text(COMPOSE.split("  backend:")[0])
    [ref] = discover([tmp_path]).references
    assert str(ref.ref) == "docker.io/library/nginx:1.25.4"  # the environment wins over the default
    [reason] = run(tmp_path, {"nginx": "1.27.2"})
    assert "NGINX_TAG comes from the environment" in reason


def test_gitlab_dependency_proxy_prefix_keeps_the_variable(tmp_path: Path) -> None:
    # Modelled on GitLab's documented Dependency Proxy usage in .gitlab-ci.yml.
    text = "build:\n  image: ${CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX}/node:18.19\n  script: [npm ci]\n"
    f = tmp_path / ".gitlab-ci.yml"
    f.write_text(text)
    assert run(tmp_path, {"node": "18.20"}) == []
    assert f.read_text() == text.replace("node:18.19", "node:18.20")
