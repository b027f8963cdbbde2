from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from patchwarden.scan.catalogers.npm import NpmCataloger
from testkit.cataloger_helpers import entry, persistent_dir, walk
from testkit.locks import one_at_a_time
from testkit.tools import require_tool, unavailable

CAT = NpmCataloger()
PINS = (
    "lodash@4.17.15",
    "axios@0.21.0",
    "minimist@1.2.5",
    "express@4.17.1",
    "@types/node@14.14.10",
)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("node_modules/lodash/package.json", True),
        ("app/node_modules/lodash/package.json", True),
        ("app/node_modules/@babel/core/package.json", True),
        ("app/node_modules/a/node_modules/b/package.json", True),
        ("app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json", True),
        ("app/package.json", False),
        ("app/node_modules/x/lib/package.json", False),
        ("app/node_modules/x/test/fixtures/y/package.json", False),
        ("app/node_modules/@scope/package.json", False),
        ("app/node_modules/@scope/x/y/package.json", False),
        ("app/node_modules/.package-lock.json", False),
        ("app/my_node_modules/x/package.json", False),
        ("app/node_modules/x/package.json.bak", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert CAT.wants(path, 0o644, 100) is wanted


def test_catalog() -> None:
    data = json.dumps({"name": "@babel/core", "version": "7.23.0", "license": "MIT"}).encode()
    (p,) = CAT.catalog(entry("node_modules/@babel/core/package.json", data)).packages
    assert (p.name, p.version, p.licenses) == ("@babel/core", "7.23.0", ("MIT",))
    assert p.purl == "pkg:npm/%40babel/core@7.23.0"
    legacy = json.dumps({"name": "x", "version": "1.0.0", "license": {"type": "BSD"}}).encode()
    assert CAT.catalog(entry("node_modules/x/package.json", legacy)).packages[0].licenses == (
        "BSD",
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "private-thing", "private": True},
        {"version": "1.0.0"},
        {"name": "x", "version": 1},
        [],
        "x",
    ],
)
def test_skips(doc: Any) -> None:
    assert (
        CAT.catalog(entry("node_modules/x/package.json", json.dumps(doc).encode())).packages == ()
    )


def _flatten(tree: dict[str, Any], out: set[tuple[str, str]]) -> None:
    for name, dep in (tree.get("dependencies") or {}).items():
        if "version" in dep:
            out.add((name, dep["version"]))
        _flatten(dep, out)


@pytest.fixture(scope="session")
@one_at_a_time
def npm_project(request: pytest.FixtureRequest) -> Path:
    npm = require_tool("npm")
    base = persistent_dir(request.config, "npm")
    marker = base / "done.json"
    if not (marker.is_file() and json.loads(marker.read_text()) == list(PINS)):
        shutil.rmtree(base / "node_modules", ignore_errors=True)
        (base / "package.json").write_text('{"name": "gt", "version": "0.0.0", "private": true}')
        (base / "package-lock.json").unlink(missing_ok=True)
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", *PINS],
            cwd=base,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            unavailable(f"npm install failed (registry unreachable?): {result.stderr[-2000:]}")
        marker.write_text(json.dumps(list(PINS)))
    return base


@pytest.mark.integration
def test_ground_truth_against_npm_ls(npm_project: Path) -> None:
    npm = require_tool("npm")
    out = subprocess.run(
        [npm, "ls", "--all", "--json"], cwd=npm_project, capture_output=True, text=True, check=True
    ).stdout
    expected: set[tuple[str, str]] = set()
    _flatten(json.loads(out), expected)
    facts = walk(CAT, npm_project / "node_modules", prefix="app/node_modules/")
    got = [(p.name, p.version) for f in facts.values() for p in f.packages]
    assert set(got) == expected
    assert len(expected) > 50
    for pin in PINS:
        name, _, version = pin.rpartition("@")
        assert (name, version) in expected
