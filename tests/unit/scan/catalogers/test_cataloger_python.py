from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from patchwarden.scan.catalogers._purl import normalize_pypi
from patchwarden.scan.catalogers.python import PythonCataloger
from testkit.cataloger_helpers import entry, persistent_dir, walk
from testkit.locks import one_at_a_time
from testkit.tools import unavailable

CAT = PythonCataloger()
# Old versions on purpose (later CVE tests); all ship py3 wheels, so no build step.
PINS = ("requests==2.25.0", "urllib3==1.26.4", "Jinja2==2.11.2", "six==1.15.0")


def test_wants() -> None:
    assert CAT.wants("usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA", 0o644, 10)
    assert CAT.wants("opt/venv/lib/python3.11/site-packages/x.egg-info/PKG-INFO", 0o644, 10)
    assert CAT.wants("usr/lib/python3/dist-packages/pyxdg-0.28.egg-info", 0o644, 10)
    assert not CAT.wants("usr/lib/python3/dist-packages/x.dist-info/RECORD", 0o644, 10)
    assert not CAT.wants("usr/lib/python3/dist-packages/x.dist-info/METADATA", 0o644, 64 << 20)


def test_metadata_header_only() -> None:
    data = (
        b"Metadata-Version: 2.1\nName: ruamel.yaml.clib\nVersion: 0.2.8\nLicense: MIT\n"
        b"Classifier: X\n\nName: not-me\nVersion: 9\n"
    )
    f = CAT.catalog(entry("a/ruamel.yaml.clib-0.2.8.dist-info/METADATA", data))
    (p,) = f.packages
    assert (p.name, p.version, p.licenses) == ("ruamel.yaml.clib", "0.2.8", ("MIT",))
    assert p.purl == "pkg:pypi/ruamel-yaml-clib@0.2.8"


def test_egg_info_file_and_crlf() -> None:
    data = b"Metadata-Version: 1.1\r\nName: PyXDG\r\nVersion: 0.28\r\nLicense: UNKNOWN\r\n\r\nbody"
    (p,) = CAT.catalog(entry("usr/lib/python3/dist-packages/pyxdg-0.28.egg-info", data)).packages
    assert (p.name, p.version, p.licenses, p.purl) == ("PyXDG", "0.28", (), "pkg:pypi/pyxdg@0.28")


def test_missing_fields() -> None:
    assert CAT.catalog(entry("x.dist-info/METADATA", b"Name: a\n\nVersion: 1\n")).packages == ()
    assert CAT.catalog(entry("x.dist-info/METADATA", b"\xff\xfe\x00")).packages == ()


@pytest.fixture(scope="session")
@one_at_a_time
def old_venv(request: pytest.FixtureRequest) -> Path:
    base = persistent_dir(request.config, "venv")
    venv = base / "venv"
    marker = base / "done.json"
    if not (marker.is_file() and json.loads(marker.read_text()) == list(PINS)):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        result = subprocess.run(
            [*pip, "install", "--quiet", "--only-binary", ":all:", *PINS],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            unavailable(f"pip install failed (PyPI unreachable?): {result.stderr[-2000:]}")
        marker.write_text(json.dumps(list(PINS)))
    return venv


@pytest.mark.integration
def test_ground_truth_venv_against_pip_list(old_venv: Path) -> None:
    out = subprocess.run(
        [
            str(old_venv / "bin" / "python"),
            "-m",
            "pip",
            "list",
            "--format",
            "json",
            "--disable-pip-version-check",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = {(normalize_pypi(d["name"]), d["version"]) for d in json.loads(out)}
    facts = walk(CAT, old_venv, prefix="opt/venv/")
    got = [(normalize_pypi(p.name), p.version) for f in facts.values() for p in f.packages]
    assert len(got) == len(set(got))
    assert set(got) == expected
    for pin in PINS:
        name, version = pin.split("==")
        assert (normalize_pypi(name), version) in expected
    assert all(path.startswith("opt/venv/lib/") for path in facts)
