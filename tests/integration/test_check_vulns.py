"""`check --vulns` end to end: real images in a real registry, real OSV records.

The images are Debian 11 with a dpkg status listing curl, zlib1g (source zlib) and, in 2.0.0,
libexpat1 (source expat) at versions chosen against these records (tests/fixtures/osv/Debian,
derived from Debian's DSA list; each has one Debian:11 range `introduced 0, fixed X`):

  DSA-5330-1  curl  fixed 7.74.0-1.3+deb11u5  (CVE-2022-32221, CVE-2022-43552 -> id stays DSA)
  DSA-5365-1  curl  fixed 7.74.0-1.3+deb11u7  (CVE-2023-23916 -> finding id CVE-2023-23916)
  DSA-5218-1  zlib  fixed 1:1.2.11.dfsg-2+deb11u2  (CVE-2022-37434)
  DSA-5266-1  expat fixed 2.2.10-2+deb11u5  (CVE-2022-43680)
  DSA-5197-1  curl  fixed 7.74.0-1.3+deb11u2  (never matches: every curl here is newer)

  tag    curl            zlib  expat  -> findings
  1.0.0  deb11u3         u1    -      DSA-5330-1, CVE-2023-23916, CVE-2022-37434
  1.0.1  deb11u5         u1    -      CVE-2023-23916, CVE-2022-37434      (fixes DSA-5330-1)
  1.1.0  deb11u7         u2    -      none                                 (fixes all three)
  2.0.0  deb11u7         u2    u4     CVE-2022-43680                       (fixes 3, adds 1)
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from testkit.cli_process import cli, import_advisories

pytestmark = pytest.mark.integration
OSV = Path(__file__).parents[1] / "fixtures" / "osv"
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'


def status(curl: str, zlib: str, expat: str | None) -> bytes:
    paras = [
        f"Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {curl}\n",
        f"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\n"
        f"Version: {zlib}\n",
    ]
    if expat:
        paras.append(
            f"Package: libexpat1\nStatus: install ok installed\nArchitecture: amd64\n"
            f"Source: expat\nVersion: {expat}\n"
        )
    return "\n".join(paras).encode()


BUILDS = {
    "1.0.0": ("7.74.0-1.3+deb11u3", "1:1.2.11.dfsg-2+deb11u1", None),
    "1.0.1": ("7.74.0-1.3+deb11u5", "1:1.2.11.dfsg-2+deb11u1", None),
    "1.1.0": ("7.74.0-1.3+deb11u7", "1:1.2.11.dfsg-2+deb11u2", None),
    "2.0.0": ("7.74.0-1.3+deb11u7", "1:1.2.11.dfsg-2+deb11u2", "2.2.10-2+deb11u4"),
}


@dataclass(frozen=True)
class World:
    repo: Path  # a repository whose Dockerfile names the images pushed
    db: Path  # the advisory index built from the Debian records
    tmp: Path


@pytest.fixture(scope="module")
def world(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path_factory: pytest.TempPathFactory
) -> World:
    tmp = tmp_path_factory.mktemp("vulns")
    ns = f"v{uuid.uuid4().hex[:8]}"
    for name, tags in (("app", BUILDS), ("strict", {t: BUILDS[t] for t in ("1.0.0", "2.0.0")})):
        for tag, (curl, zlib, expat) in tags.items():
            files = {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": status(curl, zlib, expat)}
            pusher.image(plain_registry, f"{ns}/{name}", tag, files=files)
    db = import_advisories(OSV / "Debian", tmp / "adv.db")
    R = plain_registry.host
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        f"FROM {R}/{ns}/app:1.0.0\nFROM {R}/{ns}/app:1.1.0\nFROM {R}/{ns}/strict:1.0.0\n"
        f"FROM {R}/{ns}/strict:2.0.0\n"
    )
    (repo / "patchwarden.yaml").write_text(
        "images:\n  - match: '*/strict'\n    require: [no-new-vulnerabilities]\n"
    )
    return World(repo=repo, db=db, tmp=tmp)


def vulns_cli(
    world: World, command: str, *extra: str, cwd: Path | None = None, columns: int = 250
) -> subprocess.CompletedProcess[str]:
    """``patchwarden COMMAND . --vulns`` on the world's index and cache, as a real process."""
    db, cache = str(world.db), str(world.tmp / "cache")
    args = (command, ".", "--vulns", "--db", db, "--cache-dir", cache, *extra)
    return cli(*args, cwd=cwd or world.repo, timeout=300, columns=columns)


def run_check(world: World, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = vulns_cli(world, "check", "--format", "json", *extra)
    assert proc.stdout, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, data


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


def test_smallest_update_that_fixes_the_most_is_recommended(world: World) -> None:
    code, data = run_check(world)
    assert code == 0
    app = data["results"][0]
    v = app["vulnerabilities"]
    assert ids(v["current"]["findings"]) == {"DSA-5330-1", "CVE-2023-23916", "CVE-2022-37434"}
    assert v["current"]["fixable"] == 3  # each has a fixed version in the records
    options = {o["tag"]: o for o in v["options"]}
    assert set(options) == {"1.0.1", "1.1.0", "2.0.0"}  # newest patch, minor, major
    assert ids(options["1.0.1"]["fixed"]) == {"DSA-5330-1"} and options["1.0.1"]["introduced"] == []
    assert ids(options["1.1.0"]["fixed"]) == {"DSA-5330-1", "CVE-2023-23916", "CVE-2022-37434"}
    assert options["1.1.0"]["introduced"] == []
    assert ids(options["2.0.0"]["introduced"]) == {"CVE-2022-43680"}
    # 1.1.0 and 2.0.0 both fix all three: a tie, so the plain policy's choice (the newest,
    # 2.0.0) is kept and the reason says so; --vulns alone (no vulnerability rule in the
    # policy) never changes the candidate
    assert v["recommended"] == "2.0.0"
    assert (app["candidate"]["tag"], app["update"], app["status"]) == ("2.0.0", "major", "outdated")
    assert "2.0.0 and 1.1.0 fix the same number of known vulnerabilities (3" in app["reason"]
    assert "keeping the policy's choice 2.0.0" in app["reason"]


def test_update_that_fixes_nothing_reports_what_it_introduces(world: World) -> None:
    _, data = run_check(world)
    latest = data["results"][1]  # app:1.1.0: only 2.0.0 is newer, and it adds CVE-2022-43680
    assert latest["vulnerabilities"]["current"]["total"] == 0
    (option,) = latest["vulnerabilities"]["options"]
    assert option["tag"] == "2.0.0" and ids(option["introduced"]) == {"CVE-2022-43680"}
    # no gate configured for app: the update is still proposed, and says what it brings in
    assert latest["candidate"]["tag"] == "2.0.0"
    assert "introduces 1" in latest["vulnerabilities"]["summary"]


def test_gate_stops_a_candidate_and_says_which(world: World) -> None:
    _, data = run_check(world)
    strict = data["results"][2]
    assert strict["status"] == "skipped" and strict["candidate"] is None
    assert (
        "require no-new-vulnerabilities" in strict["reason"]
        and "CVE-2022-43680" in strict["reason"]
    )


def test_no_newer_tag_still_reports_what_a_rebuild_would_fix(world: World) -> None:
    _, data = run_check(world)
    newest = data["results"][3]  # strict:2.0.0 has expat deb11u4; DSA-5266-1 fixes it in u5
    assert newest["status"] == "up-to-date"
    v = newest["vulnerabilities"]
    assert ids(v["current"]["findings"]) == {"CVE-2022-43680"} and v["current"]["fixable"] == 1
    assert "1 fixable by the distro: rebuild the image" in v["summary"]


def test_table_output_shows_the_summary(world: World) -> None:
    proc = vulns_cli(world, "check", "--no-progress", columns=200)
    assert "2.0.0 fixes 3" in proc.stdout and "introduces 1" in proc.stdout


def test_update_dry_run_pr_body_lists_fixed_and_introduced(world: World) -> None:
    proc = vulns_cli(world, "update", "--dry-run", "--format", "json", columns=200)
    assert proc.returncode == 0, proc.stderr
    groups = json.loads(proc.stdout)["groups"]
    app = next(g for g in groups if g["branch"].endswith("-app"))
    body = app["body"]
    assert "### Vulnerabilities" in body
    for cve in ("DSA-5330-1", "CVE-2023-23916", "CVE-2022-37434"):
        assert f"| fixed | {cve} |" in body
    assert "| **introduced** | CVE-2022-43680 |" in body  # app:1.1.0 -> 2.0.0 brings expat in
    assert "+FROM" in app["diff"] and "app:1.1.0" in app["diff"]


def test_ignore_file_and_stale_index_apply_to_check_vulns(world: World) -> None:
    """.patchwarden-vulnignore.yaml in the working directory hides a finding from check --vulns
    (and so from its gates); an index older than advisories.max_age is a warning on stderr."""
    import shutil

    repo = world.tmp / "ignoring"
    shutil.copytree(world.repo, repo)
    (repo / ".patchwarden-vulnignore.yaml").write_text(
        "ignore:\n  - id: CVE-2022-37434\n    reason: not reachable here\n    expires: 2099-01-01\n"
    )
    config = (repo / "patchwarden.yaml").read_text()
    (repo / "patchwarden.yaml").write_text(config + "advisories:\n  max_age: 1s\n")
    time.sleep(1.1)  # the index was imported when the module started: now it is > 1s old
    proc = vulns_cli(world, "check", "--format", "json", cwd=repo)
    data = json.loads(proc.stdout)
    current = ids(data["results"][0]["vulnerabilities"]["current"]["findings"])
    assert current == {"DSA-5330-1", "CVE-2023-23916"}
    assert "warning:" in proc.stderr and "advisories.max_age is 1s" in proc.stderr


def test_serve_check_with_vulns_shows_fixed_and_introduced_on_the_image_page(
    world: World, tmp_path: Path
) -> None:
    """``serve.jobs.check.params.vulns``: serve's check is ``check --vulns``; the dashboard's
    page of a reference lists what its candidate fixes and introduces."""
    from starlette.testclient import TestClient

    from patchwarden.config.loader import load_config
    from patchwarden.service.app import build_app
    from patchwarden.service.process import Service

    config = tmp_path / "patchwarden.yaml"
    config.write_text(
        (world.repo / "patchwarden.yaml").read_text()
        + f"advisories:\n  db_path: {world.db}\ncache:\n  dir: {tmp_path / 'cache'}\n"
        # scheduled never (February 30th): it runs when the API asks, with its parameters
        + "serve:\n  jobs:\n    check:\n      cron: '0 0 30 2 *'\n      params: {vulns: true}\n"
    )
    admin = "pw-vulns-admin-" + "7" * 24
    svc = Service(
        load_config(config), [world.repo], state=str(tmp_path / "s.db"),
        env={"PATCHWARDEN_API_TOKEN": admin},
    )  # fmt: skip
    with TestClient(build_app(svc, grace=5), base_url="http://127.0.0.1") as c:
        auth = {"Authorization": f"Bearer {admin}"}
        assert c.post("/api/v1/jobs/check/run", headers=auth).status_code == 202
        deadline, runs = time.monotonic() + 120, []
        while time.monotonic() < deadline:
            runs = [r for r in c.get("/api/v1/jobs", headers=auth).json()["runs"] if r["finished_at"]]
            if runs:
                break
            time.sleep(0.2)
        assert [r["outcome"] for r in runs] == ["succeeded"], runs
        refs = {r["key"]: r for r in c.get("/api/v1/references", headers=auth).json()["references"]}
        app = refs["file:Dockerfile:1"]  # app:1.0.0 -> 2.0.0 fixes three, introduces one
        assert {f["id"] for f in app["vulns"]["fixed"]} == {
            "DSA-5330-1", "CVE-2023-23916", "CVE-2022-37434"
        }  # fmt: skip
        assert [f["id"] for f in app["vulns"]["introduced"]] == ["CVE-2022-43680"]
        assert c.post("/login", data={"token": admin}).status_code == 200
        page = c.get("/images/file:Dockerfile:1").text
        assert "Fixed by the candidate (3)" in page and "Introduced by the candidate (1)" in page
        assert "CVE-2023-23916" in page and "CVE-2022-43680" in page
    svc.stop(1)
