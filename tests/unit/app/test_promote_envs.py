"""`registry promote --from-env/--to-env`: endpoints from the registry environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.app.promote.envs import resolve
from patchwarden.config.loader import load_config
from patchwarden.config.schema import Config
from patchwarden.errors import UsageError

CONFIG = """
environments:
  - name: dev
    registry: {repository: reg.example.com/dev/app}
  - name: staging
    registry: {repository: reg.example.com/staging/app, tag: staging}
  - name: prod
    registry: {repository: prod.example.com/app, immutable: true}
  - name: hosts
    engine: unix:///run/podman/podman.sock
    containers: {label: env=prod}
"""
D = "sha256:" + "a" * 64


@pytest.fixture()
def cfg(tmp_path: Path) -> Config:
    (tmp_path / "patchwarden.yaml").write_text(CONFIG)
    return load_config(tmp_path / "patchwarden.yaml")


def test_both_environments(cfg: Config) -> None:
    e = resolve(cfg, ["1.4.2"], "dev", "prod")
    assert str(e.source) == "reg.example.com/dev/app:1.4.2"
    assert str(e.destination) == "prod.example.com/app:1.4.2"
    assert e.immutable is True
    e = resolve(cfg, [], "staging", "prod")  # staging names its tag
    assert (e.source.tag, e.destination.tag) == ("staging", "staging")
    e = resolve(cfg, ["1.4.2"], "dev", "staging")  # staging's own tag wins at the destination
    assert str(e.destination) == "reg.example.com/staging/app:staging" and not e.immutable
    e = resolve(cfg, [f"1.4.2@{D}"], "dev", "prod")
    assert e.source.digest == D and e.destination.tag == "1.4.2"


def test_one_environment_and_an_image(cfg: Config) -> None:
    e = resolve(cfg, ["ghcr.io/acme/app:2.0"], None, "dev")
    assert str(e.destination) == "reg.example.com/dev/app:2.0"
    e = resolve(cfg, ["other.example.com/app"], "staging", None)
    assert str(e.source) == "reg.example.com/staging/app:staging"
    assert e.destination.name == "other.example.com/app"
    e = resolve(cfg, ["ghcr.io/a/b:1", "ghcr.io/c/d:1"], None, None)
    assert e.source.name == "ghcr.io/a/b"


@pytest.mark.parametrize(
    ("args", "src", "dst", "message"),
    [
        ([], "dev", "prod", "has no tag"),
        ([f"@{D}"], "dev", "prod", "has no tag"),  # a digest alone names no tag for prod
        (["1", "2"], "dev", "prod", r"takes \[TAG\|@DIGEST\], got 2"),
        ([], None, "prod", "takes SRC, got 0"),
        (["x"], None, None, "takes SRC DST"),
        (["1"], "nope", "prod", r"no environment of that name \(configured: dev, staging"),
        (["1"], "hosts", "prod", "its target is engine, not a registry"),
        (["bad tag"], "dev", "prod", "is not a tag or @digest"),
    ],
)
def test_errors_say_what_to_give(
    cfg: Config, args: list[str], src: str | None, dst: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(cfg, args, src, dst)
