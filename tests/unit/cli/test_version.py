"""``patchwarden version``: tool, Python, and the index's age, sources and record counts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from patchwarden import __version__
from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.cli.main import build_app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_version_without_and_with_an_index(tmp_path: Path) -> None:
    app = build_app(["version"])
    db = tmp_path / "a.db"
    res = CliRunner().invoke(app, ["version", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"patchwarden {__version__}" in res.output and "none at" in res.output
    with AdvisoryIndex(db, create=True) as index:
        import_sources(index, [str(FIXTURES / "osv" / "Alpine"), str(FIXTURES / "cve")])
    res = CliRunner().invoke(app, ["version", "--db", str(db), "--format", "json"])
    data = json.loads(res.stdout)
    assert data["patchwarden"] == __version__ and data["python"].startswith("3.")
    assert data["index"]["records"] == 363 and 0 <= data["index"]["age_seconds"] < 600
    sources = {s["ecosystem"]: s["records"] for s in data["index"]["sources"]}
    assert sources == {"Alpine": 363, "CVE": 1, "NVD": 6}
