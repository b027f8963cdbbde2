"""``db update`` against a local HTTP server laid out like OSV's bucket (never the internet)."""

from __future__ import annotations

import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.update import parse_modified_csv, update
from testkit.advisory_helpers import FIXTURES

REQUESTS: list[str] = []


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        REQUESTS.append(self.path)


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "bucket"
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    REQUESTS.clear()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def lay_out(root: Path, ecosystem: str, records: list[dict[str, Any]]) -> None:
    """<root>/<Ecosystem>/all.zip + modified_id.csv (newest first) + <ID>.json."""
    d = root / ecosystem
    d.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(d / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    for rec in records:
        (d / f"{rec['id']}.json").write_text(json.dumps(rec))
    rows = sorted(((r["modified"], r["id"]) for r in records), reverse=True)
    (d / "modified_id.csv").write_text("".join(f"{m},{i}\n" for m, i in rows))


def load(folder: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / folder).glob("*.json"))]


def test_full_then_incremental_then_offline(bucket: tuple[Path, str], tmp_path: Path) -> None:
    root, base = bucket
    debian = [r for r in load("Debian") if r["id"] != "DSA-5197-1"]
    lay_out(root, "Debian", debian)
    index = AdvisoryIndex(tmp_path / "a.db", create=True)

    # First time: all.zip.
    [res] = update(index, ["Debian"], base_url=base)
    assert (res.mode, res.error, res.report.added) == ("full", None, 179)
    assert "/Debian/all.zip" in REQUESTS
    src = index.source("Debian")
    assert src is not None and src.record_count == 179
    newest = max(r["modified"] for r in debian)  # the first row of modified_id.csv
    assert src.cursor == newest.replace("Z", ".000000Z")

    # A new record (DSA-5197-1, modified later) and a changed one appear upstream.
    new = json.loads((FIXTURES / "Debian" / "DSA-5197-1.json").read_text())
    new["modified"] = "2024-05-01T00:00:00Z"
    changed = next(r for r in debian if r["id"] == "DSA-5330-1")
    changed["modified"] = "2024-05-02T00:00:00Z"
    changed["summary"] = "curl - security update (revised)"
    lay_out(root, "Debian", [*debian, new])
    REQUESTS.clear()
    [res] = update(index, ["Debian"], base_url=base)
    assert (res.mode, res.report.added, res.report.replaced) == ("incremental", 1, 1)
    assert sorted(REQUESTS) == [
        "/Debian/DSA-5197-1.json",
        "/Debian/DSA-5330-1.json",
        "/Debian/modified_id.csv",
    ]
    assert index.records(["DSA-5330-1"])["DSA-5330-1"].summary.endswith("(revised)")
    status = index.source("Debian")
    assert status is not None and status.cursor == "2024-05-02T00:00:00.000000Z"

    # Nothing new: only the csv is read.
    REQUESTS.clear()
    [res] = update(index, ["Debian"], base_url=base)
    assert (res.mode, res.report.added, REQUESTS) == ("incremental", 0, ["/Debian/modified_id.csv"])

    # Offline: a clear, transient error; the index is unchanged and usable.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    [res] = update(index, ["Debian"], base_url=dead)
    assert res.error is not None and res.error.transient
    assert "cannot download" in res.error.message and "still usable" in str(res.error.hint)
    assert index.record_count() == 180 and index.lookup("Debian:11", ["curl"])


def test_unknown_ecosystem_is_an_http_error_and_others_go_on(
    bucket: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = bucket
    lay_out(root, "npm", load("npm"))
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    bad, good = update(index, ["Nope", "npm"], base_url=base)
    assert bad.error is not None and "HTTP 404" in bad.error.message
    assert good.error is None and good.report.added == 17


def test_parse_modified_csv_skips_bad_rows() -> None:
    rows = parse_modified_csv("2024-05-01T00:00:00Z,A-1\ngarbage\n2023-01-01T10:00:00.5Z,B-2\n")
    assert rows == [("2024-05-01T00:00:00.000000Z", "A-1"), ("2023-01-01T10:00:00.500000Z", "B-2")]


def test_stale_index_warns_and_auto_update_refreshes_it(
    bucket: tuple[Path, str], tmp_path: Path
) -> None:
    from datetime import timedelta

    from patchwarden.advisories.freshness import index_age, refresh_if_stale, stale_message
    from patchwarden.config.schema import AdvisoriesConfig

    root, base = bucket
    lay_out(root, "Debian", load("Debian"))
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    assert "has never been updated" in (stale_message(index, timedelta(days=1)) or "")
    update(index, ["Debian"], base_url=base)
    assert stale_message(index, timedelta(days=1)) is None
    index._conn.execute("UPDATE sources SET imported_at = '2020-01-01T00:00:00Z'")
    age = index_age(index)
    assert age is not None and age > timedelta(days=365)
    warning = stale_message(index, timedelta(days=1))
    assert warning is not None and "old (advisories.max_age is 1d)" in warning
    # without auto_update: the warning; with it: `db update` against the loopback bucket
    plain = AdvisoriesConfig(base_url=base, ecosystems=["Debian"])
    assert refresh_if_stale(index, plain) == warning
    auto = AdvisoriesConfig(base_url=base, ecosystems=["Debian"], auto_update=True)
    REQUESTS.clear()
    assert refresh_if_stale(index, auto) is None
    assert "/Debian/modified_id.csv" in REQUESTS
    # an unreachable bucket: the old index is used, and the warning says why
    index._conn.execute("UPDATE sources SET imported_at = '2020-01-01T00:00:00Z'")
    dead = AdvisoriesConfig(base_url="http://127.0.0.1:9", ecosystems=["Debian"], auto_update=True)
    text = refresh_if_stale(index, dead) or ""
    assert "could not update the index" in text and "old" in text
    index.close()
