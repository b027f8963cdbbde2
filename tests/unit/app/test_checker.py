"""Checker decisions against an in-memory registry.

The registry here is a small in-memory stand-in for the ``Registry`` Protocol, so the decision
logic can be tested table-style; the same paths run against the real distribution registry in
tests/integration/test_check_cli.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.app.check import Checker, CheckReport, Status, Version
from patchwarden.app.check.drift import StoreTagMemory, TagMemory
from patchwarden.cache.registry import CachingRegistry
from patchwarden.config.policies import PolicyResolver
from patchwarden.config.schema import Config
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import NotFoundError
from patchwarden.policy.model import UpdateLevel
from patchwarden.refs.model import Inventory, Reference, RefKind
from patchwarden.registry.model import ImageConfig, Manifest, ManifestHead, Platform, Registry
from patchwarden.store import Store, StoreError, open_store

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def dg(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class MemoryRegistry:
    def __init__(self, repos: dict[str, dict[str, tuple[str, datetime]]]) -> None:
        self.repos = repos
        self.calls: list[str] = []

    def _repo(self, image: ImageRef) -> dict[str, tuple[str, datetime]]:
        if image.name not in self.repos:
            raise NotFoundError(f"repository {image.repository} not found on {image.registry}")
        return self.repos[image.name]

    def list_tags(self, image: ImageRef) -> list[str]:
        self.calls.append(f"tags {image.name}")
        return list(self._repo(image))

    def head_manifest(self, image: ImageRef) -> ManifestHead:
        self.calls.append(f"head {image.name}:{image.tag}")
        digest, _ = self._repo(image)[image.tag or ""]
        return ManifestHead(digest, "application/vnd.oci.image.manifest.v1+json", 100)

    def get_manifest(self, image: ImageRef) -> Manifest:  # pragma: no cover - not used by check
        raise NotImplementedError

    def image_config(self, image: ImageRef, platform: Platform) -> ImageConfig:
        self.calls.append(f"config {image.name}@{image.digest}")
        for digest, created in self._repo(image).values():
            if digest == image.digest:
                return ImageConfig(digest, created, "linux", "amd64")
        raise NotFoundError("no such manifest")

    def platforms(self, image: ImageRef) -> list[Platform] | None:
        return None

    def request_counts(self) -> dict[str, int]:
        return {}


def tags(*names: str, age_days: int = 30) -> dict[str, tuple[str, datetime]]:
    return {n: (dg(n), NOW - timedelta(days=age_days)) for n in names}


def ref(text: str, line: int = 1) -> Reference:
    return Reference("Dockerfile", line, RefKind.DOCKERFILE, text, parse_reference(text))


def run(
    registry: Registry,
    refs: Sequence[Reference],
    config: Config | None = None,
    tags: TagMemory | None = None,
) -> CheckReport:
    caching = CachingRegistry(registry, None, timedelta(hours=1))
    checker = Checker(
        caching, PolicyResolver(config or Config()), concurrency=4, now=NOW, tags=tags
    )
    return checker.run(Inventory(tuple(refs), ()))


def test_outdated_major_keeps_suffix_and_one_tag_list_per_repo() -> None:
    reg = MemoryRegistry(
        {
            "docker.io/library/node": tags(
                "18-alpine", "20-alpine", "20.1.0-alpine", "20-bookworm", "21-alpine"
            )
        }
    )
    report = run(
        reg, [ref("node:18-alpine", 1), ref("node:18-alpine", 2), ref("node:20-alpine", 3)]
    )
    r = report.results[0]
    assert r.status == Status.OUTDATED and r.update == "major"
    assert r.candidate is not None
    assert r.candidate.tag == "21-alpine" and r.candidate.digest == dg("21-alpine")
    assert reg.calls.count("tags docker.io/library/node") == 1
    assert reg.calls.count("head docker.io/library/node:21-alpine") == 1


def test_up_to_date_version_and_floating_tag_drift(tmp_path: Path) -> None:
    """Drift is remembered in the state store, not the cache: it is reported on every run
    (with no cache at all) until the reference pins the new digest."""
    repos = {"docker.io/library/nginx": tags("1.25.3", "stable")}
    reg = MemoryRegistry(repos)
    with open_store(str(tmp_path / "state.db")) as store:
        memory = StoreTagMemory(lambda: store, now=lambda: NOW)
        first = run(reg, [ref("nginx:1.25.3"), ref("nginx:stable", 2)], tags=memory)
        assert [r.status for r in first.results] == [Status.UP_TO_DATE, Status.UP_TO_DATE]
        assert first.results[1].reason.endswith("followed by digest; digest unchanged")
        repos["docker.io/library/nginx"]["stable"] = (dg("stable-2"), NOW)
        for _ in range(2):  # the second run still reports it (it used to be forgotten)
            memory = StoreTagMemory(lambda: store, now=lambda: NOW)
            r = run(reg, [ref("nginx:stable")], tags=memory).results[0]
            assert r.status == Status.OUTDATED and r.update == "digest"
            assert r.candidate is not None
            assert r.current.digest == dg("stable") and r.candidate.digest == dg("stable-2")
            assert "moved upstream" in r.reason and "unchanged" not in r.reason
            assert memory.problem is None
        pinned = run(reg, [ref(f"nginx:stable@{dg('stable-2')}")], tags=memory).results[0]
        assert pinned.status == Status.UP_TO_DATE


def test_an_unusable_state_store_does_not_fail_the_check(tmp_path: Path) -> None:
    reg = MemoryRegistry({"docker.io/library/nginx": tags("stable")})

    def broken() -> Store:
        raise StoreError("cannot open the state store at sqlite:///x: disk full")

    memory = StoreTagMemory(broken)
    (r,) = run(reg, [ref("nginx:stable")], tags=memory).results
    assert r.status == Status.UP_TO_DATE
    assert memory.problem is not None and "not tracked" in memory.problem


def test_pinned_digest_drift() -> None:
    reg = MemoryRegistry({"docker.io/library/redis": tags("7.2.4")})
    old = dg("old")
    report = run(reg, [ref(f"redis:7.2.4@{old}")])
    r = report.results[0]
    assert r.status == Status.OUTDATED and r.update == "digest"
    assert r.current.digest == old and r.candidate == Version("7.2.4", dg("7.2.4"))


def test_errors_are_per_reference_and_memoized() -> None:
    reg = MemoryRegistry({"docker.io/library/nginx": tags("1.25.3")})
    report = run(
        reg, [ref("missing/thing:1.0"), ref("missing/thing:1.0", 2), ref("nginx:1.25.3", 3)]
    )
    assert [r.status for r in report.results] == [Status.ERROR, Status.ERROR, Status.UP_TO_DATE]
    assert "not found" in report.results[0].reason
    assert reg.calls.count("tags docker.io/missing/thing") == 1


def test_policy_level_ignore_pin_and_min_age() -> None:
    reg = MemoryRegistry(
        {
            "docker.io/library/postgres": tags("16.1", "16.2", "17.0"),
            "docker.io/library/redis": {
                **tags("7.2.3", "7.2.4"),
                "7.2.5": (dg("7.2.5"), NOW - timedelta(hours=5)),
            },
            "docker.io/library/alpine": tags("3.19"),
        }
    )
    cfg = Config.model_validate(
        {
            "images": [
                {"match": "postgres", "level": "minor"},
                {"match": "redis", "min_age": "1d"},
                {"match": "alpine", "pin_digest": True},
                {"match": "busybox", "ignore": True},
            ]
        }
    )
    report = run(
        reg,
        [ref("postgres:16.1"), ref("redis:7.2.3", 2), ref("alpine:3.19", 3), ref("busybox:1", 4)],
        cfg,
    )
    pg, redis, alpine, busy = report.results
    assert pg.candidate is not None and redis.candidate is not None
    assert (pg.candidate.tag, pg.update) == ("16.2", "minor")
    assert "17.0" in pg.reason and "images[0]" in pg.reason
    assert (redis.candidate.tag, redis.update) == ("7.2.4", "patch")
    assert "7.2.5" in redis.reason
    assert (
        alpine.status == Status.OUTDATED
        and alpine.update == "digest"
        and "pin_digest" in alpine.reason
    )
    assert busy.status == Status.SKIPPED and "ignored" in busy.reason
    # min_age reads image configs of candidates only, newest first, stopping at the first old one
    configs = [c for c in reg.calls if c.startswith("config")]
    assert configs == [
        f"config docker.io/library/redis@{dg('7.2.5')}",
        f"config docker.io/library/redis@{dg('7.2.4')}",
    ]


def test_digest_only_reference_is_skipped_with_reason() -> None:
    reg = MemoryRegistry({})
    report = run(reg, [ref(f"nginx@{dg('x')}")])
    assert report.results[0].status == Status.SKIPPED
    assert "pinned by digest only" in report.results[0].reason
    assert reg.calls == []


@pytest.mark.parametrize("level", ["digest"])
def test_digest_level_never_lists_tags(level: str) -> None:
    reg = MemoryRegistry({"docker.io/library/node": tags("18", "20")})
    cfg = Config.model_validate({"defaults": {"level": level}})
    report = run(reg, [ref("node:18")], cfg)
    assert report.results[0].status == Status.UP_TO_DATE
    assert not any(c.startswith("tags") for c in reg.calls)


def test_drift_is_reported_for_every_reference_to_the_moved_tag(tmp_path: Path) -> None:
    repos = {"docker.io/library/nginx": tags("stable")}
    reg = MemoryRegistry(repos)
    refs = [ref("nginx:stable", line) for line in (1, 2, 3)]
    with open_store(str(tmp_path / "state.db")) as store:
        run(reg, refs, tags=StoreTagMemory(lambda: store))
        repos["docker.io/library/nginx"]["stable"] = (dg("moved"), NOW)
        report = run(reg, refs, tags=StoreTagMemory(lambda: store))
    assert [(r.status, r.update) for r in report.results] == [(Status.OUTDATED, "digest")] * 3


def test_commit_message_lists_cves_fixed_and_introduced() -> None:
    from patchwarden.app.check import Assessment, CheckResult, Option, Version
    from patchwarden.app.update import Grouping, commit_message, plan_groups
    from patchwarden.scan.model import Finding, FindingStatus, Package, PackageType, Severity

    pkg = Package("curl", "1", PackageType.DEB, "pkg:deb/debian/curl@1", "sha256:l", "p")

    def f(i: str) -> Finding:
        return Finding(i, (), pkg, "1", "2", FindingStatus.FIXED, Severity.HIGH, "Debian:11")

    best = Option("1.1.0", dg("x"), UpdateLevel.MINOR, (), (f("CVE-1"), f("CVE-2")), (f("CVE-9"),))
    result = CheckResult(
        ref("node:1.0.0"),
        Status.OUTDATED,
        Version("1.0.0", None),
        Version("1.1.0", dg("x")),
        UpdateLevel.MINOR,
        "because",
        vulns=Assessment((f("CVE-1"), f("CVE-2")), (best,), best),
    )
    (group,), _ = plan_groups([result], Grouping.image)
    msg = commit_message(group)
    assert "Fixes: CVE-1, CVE-2" in msg and "Introduces: CVE-9" in msg
    assert msg.startswith("Update node to 1.1.0\n")
