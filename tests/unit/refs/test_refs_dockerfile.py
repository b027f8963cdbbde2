from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.refs.dockerfile import DockerfileSource, is_dockerfile_name
from patchwarden.refs.dockerfile_expand import Unresolved, expand
from patchwarden.refs.model import Reference, RefKind, Skipped

SRC = DockerfileSource()


def run(text: str) -> list[Reference | Skipped]:
    return SRC.extract("Dockerfile", text)


def refs(text: str) -> list[tuple[int, int, str, str, str]]:
    out = []
    for item in run(text):
        assert isinstance(item, Reference), item
        out.append((item.line, item.column, item.image, str(item.ref), item.context))
    return out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dockerfile", True),
        ("Containerfile", True),
        ("api.Dockerfile", True),
        ("Dockerfile.dev", True),
        ("ci.dockerfile", True),
        ("Containerfile.prod", True),
        ("Dockerfile.dockerignore", False),
        ("Dockerfile.md", False),
        ("Dockerfiles", False),
        ("mydockerfile", False),
        ("values.yaml", False),
    ],
)
def test_file_names(name: str, expected: bool) -> None:
    assert is_dockerfile_name(name) is expected
    assert SRC.claims(Path("x") / name, "") is expected


def test_fixture_multistage(monorepo: Path) -> None:
    text = (monorepo / "services/api/Dockerfile").read_text()
    found = SRC.extract("services/api/Dockerfile", text)
    got = [
        (f.line, f.column, f.image, str(f.ref), f.context, f.platform, f.parts)
        if isinstance(f, Reference)
        else (f.line, f.column, f.text, f.reason)
        for f in found
    ]
    assert got == [
        (
            1,
            10,
            "docker/dockerfile:1.7",
            "docker.io/docker/dockerfile:1.7",
            "# syntax= directive (BuildKit frontend image)",
            None,
            (("image", 1, 10),),
        ),
        (
            9,
            32,
            "node:${NODE}-alpine",
            "docker.io/library/node:18-alpine",
            "FROM (stage build)",
            "$BUILDPLATFORM",
            (("image", 9, 32),),
        ),
        (
            19,
            6,
            "${BASE_REGISTRY}/base/python:${PY_VERSION:-3.12}-slim",
            "registry.example.com:5000/base/python:3.12-slim",
            "FROM (stage Runtime)",
            None,
            (("image", 19, 6),),
        ),
        (
            21,
            25,
            "ghcr.io/astral-sh/uv:0.4.18",
            "ghcr.io/astral-sh/uv:0.4.18",
            "COPY --from",
            None,
            (("image", 21, 25),),
        ),
        (
            23,
            28,
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "RUN --mount from",
            None,
            (("image", 23, 28),),
        ),
        (
            28,
            5,
            "debian:${DISTRO}",
            "variable DISTRO has no default (set by --build-arg at build time)",
        ),
        (
            32,
            6,
            "alpine:3.20${SUFFIX:+-$SUFFIX}",
            "docker.io/library/alpine:3.20",
            "FROM (stage tools)",
            None,
            (("image", 32, 6),),
        ),
    ]
    assert all(f.kind is RefKind.DOCKERFILE for f in found)


def test_fixture_backtick_escape(monorepo: Path) -> None:
    text = (monorepo / "services/web/web.Dockerfile").read_text()
    assert refs(text) == [
        (
            3,
            6,
            "mcr.microsoft.com/windows/servercore:$VARIANT",
            "mcr.microsoft.com/windows/servercore:ltsc2022",
            "FROM (stage base)",
        ),
    ]


def test_continuation_reports_keyword_line_and_image_position() -> None:
    text = "FROM \\\n  # comment\n\n  --platform=linux/amd64 \\\n    alpine:3.20 \\\n  AS base\n"
    [ref] = run(text)
    assert isinstance(ref, Reference)
    assert (ref.line, ref.column, ref.parts) == (1, 5, (("image", 5, 5),))
    assert ref.platform == "linux/amd64"
    assert ref.context == "FROM (stage base)"


def test_crlf_dockerfile() -> None:
    assert refs("ARG V=1.25\r\nFROM nginx:$V \\\r\n  AS web\r\n") == [
        (2, 6, "nginx:$V", "docker.io/library/nginx:1.25", "FROM (stage web)")
    ]


def test_case_insensitive_instructions_and_stage_names() -> None:
    text = "from golang:1.23 As Builder\nfrom BUILDER as second\nFrom second\nFROM scratch\n"
    assert refs(text) == [
        (1, 6, "golang:1.23", "docker.io/library/golang:1.23", "FROM (stage Builder)")
    ]


def test_stage_defined_later_is_an_image() -> None:
    # A FROM can only name an *earlier* stage; "later" is an image here.
    text = "FROM later\nFROM alpine AS later\n"
    assert [r[2] for r in refs(text)] == ["later", "alpine"]


def test_unnamed_stages_are_numbered() -> None:
    assert [r[4] for r in refs("FROM a\nFROM b\n")] == ["FROM (stage 0)", "FROM (stage 1)"]


def test_global_args_only_before_first_from() -> None:
    text = 'ARG A="quoted value"\nARG TAG=3.19 B=${TAG}\nFROM alpine:$B\nARG LATE=1\nFROM x:$LATE\n'
    found = run(text)
    assert isinstance(found[0], Reference)
    assert str(found[0].ref) == "docker.io/library/alpine:3.19"
    assert isinstance(found[1], Skipped)
    assert found[1].reason.startswith("variable LATE is not declared by an ARG before the first")


def test_arg_without_default_and_operators() -> None:
    text = "ARG T\nFROM a:${T:-1}\nFROM b:${T-2}\nFROM c:1${T:+-x}\nFROM d:$T\nFROM e:${T}\n"
    found = run(text)
    assert [str(f.ref) for f in found if isinstance(f, Reference)] == [
        "docker.io/library/a:1",
        "docker.io/library/b:2",
        "docker.io/library/c:1",
    ]
    skipped = [f for f in found if isinstance(f, Skipped)]
    assert [(s.line, s.text) for s in skipped] == [(5, "d:$T"), (6, "e:${T}")]
    assert {s.reason for s in skipped} == {
        "variable T has no default (set by --build-arg at build time)"
    }


def test_platform_arg_in_image_is_skipped() -> None:
    [s] = run("FROM --platform=$TARGETPLATFORM tool-$TARGETARCH:1\n")
    assert isinstance(s, Skipped)
    assert s.reason == "variable TARGETARCH is set by the builder for each target platform"


def test_invalid_reference_is_skipped_with_parser_message() -> None:
    [s] = run("FROM Ubuntu:22.04\n")
    assert isinstance(s, Skipped)
    assert s.reason.startswith("repository name must be lowercase in 'Ubuntu:22.04'")
    assert (s.line, s.column, s.text) == (1, 6, "Ubuntu:22.04")


def test_templated_from_is_skipped() -> None:
    [s] = run("FROM {{ base_image }}\n")
    assert isinstance(s, Skipped)
    assert s.reason == "templated value ({{ ... }}) cannot be resolved statically"


def test_heredoc_body_is_not_parsed() -> None:
    text = (
        "FROM alpine AS a\nRUN <<-EOT bash\n\tFROM evil:1\n\tEOT\nCOPY <<EOF /x\nFROM evil:2\nEOF\n"
    )
    assert [r[2] for r in refs(text)] == ["alpine"]


def test_copy_from_stage_index_and_alias_are_not_images() -> None:
    text = "FROM alpine AS Base\nFROM alpine\nCOPY --from=0 /a /a\nCOPY --from=base /b /b\n"
    assert [r[2] for r in refs(text)] == ["alpine", "alpine"]


def test_copy_from_with_global_arg() -> None:
    text = "ARG UV=0.4.18\nFROM alpine\nCOPY --from=ghcr.io/astral-sh/uv:${UV} /uv /uv\n"
    assert refs(text)[1] == (
        3,
        13,
        "ghcr.io/astral-sh/uv:${UV}",
        "ghcr.io/astral-sh/uv:0.4.18",
        "COPY --from",
    )


def test_escaped_dollar_is_literal() -> None:
    with pytest.raises(Unresolved):
        expand("$X", {})
    assert expand("a\\$X", {}) == "a$X"
    assert expand("a`$X", {}, "`") == "a$X"
    assert expand("${X:-${Y:-z}}", {}) == "z"
    assert expand("${X-d}", {"X": ""}) == ""
    assert expand("${X:-d}", {"X": ""}) == "d"
    assert expand("${X+set}", {"X": ""}) == "set"
    assert expand("$ 1", {}) == "$ 1"


def test_empty_and_comment_only_files() -> None:
    assert run("") == []
    assert run("# just a comment\n\n") == []
    [s] = run("FROM --platform=linux/amd64\n")
    assert isinstance(s, Skipped)
    assert s.reason == "FROM without an image"
