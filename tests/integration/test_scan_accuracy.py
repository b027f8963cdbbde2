"""Scan accuracy against ground truth from the real tools, not from patchwarden itself.

The image (five gzip layers, written here, pushed with skopeo):

1. ``etc/os-release`` of Debian 11 and ``var/lib/dpkg/status`` made of real paragraphs of a
   Debian 12 host (tests/fixtures/scan/images/), versions of five source packages set to
   Debian 11 ones around DSA fixes, and one package in state ``rc``. Truth: ``dpkg-query``.
2. a real venv (``pip install`` of old versions) under /opt/venv. Truth: ``pip list``.
3. a real ``npm install`` tree under /app. Truth: ``npm ls --all --json``.
4. a Go binary built offline by Debian's Go toolchain (standard library only: no module
   proxy offline). Truth: ``go version -m``.
5. deletions: a whiteout of PyYAML's dist-info directory, and an opaque
   ``node_modules/minimist`` holding minimist 1.2.6 (from ``npm pack``). Truth: ``pip list
   --path`` and ``npm ls`` on copies of the trees with the same changes applied.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import push
from patchwarden.scan.catalogers._purl import normalize_pypi
from testkit.scan_images import (
    APP,
    DEB_REMOVED,
    DEB_VERSIONS,
    GO_BIN,
    MINIMIST_NEW,
    OS_RELEASE,
    VENV,
    Files,
    Image,
    build_go,
    build_npm,
    build_venv,
    dpkg_status,
    dpkg_truth,
    go_version_m,
    npm_ls,
    pip_list,
    site_packages,
    tree_files,
    write_image,
)
from testkit.tools import require_tool

# the set-up builds a venv, an npm tree and a Go binary (fresh clone: from the network): slow
# on a loaded machine, so more than the suite's 300 s guard against hangs
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

OSV = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
DPKG, PY, NPM, GO, DEL = range(5)  # layer index of each part of the image


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("PATCHWARDEN_CONFIG", None)
    env.pop("PATCHWARDEN_ADVISORY_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Built:
    image: Image
    ref: str
    oci_archive: Path
    docker_archive: Path
    work: Path
    site_rel: str  # "opt/venv/lib/python3.X/site-packages/"
    pyyaml_dist: str  # "pyyaml-5.3.1.dist-info" (the sdist build names it so)
    deb: list[tuple[str, str, str, str, str]]  # dpkg-query rows
    py_before: set[tuple[str, str]]
    py: set[tuple[str, str]]  # after layer 5
    npm_before: set[tuple[str, str]]
    npm: set[tuple[str, str]]  # after layer 5
    npm_files: set[str]  # package.json paths in the final tree
    go: set[tuple[str, str]]
    db: Path


@pytest.fixture(scope="session")
def built(
    request: pytest.FixtureRequest,
    plain_registry: RegistryServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    for tool in ("skopeo", "dpkg-query", "npm", "go"):
        require_tool(tool)
    cfg = request.config
    work = tmp_path_factory.mktemp("accuracy")
    status = dpkg_status()
    venv, npm_base, go_binary = build_venv(cfg), build_npm(cfg), build_go(cfg)

    sp = site_packages(venv)
    site_rel = VENV + sp.relative_to(venv).as_posix() + "/"
    (pyyaml,) = (p.name for p in sp.iterdir() if p.name.lower().startswith("pyyaml-"))
    minimist_new = npm_base / "pack" / "package"
    deletions: Files = {
        f"{site_rel}.wh.{pyyaml}": (b"", 0o644),
        f"{APP}node_modules/minimist/.wh..wh..opq": (b"", 0o644),
        **tree_files(minimist_new, f"{APP}node_modules/minimist/"),
    }
    layers = [
        {"etc/os-release": (OS_RELEASE, 0o644), "var/lib/dpkg/status": (status, 0o644)},
        tree_files(venv, VENV, skip=("__pycache__",)),
        tree_files(npm_base / "app", APP),
        {GO_BIN: (go_binary.read_bytes(), 0o755)},
        deletions,
    ]
    image = write_image(work / "layout", "v1", layers)
    ref = f"{plain_registry.host}/accuracy/app:v1"
    push(image.layout, "v1", ref)
    skopeo = require_tool("skopeo")
    oci_arc, dock_arc = work / "oci.tar", work / "docker.tar"
    for dest in (f"oci-archive:{oci_arc}:v1", f"docker-archive:{dock_arc}:example.com/acc:v1"):
        subprocess.run(
            [skopeo, "copy", "--quiet", f"oci:{image.layout}:v1", dest],
            check=True,
            capture_output=True,
            timeout=120,
        )

    # the same deletions applied to copies of the real trees, then asked of the real tools
    sp_after = work / "site-packages"
    shutil.copytree(sp, sp_after, symlinks=True)
    shutil.rmtree(sp_after / pyyaml)
    app_after = work / "app"
    shutil.copytree(npm_base / "app", app_after, symlinks=True)
    shutil.rmtree(app_after / "node_modules" / "minimist")
    shutil.copytree(minimist_new, app_after / "node_modules" / "minimist")
    (app_after / "node_modules" / ".package-lock.json").unlink()  # stale: npm must look
    npm_files = {
        APP + p.relative_to(app_after).as_posix()
        for p in (app_after / "node_modules").rglob("package.json")
    }

    db = work / "adv.db"
    proc = cli("db", "import", str(OSV), "--db", str(db), cwd=work)
    assert proc.returncode == 0, proc.stderr
    return Built(
        image=image,
        ref=ref,
        oci_archive=oci_arc,
        docker_archive=dock_arc,
        work=work,
        site_rel=site_rel,
        pyyaml_dist=pyyaml,
        deb=dpkg_truth(status, work),
        py_before=pip_list(venv),
        py=pip_list(venv, sp_after),
        npm_before=npm_ls(npm_base / "app"),
        npm=npm_ls(app_after),
        npm_files=npm_files,
        go=go_version_m(go_binary),
        db=db,
    )


def scan(built: Built, *args: str, expect_rc: int = 0) -> dict[str, Any]:
    proc = cli("scan", *args, "--no-cache", "--format", "json", cwd=built.work)
    assert proc.returncode == expect_rc, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


@pytest.fixture(scope="session")
def sbom(built: Built) -> dict[str, Any]:
    return scan(built, built.ref, "--sbom-only")


@pytest.fixture(scope="session")
def vulns(built: Built) -> dict[str, Any]:
    return scan(built, built.ref, "--db", str(built.db))


def by_type(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in report["packages"] if p["type"] == kind]


# --- 1. packages vs. the tools' ground truth ---------------------------------------------------


def test_ground_truth_sanity(built: Built) -> None:
    """The trees are what the tests assume (old versions, deletions really took effect)."""
    rows = {r[0]: r for r in built.deb}
    assert rows[DEB_REMOVED][4] == "rc"
    assert rows["libcurl4"][1:4] == ("7.74.0-1.3+deb11u1", "curl", "7.74.0-1.3+deb11u1")
    assert rows["bash"][1:4] == ("5.2.15-2+b8", "bash", "5.2.15-2")  # binNMU source version
    py_before = {(normalize_pypi(n), v) for n, v in built.py_before}
    assert {("pyyaml", "5.3.1"), ("requests", "2.25.0"), ("jinja2", "2.11.2")} <= py_before
    assert built.py_before - built.py == {("PyYAML", "5.3.1")}
    assert built.npm_before - built.npm == {("minimist", "1.2.5")}
    assert built.npm - built.npm_before == {("minimist", MINIMIST_NEW)}
    assert {("lodash", "4.17.15"), ("axios", "0.21.0")} <= built.npm
    assert [n for n, _ in built.go] == ["stdlib"]


def test_registry_packages_equal_ground_truth(built: Built, sbom: dict[str, Any]) -> None:
    layers = built.image.layers
    assert sbom["layers"] == layers  # gzip blobs pushed as they are
    assert sbom["os"]["id"] == "debian" and sbom["os"]["version_id"] == "11"
    assert {p["type"] for p in sbom["packages"]} == {"deb", "python", "npm", "go"}

    deb = by_type(sbom, "deb")
    installed = {r[:4] for r in built.deb if r[4] == "ii"}
    assert {
        (
            p["name"],
            p["version"],
            p["source_name"] or p["name"],
            p["source_version"] or p["version"],
        )
        for p in deb
    } == installed
    assert len(deb) == len(installed) == len(built.deb) - 1
    for name, version in DEB_VERSIONS.items():
        assert (name, version) in {(p["name"], p["version"]) for p in deb}
    assert all(p["layer"] == layers[DPKG] and p["path"] == "var/lib/dpkg/status" for p in deb)

    py = by_type(sbom, "python")
    got_py = Counter((normalize_pypi(p["name"]), p["version"]) for p in py)
    assert set(got_py) == {(normalize_pypi(n), v) for n, v in built.py}
    assert max(got_py.values()) == 1
    for p in py:
        assert p["layer"] == layers[PY]
        dist = re.sub(r"[-_.]+", "_", p["name"]) + f"-{p['version']}.dist-info"
        assert p["path"].lower() == f"{built.site_rel}{dist}/METADATA".lower()
    assert not any(p["name"] == "PyYAML" for p in py)

    npm = by_type(sbom, "npm")
    assert {(p["name"], p["version"]) for p in npm} == built.npm
    assert {p["path"] for p in npm} == built.npm_files  # each installed copy, once
    assert len(npm) == len(built.npm_files)
    for p in npm:
        new = p["path"] == f"{APP}node_modules/minimist/package.json"
        assert p["layer"] == layers[DEL if new else NPM]
        if new:
            assert p["version"] == MINIMIST_NEW

    go = by_type(sbom, "go")
    assert {(p["name"], p["version"]) for p in go} == built.go
    assert all(p["layer"] == layers[GO] and p["path"] == GO_BIN for p in go)


def _normalized(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    """Packages with their layer as an index (docker-archive names layers by diff_id)."""
    index = {d: i for i, d in enumerate(report["layers"])}
    return {
        (p["type"], p["name"], p["version"], p["path"], p["purl"], index[p["layer"]])
        for p in report["packages"]
    }


def test_every_source_gives_the_same_packages(built: Built, sbom: dict[str, Any]) -> None:
    want = _normalized(sbom)
    layout = scan(built, "--oci-layout", str(built.image.layout), "--sbom-only")
    oci = scan(built, "--archive", str(built.oci_archive), "--sbom-only")
    docker = scan(built, "--archive", str(built.docker_archive), "--sbom-only")
    assert layout["layers"] == oci["layers"] == built.image.layers
    assert docker["layers"] == built.image.diff_ids  # docker-archive: uncompressed layers
    for report in (layout, oci, docker):
        assert _normalized(report) == want
        assert len(report["packages"]) == len(sbom["packages"])


def test_a_layout_with_several_images_is_scanned_as_dir_colon_tag(
    built: Built, sbom: dict[str, Any], tmp_path: Path
) -> None:
    """skopeo writes two tags into one layout: without a tag the scan names them and stops
    (exit 2); ``DIR:TAG`` scans the one asked for."""
    skopeo = require_tool("skopeo")
    layout = tmp_path / "two"
    for tag in ("first", "second"):
        subprocess.run(
            [skopeo, "copy", "--quiet", f"oci:{built.image.layout}:v1", f"oci:{layout}:{tag}"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    proc = cli("scan", "--oci-layout", str(layout), "--sbom-only", "--no-cache", cwd=built.work)
    assert proc.returncode == 2, proc.stderr
    assert "holds 2 images" in proc.stderr and "first, second" in proc.stderr
    report = scan(built, "--oci-layout", f"{layout}:second", "--sbom-only")
    assert _normalized(report) == _normalized(sbom)
    proc = cli("scan", "--oci-layout", f"{layout}:third", "--sbom-only", cwd=built.work)
    assert proc.returncode != 0 and "no image tagged 'third'" in proc.stderr


# --- 3. vulnerabilities, checked by hand against the records' ranges ---------------------------
#
# (package, finding id, records, installed, fixed_version, severity). Every finding here is
# status "fixed". Where a record names one CVE the finding is named by it (DEBIAN-CVE-X is
# read as CVE-X); a DSA naming several CVEs keeps its DSA id.
# fmt: off
EXPECTED = [
    # Debian:11 (records name SOURCE packages; the binaries curl+libcurl4 both come from curl)
    # DSA-5197-1 curl fixed 7.74.0-1.3+deb11u2 > installed deb11u1 (15 CVEs, so the DSA id)
    ("curl", "DSA-5197-1", ("DSA-5197-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u2", "unknown"),
    ("libcurl4", "DSA-5197-1", ("DSA-5197-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u2", "unknown"),
    # DSA-5330-1 curl fixed 7.74.0-1.3+deb11u5 (CVE-2022-32221, CVE-2022-43552)
    ("curl", "DSA-5330-1", ("DSA-5330-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u5", "unknown"),
    ("libcurl4", "DSA-5330-1", ("DSA-5330-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u5", "unknown"),
    # DSA-5365-1 curl fixed 7.74.0-1.3+deb11u7, one CVE: named CVE-2023-23916
    ("curl", "CVE-2023-23916", ("DSA-5365-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u7", "unknown"),
    ("libcurl4", "CVE-2023-23916", ("DSA-5365-1",), "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u7", "unknown"),
    # openssl 1.1.1n-0+deb11u3: DSA-5343-1 fixed deb11u4 > u3 -> affected. NOT DSA-5169-1
    # (fixed exactly 1.1.1n-0+deb11u3), nor DSA-5139-1 (u2), DSA-5103-1/DSA-4963-1 (1.1.1k)
    ("libssl3", "DSA-5343-1", ("DSA-5343-1",), "1.1.1n-0+deb11u3", "1.1.1n-0+deb11u4", "unknown"),
    ("openssl", "DSA-5343-1", ("DSA-5343-1",), "1.1.1n-0+deb11u3", "1.1.1n-0+deb11u4", "unknown"),
    # expat 2.2.10-2+deb11u3: DSA-5236-1 fixed deb11u4, DSA-5266-1 fixed deb11u5; NOT
    # DSA-5085-2 (fixed exactly deb11u3), DSA-5085-1 (u2), DSA-5073-1 (u1)
    ("libexpat1", "CVE-2022-40674", ("DSA-5236-1",), "2.2.10-2+deb11u3", "2.2.10-2+deb11u4", "unknown"),
    ("libexpat1", "CVE-2022-43680", ("DSA-5266-1",), "2.2.10-2+deb11u3", "2.2.10-2+deb11u5", "unknown"),
    # libxml2 2.9.10+dfsg-6.7+deb11u2: DSA-5271-1 fixed deb11u3; NOT DSA-5142-1 (fixed exactly u2)
    ("libxml2", "DSA-5271-1", ("DSA-5271-1",), "2.9.10+dfsg-6.7+deb11u2", "2.9.10+dfsg-6.7+deb11u3", "unknown"),
    # zlib1g 1:1.2.11.dfsg-2+deb11u2 is exactly DSA-5218-1's fix (the newest zlib DSA): nothing
    #
    # PyPI
    # requests 2.25.0: PYSEC-2023-74 (introduced 2.3.0, fixed 2.31.0) and GHSA-j8r2-6x86-q33q
    # (same range) alias each other and CVE-2023-32681: ONE finding from both records
    ("requests", "CVE-2023-32681", ("GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"), "2.25.0", "2.31.0", "unknown"),
    # GHSA-9hjg-9r4m-mvj7: introduced 0, fixed 2.32.4
    ("requests", "CVE-2024-47081", ("GHSA-9hjg-9r4m-mvj7",), "2.25.0", "2.32.4", "unknown"),
    # urllib3 1.26.4: PYSEC-2021-108 fixed 1.26.5; PYSEC-2023-192 fixed 1.26.17 (CVSS 3.1
    # AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N = 8.1, high); PYSEC-2023-212 fixed 1.26.18 (CVSS 4.2,
    # medium). NOT PYSEC-2021-59 (introduced 1.26.0, fixed exactly 1.26.4)
    ("urllib3", "CVE-2021-33503", ("PYSEC-2021-108",), "1.26.4", "1.26.5", "unknown"),
    ("urllib3", "CVE-2023-43804", ("PYSEC-2023-192",), "1.26.4", "1.26.17", "high"),
    ("urllib3", "CVE-2023-45803", ("PYSEC-2023-212",), "1.26.4", "1.26.18", "medium"),
    # Jinja2 2.11.2: PYSEC-2021-66 fixed 2.11.3 (the others are fixed at or below 2.8.1)
    ("Jinja2", "CVE-2020-28493", ("PYSEC-2021-66",), "2.11.2", "2.11.3", "unknown"),
    # setuptools 65.5.0 (put in the venv by ensurepip): PYSEC-2022-43012 fixed 65.5.1
    ("setuptools", "CVE-2022-40897", ("PYSEC-2022-43012",), "65.5.0", "65.5.1", "unknown"),
    # PyYAML 5.3.1 would match PYSEC-2021-142 (fixed 5.4), but layer 5 deletes its dist-info
    #
    # npm
    # lodash 4.17.15: GHSA-p6mc-m468-83gw fixed 4.17.20 (CVSS 7.4); GHSA-35jh-r3h4-6jhm fixed
    # 4.17.21 (CVSS 7.2); GHSA-29mw-wpgm-hmr9 fixed 4.17.21 (CVSS 5.3). Older ones fixed <= 4.17.12
    ("lodash", "CVE-2020-8203", ("GHSA-p6mc-m468-83gw",), "4.17.15", "4.17.20", "high"),
    ("lodash", "CVE-2021-23337", ("GHSA-35jh-r3h4-6jhm",), "4.17.15", "4.17.21", "high"),
    ("lodash", "CVE-2020-28500", ("GHSA-29mw-wpgm-hmr9",), "4.17.15", "4.17.21", "medium"),
    # axios 0.21.0: GHSA-cph5-m8f7-6c5x fixed 0.21.2 (CVSS 7.5); GHSA-wf5p-g6vw-rhxx introduced
    # 0.8.1 fixed 1.6.0 (no CVSS, GHSA MODERATE). NOT GHSA-42xw-2xvc-qx8m (fixed 0.18.1)
    ("axios", "CVE-2021-3749", ("GHSA-cph5-m8f7-6c5x",), "0.21.0", "0.21.2", "high"),
    ("axios", "CVE-2023-45857", ("GHSA-wf5p-g6vw-rhxx",), "0.21.0", "1.6.0", "medium"),
    # minimist: 1.2.5 would match GHSA-xvch-5gv4-984h (introduced 1.0.0, fixed 1.2.6), but the
    # opaque directory of layer 5 holds 1.2.6: exactly the fix, nothing
    #
    # Go standard library 1.19.8 (Debian bookworm's golang-go): every record whose 1.19 line
    # is fixed above 1.19.8, i.e. ranges "introduced 0, fixed 1.20.x/1.21.x/..."
    ("stdlib", "CVE-2023-39325", ("GO-2023-2102",), "1.19.8", "1.20.10", "unknown"),
    ("stdlib", "CVE-2023-45288", ("GO-2024-2687",), "1.19.8", "1.21.9", "unknown"),
    ("stdlib", "CVE-2025-22870", ("GO-2025-3503",), "1.19.8", "1.23.7", "unknown"),
    ("stdlib", "CVE-2026-33814", ("GO-2026-4918",), "1.19.8", "1.25.10", "unknown"),
    ("stdlib", "CVE-2026-39821", ("GO-2026-5026",), "1.19.8", "1.25.13", "unknown"),
    # NOT GO-2022-0969 (1.19.0-0 -> fixed 1.19.1), GO-2022-1144 (fixed 1.19.4), GO-2023-1571
    # (fixed 1.19.6), nor GO-2026-5942 (introduced 1.26.0-0)
]
# records that are in the index for these packages and must NOT match (see above)
NOT_MATCHING = {
    "DSA-5169-1", "DSA-5139-1", "DSA-5103-1", "DSA-4963-1", "DSA-5085-2", "DSA-5085-1",
    "DSA-5073-1", "DSA-5142-1", "DSA-5218-1", "DSA-5111-1", "PYSEC-2021-59", "PYSEC-2021-142",
    "PYSEC-2020-96", "GHSA-xvch-5gv4-984h", "GHSA-vh95-rmgr-6w4m", "GHSA-42xw-2xvc-qx8m",
    "GO-2022-0969", "GO-2022-1144", "GO-2023-1571", "GO-2026-5942",
}
# fmt: on


def test_go_toolchain_is_the_one_the_expectations_are_for(built: Built) -> None:
    ((_, version),) = built.go
    assert re.fullmatch(r"1\.19\.([6-9]|1[0-3])", version), (
        f"stdlib expectations are for go1.19.6-1.19.13 (Debian bookworm ships 1.19.8), not {version}"
    )


def test_vulnerabilities_exactly_as_expected(built: Built, vulns: dict[str, Any]) -> None:
    found = vulns["vulnerabilities"]
    go_version = next(v for n, v in built.go if n == "stdlib")
    want = {
        (pkg, vid, records, installed if pkg != "stdlib" else go_version, fixed, sev)
        for pkg, vid, records, installed, fixed, sev in EXPECTED
    }
    got = {
        (
            f["package"],
            f["id"],
            tuple(f["records"]),
            f["installed_version"],
            f["fixed_version"],
            f["severity"],
        )
        for f in found
    }
    assert got == want
    assert len(found) == len(EXPECTED)
    assert all(f["status"] == "fixed" for f in found)
    assert vulns["summary"]["by_status"]["fixed"] == len(EXPECTED)
    assert vulns["summary"]["by_severity"]["high"] == 4

    # ecosystems, and each finding sits on its package (same layer and path as in the SBOM)
    pkgs = {(p["name"], p["version"]): p for p in vulns["packages"]}
    for f in found:
        p = pkgs[(f["package"], f["installed_version"])]
        assert (f["layer"], f["path"], f["purl"]) == (p["layer"], p["path"], p["purl"])
        eco = {"deb": "Debian:11", "python": "PyPI", "npm": "npm", "go": "Go"}[p["type"]]
        assert f["ecosystem"] == eco

    # aliases are the union of the merged records' ids and aliases
    by = {(f["package"], f["id"]): f for f in found}
    req = by[("requests", "CVE-2023-32681")]
    assert set(req["aliases"]) == {"GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"}
    assert set(by[("libexpat1", "CVE-2022-40674")]["aliases"]) == {
        "DSA-5236-1",
        "DEBIAN-CVE-2022-40674",
    }
    dsa = by[("openssl", "DSA-5343-1")]
    assert {"CVE-2023-0286", "DEBIAN-CVE-2023-0286", "CVE-2022-4450"} <= set(dsa["aliases"])
    assert set(by[("urllib3", "CVE-2023-43804")]["aliases"]) == {
        "PYSEC-2023-192",
        "GHSA-v845-jxx5-vc9f",
    }
    assert by[("urllib3", "CVE-2023-43804")]["cvss_score"] == 8.1

    # deleted, hidden or exactly-fixed packages are not reported
    names = {f["package"] for f in found}
    assert not names & {"PyYAML", "pyyaml", "minimist", "zlib1g", DEB_REMOVED}
    assert not {r for f in found for r in f["records"]} & NOT_MATCHING


# --- 4. the other report formats of the same run -----------------------------------------------


def _pairs_json(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["id"], f["purl"]) for f in report["vulnerabilities"]}


def test_cyclonedx_and_sarif_carry_the_same_vulnerabilities(
    built: Built, vulns: dict[str, Any]
) -> None:
    want = _pairs_json(vulns)
    base = [built.ref, "--db", str(built.db), "--no-cache"]
    cdx_proc = cli("scan", *base, "--format", "cyclonedx", cwd=built.work)
    sarif_proc = cli("scan", *base, "--format", "sarif", cwd=built.work)
    assert cdx_proc.returncode == sarif_proc.returncode == 0, cdx_proc.stderr + sarif_proc.stderr
    cdx, sarif = json.loads(cdx_proc.stdout), json.loads(sarif_proc.stdout)

    purl_of = {c["bom-ref"]: c.get("purl") for c in cdx["components"]}
    cdx_pairs = {(v["id"], purl_of[a["ref"]]) for v in cdx["vulnerabilities"] for a in v["affects"]}
    assert cdx_pairs == want
    assert len(cdx["vulnerabilities"]) == len({vid for vid, _ in want})
    cdx_purls = {c.get("purl") for c in cdx["components"]}
    assert {p["purl"] for p in vulns["packages"]} <= cdx_purls

    (run,) = sarif["runs"]
    assert {(r["ruleId"], r["properties"]["purl"]) for r in run["results"]} == want
    assert len(run["results"]) == len(want)
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == {vid for vid, _ in want}
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]


# --- 5. exit codes -----------------------------------------------------------------------------


def test_fail_on_and_severity_filters(built: Built) -> None:
    # unrated findings are counted as failing by default (advisories.unknown_severity: block):
    # some findings here have no severity, so even --fail-on critical fails...
    unrated = scan(built, built.ref, "--db", str(built.db), "--fail-on", "critical", expect_rc=1)
    assert "unknown" in {f["severity"] for f in unrated["vulnerabilities"]}
    # ...and with --unknown-severity allow they are judged by their (unknown) rating alone
    base = [built.ref, "--db", str(built.db), "--unknown-severity", "allow"]
    # four high findings (lodash x2, axios, urllib3): --fail-on high fails
    high = scan(built, *base, "--fail-on", "high", expect_rc=1)
    assert {f["severity"] for f in high["vulnerabilities"]} >= {"high"}
    scan(built, *base, "--fail-on", "high", "--exit-code", "13", expect_rc=13)
    scan(built, *base, "--fail-on", "critical", "--exit-code", "13", expect_rc=0)
    # nothing is critical
    scan(built, *base, "--fail-on", "critical", expect_rc=0)
    # --severity hides the high ones: they no longer count for --fail-on
    shown = scan(built, *base, "--severity", "medium,low,unknown", "--fail-on", "high", expect_rc=0)
    assert {f["severity"] for f in shown["vulnerabilities"]} == {"medium", "unknown"}
    assert shown["summary"]["hidden_by_filters"] == 4
    assert len(shown["vulnerabilities"]) == len(EXPECTED) - 4
    # --fail-on medium with only medium shown: fails again
    scan(built, *base, "--severity", "medium", "--fail-on", "medium", expect_rc=1)


# --- 5. severity from imported NVD / CVE data, end to end ---------------------------------------
#
# The same image and index, plus real NVD CVE API 2.0 records and one CVE JSON 5 record
# (tests/fixtures/cve, see its SOURCES.md) imported with `db import`. Hand-derived from those
# records (CVSS v3.1 base score -> band): a finding is rated when any CVE it answers to (its id
# or an alias) is scored; the rest stay unrated and are counted.
NVD_RATED = {
    # DSA-5330-1 names CVE-2022-32221 (NVD 9.8) and CVE-2022-43552 (not imported)
    ("curl", "DSA-5330-1"): ("critical", 9.8, "nvd cvss_v3"),
    ("libcurl4", "DSA-5330-1"): ("critical", 9.8, "nvd cvss_v3"),
    ("curl", "CVE-2023-23916"): ("medium", 6.5, "nvd cvss_v3"),
    ("libcurl4", "CVE-2023-23916"): ("medium", 6.5, "nvd cvss_v3"),
    # DSA-5343-1 names CVE-2023-0286 (NVD 7.4) among others not imported
    ("openssl", "DSA-5343-1"): ("high", 7.4, "nvd cvss_v3"),
    ("libssl3", "DSA-5343-1"): ("high", 7.4, "nvd cvss_v3"),
    ("libexpat1", "CVE-2022-40674"): ("high", 8.1, "nvd cvss_v3"),
    # NVD has v3.1 7.5 and v2 5.0: v3 wins
    ("urllib3", "CVE-2021-33503"): ("high", 7.5, "nvd cvss_v3"),
    # only the CNA's CVE JSON 5 record (GitHub, CVSS 3.1 6.1) scores it
    ("requests", "CVE-2023-32681"): ("medium", 6.1, "cve cvss_v3"),
}


@pytest.fixture(scope="session")
def nvd_db(built: Built) -> Path:
    db = built.work / "adv-nvd.db"
    shutil.copyfile(built.db, db)
    cve = Path(__file__).resolve().parents[1] / "fixtures" / "cve"
    proc = cli("db", "import", str(cve / "nvd"), str(cve / "cve5"), "--db", str(db), cwd=built.work)
    assert proc.returncode == 0, proc.stderr
    return db


def _cve_keys(finding: dict[str, Any]) -> set[str]:
    return {k for k in (finding["id"], *finding["aliases"]) if k.startswith("CVE-")}


def test_imported_nvd_data_rates_every_finding_whose_cve_it_scores(
    built: Built, nvd_db: Path
) -> None:
    report = scan(built, built.ref, "--db", str(nvd_db), "--unknown-severity", "allow")
    found = report["vulnerabilities"]
    assert len(found) == len(EXPECTED)
    scored = {
        json.loads(p.read_text())["id"]
        for p in (Path(__file__).resolve().parents[1] / "fixtures" / "cve" / "nvd").glob("*.json")
    } | {"CVE-2023-32681"}
    before = {(pkg, vid): sev for pkg, vid, _, _, _, sev in EXPECTED}
    unrated = 0
    for f in found:
        key = (f["package"], f["id"])
        if key in NVD_RATED:
            assert (f["severity"], f["cvss_score"], f["severity_source"]) == NVD_RATED[key], key
        else:
            # unchanged: rated by its own record before, or nothing imported scores its CVEs
            assert f["severity"] == before[key], key
        if before[key] == "unknown" and _cve_keys(f) & scored:
            assert f["severity"] != "unknown", f"{key}: a CVE it answers to is scored"
        unrated += f["severity"] == "unknown"
    # every finding a scored CVE reaches is rated; the 12 left have no imported score
    assert unrated == sum(1 for *_, sev in EXPECTED if sev == "unknown") - len(NVD_RATED) == 12
    assert report["summary"]["unrated"] == unrated
    # the human summary prints the count of unrated findings
    proc = cli(
        "scan",
        built.ref,
        "--db",
        str(nvd_db),
        "--no-cache",
        "--unknown-severity",
        "allow",
        cwd=built.work,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{unrated} unrated" in proc.stdout
    # and gates see the new ratings: two findings are now critical
    scan(
        built,
        built.ref,
        "--db",
        str(nvd_db),
        "--unknown-severity",
        "allow",
        "--fail-on",
        "critical",
        expect_rc=1,
    )
