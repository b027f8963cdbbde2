"""rebuild's pure parts: base image from a Dockerfile, the immutable tag scheme, the scan diff
and gate, and the builds: configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from patchwarden.app.rebuild.gates import diff, gate_stops
from patchwarden.app.rebuild.model import BuildSpec
from patchwarden.app.rebuild.spec import base_image, from_directory, specs
from patchwarden.app.rebuild.tags import immutable_tag
from patchwarden.config.loader import load_config
from patchwarden.errors import ConfigError, UsageError
from patchwarden.scan.model import Finding, FindingStatus, Package, PackageType, Severity


def dockerfile(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "Dockerfile"
    p.write_text(text)
    return p


def test_base_is_the_from_of_the_last_stage_following_stage_names(tmp_path: Path) -> None:
    p = dockerfile(
        tmp_path,
        "ARG PY=3.12\n"
        "FROM golang:1.22 AS build\nRUN go build\n"
        "FROM python:${PY}-slim AS runtime\n"
        "FROM runtime AS final\nCOPY --from=build /x /x\n",
    )
    assert str(base_image(p, None, {})) == "docker.io/library/python:3.12-slim"
    assert str(base_image(p, None, {"PY": "3.13"})) == "docker.io/library/python:3.13-slim"
    assert str(base_image(p, "build", {})) == "docker.io/library/golang:1.22"


def test_base_errors_are_precise(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="FROM scratch"):
        base_image(dockerfile(tmp_path, "FROM scratch\nCOPY x /\n"), None, {})
    with pytest.raises(UsageError, match="no stage named 'nope'"):
        base_image(dockerfile(tmp_path, "FROM alpine:3.19 AS a\n"), "nope", {})
    with pytest.raises(UsageError, match="no FROM"):
        base_image(dockerfile(tmp_path, "# nothing\n"), None, {})


def test_line_continuations_and_platform_flags(tmp_path: Path) -> None:
    p = dockerfile(
        tmp_path, "FROM --platform=linux/amd64 \\\n  registry.example:5000/team/base:2.1\n"
    )
    assert str(base_image(p, None, {})) == "registry.example:5000/team/base:2.1"


def _spec(tmp_path: Path, **build: str) -> BuildSpec:
    (tmp_path / "Containerfile").write_text("FROM debian:12-slim\n")
    cfg = tmp_path / "patchwarden.yaml"
    lines = ["builds:", "  - destination: registry.example/team/app"]
    lines += [f"    {k}: {v}" for k, v in build.items()]
    cfg.write_text("\n".join(lines) + "\n")
    return specs(load_config(cfg).builds, tmp_path)[0]


NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def test_tag_scheme_counts_n_from_one_past_existing_tags(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert spec.name == "registry.example/team/app"
    assert immutable_tag(spec, [], None, None, NOW) == "12-slim-20261202.1"
    taken = ["12-slim-20261202.1", "12-slim-20261202.2", "latest"]
    assert immutable_tag(spec, taken, None, None, NOW) == "12-slim-20261202.3"
    rev = _spec(tmp_path, tag_scheme='"{revision}.{n}"', version='"2.0"')
    assert immutable_tag(rev, [], None, "0123456789abcdef", NOW) == "0123456789ab.1"


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("tag_scheme", '"{version}-{date}"', "has no {n}"),
        ("tag_scheme", '"{version}-{sha}.{n}"', "unknown field {sha}"),
        ("destination", "registry.example/team/app:1.0", "without tag or digest"),
        ("gates", "{new_vulnerabilities: severe}", "new_vulnerabilities"),
        ("colour", "blue", "unknown key 'colour'"),
    ],
)
def test_build_config_errors_name_the_key(
    tmp_path: Path, key: str, value: str, needle: str
) -> None:
    cfg = tmp_path / "patchwarden.yaml"
    extra = f"    {key}: {value}\n"
    if key == "destination":
        cfg.write_text(f"builds:\n  - destination: {value}\n")
    else:
        cfg.write_text(f"builds:\n  - destination: registry.example/team/app\n{extra}")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert needle in info.value.message
    assert "builds[0]" in info.value.message


def test_duplicate_build_names_and_missing_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n")
    cfg = tmp_path / "patchwarden.yaml"
    cfg.write_text(
        "builds:\n  - {name: a, destination: r.example/x/a}\n  - {name: a, destination: r.example/x/b}\n"
    )
    with pytest.raises(ConfigError, match="two builds are named 'a'"):
        specs(load_config(cfg).builds, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no Containerfile or Dockerfile"):
        from_directory(empty, "r.example/x/a")
    with pytest.raises(UsageError, match="without tag or digest"):
        from_directory(tmp_path, "r.example/x/a@sha256:" + "0" * 64)


def finding(vid: str, pkg: str, sev: Severity) -> Finding:
    return Finding(
        id=vid,
        aliases=(),
        package=Package(
            name=pkg,
            version="1",
            type=PackageType.DEB,
            purl=f"pkg:deb/debian/{pkg}@1",
            layer="",
            path="",
        ),
        installed_version="1",
        fixed_version="2",
        status=FindingStatus.FIXED,
        severity=sev,
        ecosystem="Debian:12",
    )


def test_scan_diff_and_gate_thresholds() -> None:
    high = finding("CVE-1", "openssl", Severity.HIGH)
    low = finding("CVE-2", "zlib", Severity.LOW)
    d = diff([high, low], [("CVE-1", "openssl"), ("CVE-9", "curl")], "the last build")
    assert d.fixed == (("CVE-9", "curl"),)
    assert d.introduced == (low,)
    assert d.fixable == 2
    assert gate_stops(d, "high") is None
    assert gate_stops(d, "off") is None
    stop = gate_stops(d, "low")
    assert stop == "new vulnerabilities >= low compared with the last build: CVE-2 (zlib, low)"
    assert gate_stops(diff([high], [], "the base image"), "high") is not None
    assert gate_stops(diff([high], [], "x"), "critical") is None
    assert "new vulnerabilities compared" in (gate_stops(d, "any") or "")
