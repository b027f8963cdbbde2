"""Stored SBOMs re-matched after an advisory refresh: the same findings as matching each image
on its own, and "a new CVE affects running image X" raised once, visible in the API and the
dashboard. Real advisory records (tests/fixtures/osv), a real SQLite state store, a real HTTP
receiver for the alert."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.match import match
from patchwarden.app.refresh import brief, rematch
from patchwarden.app.refresh.codec import encode_os, encode_package
from patchwarden.config.schema import Config
from patchwarden.config.serve import JobName
from patchwarden.scan.model import OSInfo, Package, PackageType
from patchwarden.service.app import build_app
from patchwarden.service.kinds import run_kind
from patchwarden.service.process import Service
from patchwarden.service.runner import Trigger
from patchwarden.store import open_store
from patchwarden.store.fleet import FleetItem
from patchwarden.store.sboms import SbomStore
from testkit.receiver import WebhookSink
from testkit.serve_helpers import ADMIN

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"
LATE = "DSA-5330-1"  # curl < 7.74.0-1.3+deb11u5 in Debian:11: "published" by the refresh


def pkg(name: str, version: str, kind: PackageType, **kw: Any) -> Package:
    purl = f"pkg:{kind.value}/{name}@{version}"
    return Package(name, version, kind, purl=purl, layer="sha256:l", path="p", **kw)


CURL_U1 = pkg("libcurl4", "7.74.0-1.3+deb11u1", PackageType.DEB, source_name="curl",
              source_version="7.74.0-1.3+deb11u1")  # fmt: skip
CURL_U2 = pkg("curl", "7.74.0-1.3+deb11u2", PackageType.DEB)
REQUESTS = pkg("requests", "2.30.0", PackageType.PYTHON)
IMAGES: list[tuple[str, OSInfo | None, list[Package]]] = [
    ("sha256:" + "1" * 64, OSInfo("debian", "11"), [CURL_U1, CURL_U2, REQUESTS]),
    ("sha256:" + "2" * 64, OSInfo("debian", "11"), [CURL_U2]),
    ("sha256:" + "3" * 64, OSInfo("ubuntu", "22.04"), [CURL_U2, REQUESTS]),
    ("sha256:" + "4" * 64, None, [REQUESTS, CURL_U1]),
]


def _index(path: Path, sources: list[str]) -> AdvisoryIndex:
    index = AdvisoryIndex(path, create=True)
    report = import_sources(index, sources)
    assert not report.malformed and report.added
    return index


@pytest.fixture()
def early_osv(tmp_path: Path) -> Path:
    """The fixture records without the one the refresh brings."""
    early = tmp_path / "osv-early"
    shutil.copytree(FIXTURES, early)
    (early / "Debian" / f"{LATE}.json").unlink()
    return early


def test_rematch_gives_what_matching_each_image_alone_gives(tmp_path: Path) -> None:
    index = _index(tmp_path / "adv.db", [str(FIXTURES)])
    with open_store(str(tmp_path / "s.db")) as store:
        sboms = SbomStore(store.engine)
        for digest, os, packages in IMAGES:
            sboms.put(
                digest, f"reg/app@{digest}", encode_os(os), [encode_package(p) for p in packages]
            )
        got = {m.digest: m.findings for m in rematch(index, sboms.iter_all())}
    want = {d: brief(match(index, packages, os)) for d, os, packages in IMAGES}
    assert got == want
    assert want[IMAGES[0][0]] and LATE in want[IMAGES[0][0]]  # not a vacuous comparison
    assert LATE in want[IMAGES[1][0]]
    assert "DSA-5197-1" in want[IMAGES[0][0]]  # deb11u1 only (fixed in u2)
    assert "DSA-5197-1" not in want[IMAGES[1][0]]
    assert not any(k.startswith("DSA") for k in want[IMAGES[3][0]])  # no OS: no distro records
    index.close()


@pytest.fixture()
def refreshed(tmp_path: Path, early_osv: Path) -> Iterator[tuple[Service, list[dict[str, Any]]]]:
    db = tmp_path / "adv.db"
    _index(db, [str(early_osv)]).close()
    with WebhookSink() as sink:
        url, got = sink.apprise_url(), sink.bodies
        cfg = Config.model_validate(
            {
                "advisories": {"db_path": str(db)},
                "serve": {
                    "alert_severity": "unknown",
                    "notify": [{"url_env": "CHAT", "events": ["new-vulnerability", "job-failed"]}],
                    "templates": {
                        "job-failed": {"title": "FAILED $job", "body": "$summary ($$0)"},
                    },
                },
            }
        )
        env = {"PATCHWARDEN_API_TOKEN": ADMIN, "CHAT": url}
        (tmp_path / "repo").mkdir()
        svc = Service(cfg, [tmp_path / "repo"], state=str(tmp_path / "s.db"), env=env)
        now = datetime.now(UTC)
        for digest, os, packages in IMAGES[:2]:
            svc.sboms.put(
                digest, f"reg/app@{digest}", encode_os(os), [encode_package(p) for p in packages]
            )
        svc.fleet.save_results(
            [
                FleetItem(
                    "container:web",
                    "container:web",
                    "reg/app",
                    "reg/app",
                    "up-to-date",
                    None,
                    "1",
                    IMAGES[1][0],
                    None,
                    None,
                    "",
                    now,
                ),
                FleetItem(
                    "file:Dockerfile:1",
                    "Dockerfile:1",
                    "reg/app",
                    "reg/app",
                    "up-to-date",
                    None,
                    "1",
                    IMAGES[0][0],
                    None,
                    None,
                    "",
                    now,
                ),
            ]
        )
        yield svc, got
        svc.stop(1)


def test_a_refresh_alerts_once_per_new_cve_and_shows_it(
    refreshed: tuple[Service, list[dict[str, Any]]], early_osv: Path, tmp_path: Path
) -> None:
    svc, got = refreshed
    first = run_kind(JobName.ADVISORY_REFRESH, svc.ctx, {"update": False})
    assert "2 stored SBOMs re-matched" in first.summary and first.changes == 0
    assert got == []  # the first match is the baseline: nothing is new
    assert svc.image_findings(new_only=True) == []
    # the refresh: the late record arrives in the index (as `db update` would bring it)
    with AdvisoryIndex(tmp_path / "adv.db") as index:
        import_sources(index, [str(FIXTURES / "Debian" / f"{LATE}.json")])
    res = run_kind(JobName.ADVISORY_REFRESH, svc.ctx, {"update": False})
    assert res.changes == 2, res.summary  # both images gained it: two alerts
    assert res.data["new_vulnerabilities"] == {
        f"reg/app@{IMAGES[0][0]}": [LATE],
        f"reg/app@{IMAGES[1][0]}": [LATE],
    }
    titles = sorted(g["title"] for g in got)
    assert titles == [
        f"[patchwarden] new {LATE} affects image reg/app@{IMAGES[0][0]}",
        f"[patchwarden] new {LATE} affects running image reg/app@{IMAGES[1][0]}",
    ]
    web = next(g for g in got if "running" in g["title"])
    assert "containers: web" in web["message"] and "curl 7.74.0-1.3+deb11u2" in web["message"]
    # templates: a failing job's alert in the configured words
    svc.ctx.sboms = None  # the job cannot run without its store
    svc.runner.submit("advisory-refresh", Trigger("api", "test"))
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got[2]["title"] == "[patchwarden] FAILED advisory-refresh"
    assert got[2]["message"] == "advisory-refresh job: no SBOM store in this process ($0)"
    svc.ctx.sboms = svc.sboms
    # once: a third refresh with nothing new is silent
    again = run_kind(JobName.ADVISORY_REFRESH, svc.ctx, {"update": False})
    assert again.changes == 0 and len(got) == 3
    # visible: the API, the fleet's counts, the dashboard
    with TestClient(build_app(svc, manage=False), base_url="http://127.0.0.1") as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        images = client.get("/api/v1/findings?new_only=1", headers=auth).json()["images"]
        web_img = next(i for i in images if i["digest"] == IMAGES[1][0])
        assert [n["id"] for n in web_img["new"]] == [LATE]
        assert web_img["used_by"] == ["container:web"] and web_img["new"][0]["since"]
        assert svc.fleet.item("container:web").vulns == {"by_severity": {"unknown": 2}}  # type: ignore[union-attr]
        client.post("/login", data={"token": ADMIN})
        page = client.get("/").text
        assert LATE in page and "New vulnerabilities" in page
