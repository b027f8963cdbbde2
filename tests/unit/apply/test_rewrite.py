"""Rewriting references in real-world file shapes: only the reference text changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.apply.edits import Target
from patchwarden.apply.rewrite import Change, RewriteError, prepare, write_group
from patchwarden.core.ref import parse_reference
from patchwarden.refs.discover import discover

D_OLD = "sha256:" + "1" * 64
D_NEW = "sha256:" + "2" * 64


def changes_for(root: Path, image: str, tag: str | None, digest: str | None) -> list[Change]:
    out = []
    for ref in discover([root]).references:
        if ref.ref.repository == parse_reference(image).repository:
            want = ref.ref.with_tag(tag or ref.ref.tag).with_digest(digest or ref.ref.digest)
            out.append(Change(ref, Target(tag=tag, digest=digest), want))
    assert out, f"no reference to {image}"
    return out


def rewrite(root: Path, image: str, tag: str | None, digest: str | None = None) -> None:
    write_group(prepare(root, changes_for(root, image, tag, digest)))


def only_changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    b, a = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(b) == len(a), "line count changed"
    return [(x, y) for x, y in zip(b, a, strict=True) if x != y]


def test_dockerfile_multistage_with_args_comments_and_continuation(tmp_path: Path) -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "ARG NODE=18\n"
        "FROM node:${NODE}-alpine AS build   # stays: built from a variable\n"
        "FROM --platform=$BUILDPLATFORM \\\n"
        "     nginx:1.25.3@" + D_OLD + " AS web\n"
        "COPY --from=build /app /usr/share/nginx/html\n"
        "from nginx:1.25.3 as second\n"
    )
    f = tmp_path / "Dockerfile"
    f.write_text(text)
    rewrite(tmp_path, "nginx", "1.27.0", D_NEW)
    after = f.read_text()
    assert only_changed_lines(text, after) == [
        ("     nginx:1.25.3@" + D_OLD + " AS web\n", "     nginx:1.27.0@" + D_NEW + " AS web\n"),
        ("from nginx:1.25.3 as second\n", f"from nginx:1.27.0@{D_NEW} as second\n"),
    ]


def test_strict_prepare_refuses_an_arg_with_other_uses(tmp_path: Path) -> None:
    text = "ARG NODE=18\nFROM node:${NODE}-alpine\nRUN echo $NODE\n"
    (tmp_path / "Dockerfile").write_text(text)
    with pytest.raises(RewriteError, match="ARG NODE is also used at line 3"):
        rewrite(tmp_path, "node", "20-alpine")
    assert (tmp_path / "Dockerfile").read_text() == text


def test_compose_anchor_quotes_and_comments(tmp_path: Path) -> None:
    text = (
        "x-common: &common\n"
        "  image: 'redis:7.2.3'  # pinned by ops\n"
        "  restart: always\n"
        "services:\n"
        "  a:\n"
        "    <<: *common\n"
        "  b:\n"
        '    image: "postgres:16.1"\n'
    )
    f = tmp_path / "compose.yaml"
    f.write_text(text)
    rewrite(tmp_path, "redis", "7.2.4")
    assert only_changed_lines(text, f.read_text()) == [
        ("  image: 'redis:7.2.3'  # pinned by ops\n", "  image: 'redis:7.2.4'  # pinned by ops\n")
    ]


def test_kubernetes_multidoc_crlf_is_kept(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\r\nkind: Pod\r\nmetadata: {name: a}\r\nspec:\r\n  containers:\r\n"
        "    - name: a\r\n      image: ghcr.io/acme/api:v1.2.0\r\n"
        "---\r\napiVersion: batch/v1\r\nkind: CronJob\r\nmetadata: {name: c}\r\nspec:\r\n"
        "  jobTemplate:\r\n    spec:\r\n      template:\r\n        spec:\r\n          containers:\r\n"
        "            - name: c\r\n              image: ghcr.io/acme/api:v1.2.0 # same image\r\n"
    )
    f = tmp_path / "k8s.yaml"
    f.write_bytes(text.encode())
    rewrite(tmp_path, "ghcr.io/acme/api", "v1.3.0", D_NEW)
    after = f.read_bytes().decode()
    assert after.count("\r\n") == text.count("\r\n") and "\n" not in after.replace("\r\n", "")
    assert after == text.replace("api:v1.2.0", f"api:v1.3.0@{D_NEW}")


def test_helm_nested_map_tag_and_inserted_digest(tmp_path: Path) -> None:
    text = (
        "redis:\n"
        "  image:\n"
        "    registry: docker.io\n"
        "    repository: bitnami/redis\n"
        "    tag: 7.2.3   # app version\n"
        "  other: 1\n"
        "exporter:\n"
        "  image:\n"
        "    repository: oliver006/redis_exporter\n"
        '    tag: "1.20"\n'
        '    digest: ""\n'
    )
    f = tmp_path / "values.yaml"
    f.write_text(text)
    rewrite(tmp_path, "bitnami/redis", "7.2.4", D_NEW)
    rewrite(tmp_path, "oliver006/redis_exporter", "1.30", D_NEW)
    assert f.read_text() == (
        "redis:\n"
        "  image:\n"
        "    registry: docker.io\n"
        "    repository: bitnami/redis\n"
        "    tag: 7.2.4   # app version\n"
        f"    digest: {D_NEW}\n"
        "  other: 1\n"
        "exporter:\n"
        "  image:\n"
        "    repository: oliver006/redis_exporter\n"
        '    tag: "1.30"\n'
        f'    digest: "{D_NEW}"\n'
    )


def test_helm_numeric_looking_tag_gets_quoted(tmp_path: Path) -> None:
    f = tmp_path / "values.yaml"
    f.write_text("image:\n  repository: x/y\n  tag: 1.20.1\n")
    rewrite(tmp_path, "x/y", "1.30")
    assert f.read_text() == 'image:\n  repository: x/y\n  tag: "1.30"\n'


def test_kustomize_new_tag_and_digest(tmp_path: Path) -> None:
    text = 'images:\n  - name: nginx\n    newName: r.io/mirror/nginx\n    newTag: "1.25"\n'
    f = tmp_path / "kustomization.yaml"
    f.write_text(text)
    rewrite(tmp_path, "r.io/mirror/nginx", "1.27", D_NEW)
    assert f.read_text() == (
        'images:\n  - name: nginx\n    newName: r.io/mirror/nginx\n    newTag: "1.27"\n'
        f"    digest: {D_NEW}\n"
    )


def test_group_is_all_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "a" / "Dockerfile"
    good.parent.mkdir()
    good.write_text("FROM nginx:1.25.3\n")
    bad = tmp_path / "b" / "Dockerfile"
    bad.parent.mkdir()
    bad.write_text("FROM nginx:1.25.3\n")
    changes = changes_for(tmp_path, "nginx", "1.27.0", None)
    bad.write_text("FROM nginx:1.24.0\n")  # the file changed after discovery
    with pytest.raises(RewriteError, match="no longer reads"):
        prepare(tmp_path, changes)
    assert good.read_text() == "FROM nginx:1.25.3\n"


def test_failed_write_restores_earlier_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM nginx:1.25.3\n")
    files = prepare(tmp_path, changes_for(tmp_path, "nginx", "1.27.0", None))
    # After planning, b/Dockerfile becomes a non-empty directory: replacing it must fail.
    (tmp_path / "b" / "Dockerfile").unlink()
    (tmp_path / "b" / "Dockerfile").mkdir()
    (tmp_path / "b" / "Dockerfile" / "keep").write_text("x")
    with pytest.raises(RewriteError, match="restored 1 already written"):
        write_group(files)
    assert (tmp_path / "a" / "Dockerfile").read_text() == "FROM nginx:1.25.3\n"
    assert not list(tmp_path.rglob("*.tmp")), "temp files left behind"


def test_file_mode_is_kept(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text("FROM nginx:1.25.3\n")
    f.chmod(0o640)
    rewrite(tmp_path, "nginx", "1.27.0")
    assert f.stat().st_mode & 0o777 == 0o640
    assert f.read_text() == "FROM nginx:1.27.0\n"
