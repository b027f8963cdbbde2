"""An advisory refresh raises "a new CVE affects image X" from stored SBOMs: a real registry
(skopeo pushes the image), ``serve``'s scan job reads it once, a real HTTP server on loopback
serves an OSV bucket (all.zip, then modified_id.csv and one new record), the advisory-refresh
job updates the index and re-matches without reading a layer, and the alert arrives over
real SMTP (aiosmtpd)."""

from __future__ import annotations

import functools
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from testkit.serve_env import SmtpSink, wait_until

pytestmark = pytest.mark.integration

ADMIN = "pw-admin-" + "9" * 32
DEBIAN = Path(__file__).resolve().parents[1] / "fixtures" / "osv" / "Debian"
EARLY = ["DSA-5197-1.json"]  # curl, fixed in 7.74.0-1.3+deb11u2: the image has that fix
LATE = "DSA-5330-1"  # curl < 7.74.0-1.3+deb11u5: published after the image was scanned
STATUS = (
    b"Package: curl\nStatus: install ok installed\nVersion: 7.74.0-1.3+deb11u2\n"
    b"Architecture: amd64\n\n"
    b"Package: libcurl4\nStatus: install ok installed\nVersion: 7.74.0-1.3+deb11u2\n"
    b"Architecture: amd64\nSource: curl\n\n"
)
OS_RELEASE = b'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n'


class Bucket:
    """An OSV bucket layout (``<base>/Debian/all.zip``, ``modified_id.csv``, ``<ID>.json``)
    served by a real HTTP server on loopback."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "Debian").mkdir(parents=True)
        handler = functools.partial(QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.rows: list[str] = []

    def publish_all(self, names: list[str]) -> None:
        with zipfile.ZipFile(self.root / "Debian" / "all.zip", "w") as z:
            for n in names:
                z.writestr(n, (DEBIAN / n).read_text())
                self.rows.insert(0, f"{json.loads((DEBIAN / n).read_text())['modified']},{n[:-5]}")
        self._csv()

    def publish_one(self, rid: str) -> None:
        (self.root / "Debian" / f"{rid}.json").write_text((DEBIAN / f"{rid}.json").read_text())
        self.rows.insert(0, f"2099-01-01T00:00:00Z,{rid}")  # newer than the cursor
        self._csv()

    def _csv(self) -> None:
        (self.root / "Debian" / "modified_id.csv").write_text("\n".join(self.rows) + "\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def bucket(tmp_path: Path) -> Iterator[Bucket]:
    b = Bucket(tmp_path / "osv")
    yield b
    b.close()


def test_refresh_rematches_stored_sboms_and_alerts_over_smtp(
    plain_registry: RegistryServer, pusher: Pusher, bucket: Bucket, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from patchwarden.config.schema import Config
    from patchwarden.service.app import build_app
    from patchwarden.service.process import Service

    digest = pusher.image(
        plain_registry,
        "team/curl",
        "1",
        files={"var/lib/dpkg/status": STATUS, "etc/os-release": OS_RELEASE},
    )
    # an outdated reference: its check records only the candidate's digest, yet what runs
    # now is 1.0, which the scan job must resolve and read too (no curl in it: no findings)
    old = {"etc/os-release": OS_RELEASE}
    running = pusher.image(plain_registry, "team/tool", "1.0", files=old, salt="running")
    newer = pusher.image(plain_registry, "team/tool", "1.1", files=old, salt="newer")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        f"FROM {plain_registry.host}/team/curl:1\nFROM {plain_registry.host}/team/tool:1.0\n"
    )
    bucket.publish_all(EARLY)
    with SmtpSink() as smtp:
        cfg = Config.model_validate(
            {
                "registries": {plain_registry.host: {"insecure": True}},
                "cache": {"dir": str(tmp_path / "cache")},
                "advisories": {
                    "db_path": str(tmp_path / "advisories.db"),
                    "base_url": bucket.url,
                    "ecosystems": ["Debian"],
                },
                "serve": {
                    "alert_severity": "unknown",
                    "notify": [{"url_env": "PW_MAIL", "events": ["new-vulnerability"]}],
                },
            }
        )
        env = {"PATCHWARDEN_API_TOKEN": ADMIN, "PW_MAIL": smtp.apprise_url()}
        svc = Service(cfg, [repo], state=str(tmp_path / "s.db"), env=env)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        with TestClient(build_app(svc, manage=False), base_url="http://127.0.0.1") as c:

            def run(job: str) -> dict[str, Any]:
                before = len(c.get("/api/v1/jobs", headers=admin).json()["runs"])
                assert c.post(f"/api/v1/jobs/{job}/run", headers=admin).status_code == 202

                def done() -> Any:
                    runs = c.get("/api/v1/jobs", headers=admin).json()["runs"]
                    return len(runs) > before and runs[0]["finished_at"] and runs[0]

                finished: dict[str, Any] = wait_until(f"the {job} job", done, timeout=120)
                assert finished["job"] == job and finished["outcome"] == "succeeded", finished
                return finished

            run("check")  # the Dockerfile's image becomes a known image (its digest)
            item = svc.fleet.item("file:Dockerfile:1")
            assert item is not None and item.current_digest == digest
            outdated = svc.fleet.item("file:Dockerfile:2")
            assert outdated is not None and outdated.status == "outdated"
            assert (outdated.current_digest, outdated.candidate_digest) == (None, newer)
            scanned = run("scan")
            assert "2 images scanned" in scanned["detail"], scanned
            assert svc.sboms.known([digest, running, newer]) == {digest, running}
            svc.ctx.scan_pipeline = None  # from here on nothing can read an image
            baseline = run("advisory-refresh")  # full download; the first match is the baseline
            assert "2 stored SBOMs re-matched" in baseline["detail"], baseline
            assert smtp.messages == []
            assert svc.image_findings(new_only=True) == []

            bucket.publish_one(LATE)  # the advisory appears upstream
            t0 = time.monotonic()
            refreshed = run("advisory-refresh")
            mail = wait_until("the new-vulnerability mail", lambda: smtp.messages, timeout=60)
            seconds = time.monotonic() - t0
            assert "1 images gained vulnerabilities; 1 alerts" in refreshed["detail"], refreshed
            assert len(mail) == 1
            text = mail[0]
            assert f"new {LATE} affects image {plain_registry.host}/team/curl@{digest}" in text
            assert "Dockerfile:1" in text and "curl 7.74.0-1.3+deb11u2" in text
            print(f"advisory refresh to alert: {seconds:.2f} s")  # shown with -s
            images = c.get("/api/v1/findings?new_only=1", headers=admin).json()["images"]
            assert [(i["digest"], [n["id"] for n in i["new"]]) for i in images] == [
                (digest, [LATE])
            ]
            assert images[0]["used_by"] == ["file:Dockerfile:1"]
            run("advisory-refresh")  # nothing new upstream: silent
            assert len(smtp.messages) == 1
        svc.stop(1)
