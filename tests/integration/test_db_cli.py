"""`patchwarden db` end to end: the real CLI process, a local OSV-bucket HTTP server."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from testkit.cli_process import cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "osv"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "bucket"
    d = root / "Alpine"
    d.mkdir(parents=True)
    records = [json.loads(p.read_text()) for p in sorted((FIXTURES / "Alpine").glob("*.json"))]
    with zipfile.ZipFile(d / "all.zip", "w") as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    (d / "modified_id.csv").write_text("".join(f"{r['modified']},{r['id']}\n" for r in records))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_status_json(tmp_path: Path) -> None:
    db = tmp_path / "adv.db"
    proc = cli(
        "db",
        "import",
        str(FIXTURES / "PyPI"),
        str(FIXTURES / "npm"),
        "--db",
        str(db),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 230
    proc = cli("db", "status", "--db", str(db), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["records"] == 230
    eco = {e["ecosystem"]: e for e in data["ecosystems"]}
    assert (eco["PyPI"]["records"], eco["npm"]["records"]) == (213, 17)
    assert eco["PyPI"]["age_seconds"] < 600 and eco["PyPI"]["last_update"].endswith("Z")
    table = cli("db", "status", "--db", str(db), cwd=tmp_path)
    assert "PyPI" in table.stdout and "213" in table.stdout


def test_env_var_selects_db_and_bad_zip_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    bogus = tmp_path / "all.zip"
    bogus.write_text("not a zip")
    env = {"PATCHWARDEN_ADVISORY_DB": str(db)}
    assert cli("db", "import", str(FIXTURES / "Go"), cwd=tmp_path, env=env).returncode == 0
    proc = cli("db", "import", str(bogus), cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "not a readable zip archive" in proc.stderr
    status = json.loads(cli("db", "status", "-f", "json", cwd=tmp_path, env=env).stdout)
    assert status["records"] == 62  # unchanged


def test_status_without_index(tmp_path: Path) -> None:
    proc = cli("db", "status", "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "no advisory index" in proc.stderr and "db update" in proc.stderr


def test_update_from_config_then_offline(bucket: tuple[Path, str], tmp_path: Path) -> None:
    _, base = bucket
    db = tmp_path / "adv.db"
    (tmp_path / "patchwarden.yaml").write_text(
        f"advisories:\n  base_url: {base}\n  db_path: {db}\n  ecosystems: [Alpine]\n"
    )
    proc = cli("db", "update", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [res] = json.loads(proc.stdout)["ecosystems"]
    assert (res["ecosystem"], res["mode"], res["added"]) == ("Alpine", "full", 363)
    # Offline: exit 3, a clear message, the index still answers.
    (tmp_path / "patchwarden.yaml").write_text(
        f"advisories:\n  base_url: http://127.0.0.1:9\n  db_path: {db}\n"
    )
    proc = cli("db", "update", "-e", "Alpine", cwd=tmp_path)
    assert proc.returncode == 3
    assert "cannot download" in proc.stderr
    status = json.loads(cli("db", "status", "-f", "json", cwd=tmp_path).stdout)
    assert status["records"] == 363


def test_help_teaches() -> None:
    proc = cli("db", "import", "--help", cwd=Path.cwd())
    assert proc.returncode == 0 and "all.zip" in proc.stdout and "Exit codes" in proc.stdout
