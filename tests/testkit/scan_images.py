"""Real package trees and the five-layer image the scan accuracy tests read.

Every tree is made by the real tool (pip, npm, the Go toolchain) and its ground truth comes
from that same tool (``pip list``, ``npm ls``, ``go version -m``, ``dpkg-query``), never from
patchwarden. Slow setups are kept in ``.pytest_cache`` across runs (like the catalogers'
tests do), keyed by their pins: the first run needs PyPI, the npm registry and the Go module
proxy; later runs are offline.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.oci_builder import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, OCILayout
from testkit.locks import one_at_a_time
from testkit.tools import require_tool, unavailable

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "scan" / "images"
HOST_STATUS = IMAGES / "dpkg-status.bookworm-excerpt"

OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

# Binary package -> the Debian 11 version it gets in the image (see test_scan_accuracy.py for
# the DSA records each one is chosen against). All other paragraphs stay as on the host.
DEB_VERSIONS = {
    "curl": "7.74.0-1.3+deb11u1",
    "libcurl4": "7.74.0-1.3+deb11u1",
    "openssl": "1.1.1n-0+deb11u3",
    "libssl3": "1.1.1n-0+deb11u3",
    "libexpat1": "2.2.10-2+deb11u3",
    "libxml2": "2.9.10+dfsg-6.7+deb11u2",
    "zlib1g": "1:1.2.11.dfsg-2+deb11u2",
}
DEB_REMOVED = "gzip"  # "rc": removed, config files left: in dpkg-query, not installed

PY_PINS = ("requests==2.25.0", "urllib3==1.26.4", "Jinja2==2.11.2", "PyYAML==5.3.1")
NPM_INSTALL = ("lodash@4.17.15", "axios@0.21.0", "minimist@1.2.5")
MINIMIST_NEW = "1.2.6"

VENV = "opt/venv/"
APP = "app/"
GO_BIN = "usr/local/bin/httpstatus"

# Standard library only: the Go module proxy is not reachable offline, and golang.org/x/...
# sources are not among the Debian packages the tests install. Its stdlib (go1.19.x from
# Debian's golang-go) is what the Go records are matched against.
GO_MAIN = """package main

import (
\t"fmt"
\t"net/http"
\t"os"
)

func main() {
\tresp, err := http.Get(os.Args[1])
\tif err != nil {
\t\tpanic(err)
\t}
\tfmt.Println(resp.Status)
}
"""


def persistent_dir(config: pytest.Config, name: str) -> Path:
    return Path(config.cache.mkdir(f"patchwarden-accuracy-{name}"))


def _unreachable(what: str, proc: subprocess.CompletedProcess[str]) -> None:
    unavailable(f"{what} failed (network unreachable?): {proc.stderr[-2000:]}")


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd, env=env).stdout


# --- dpkg ------------------------------------------------------------------------------------


def dpkg_status() -> bytes:
    """Real paragraphs from a Debian 12 host, versions rewritten to Debian 11 ones."""
    paras = HOST_STATUS.read_text(encoding="utf-8").strip("\n").split("\n\n")
    out = []
    for para in paras:
        package = re.match(r"Package: (\S+)", para)
        assert package is not None, para
        name = package.group(1)
        if name in DEB_VERSIONS:
            para = re.sub(r"(?m)^Version: .*$", f"Version: {DEB_VERSIONS[name]}", para)
            assert not re.search(r"(?m)^Source: \S+ \(", para)  # no binNMU version to fix up
        if name == DEB_REMOVED:
            para = para.replace("Status: install ok installed", "Status: deinstall ok config-files")
        out.append(para)
    return ("\n\n".join(out) + "\n").encode()


def dpkg_truth(status: bytes, workdir: Path) -> list[tuple[str, str, str, str, str]]:
    """``dpkg-query`` on the very status file: (name, version, source, source version, abbrev)."""
    admin = workdir / "dpkg-admin"
    (admin / "info").mkdir(parents=True, exist_ok=True)
    (admin / "status").write_bytes(status)
    (admin / "available").touch()
    fmt = "${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n"
    out = run([require_tool("dpkg-query"), "--admindir", str(admin), "-W", "-f", fmt])
    rows = [line.split("\t") for line in out.splitlines()]
    return [(r[0], r[1], r[2], r[3], r[4].strip()) for r in rows]


# --- pip -------------------------------------------------------------------------------------


@one_at_a_time
def build_venv(config: pytest.Config) -> Path:
    base = persistent_dir(config, "venv")
    venv, marker = base / "venv", base / "done.json"
    if marker.is_file() and json.loads(marker.read_text()) == list(PY_PINS):
        return venv
    run([sys.executable, "-m", "venv", "--clear", str(venv)])
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # PyYAML 5.3.1 has no wheel for this Python: pip builds it from the sdist (pure Python)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *PY_PINS],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        _unreachable("pip install", proc)
    marker.write_text(json.dumps(list(PY_PINS)))
    return venv


def site_packages(venv: Path) -> Path:
    (sp,) = (venv / "lib").glob("python3*/site-packages")
    return sp


def pip_list(venv: Path, path: Path | None = None) -> set[tuple[str, str]]:
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"]
    cmd += ["--disable-pip-version-check", *(["--path", str(path)] if path else [])]
    return {(d["name"], d["version"]) for d in json.loads(run(cmd))}


# --- npm -------------------------------------------------------------------------------------


@one_at_a_time
def build_npm(config: pytest.Config) -> Path:
    npm = require_tool("npm")
    base = persistent_dir(config, "npm")
    key = [list(NPM_INSTALL), MINIMIST_NEW, "caret-minimist"]
    marker = base / "done.json"
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return base
    proj = base / "app"
    shutil.rmtree(proj, ignore_errors=True)
    proj.mkdir()
    (proj / "package.json").write_text('{"name": "accuracy", "version": "1.0.0", "private": true}')
    flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--save-exact"]
    proc = subprocess.run(
        [npm, "install", *flags, *NPM_INSTALL], cwd=proj, capture_output=True, text=True
    )
    if proc.returncode != 0:
        _unreachable("npm install", proc)
    # a caret range, so that the minimist 1.2.6 of layer 5 is a valid tree for `npm ls` too
    doc = json.loads((proj / "package.json").read_text())
    doc["dependencies"]["minimist"] = "^1.2.5"
    (proj / "package.json").write_text(json.dumps(doc, indent=2) + "\n")
    packed = base / "pack"
    shutil.rmtree(packed, ignore_errors=True)
    packed.mkdir()
    proc = subprocess.run(
        [npm, "pack", "--silent", f"minimist@{MINIMIST_NEW}"],
        cwd=packed,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        _unreachable("npm pack", proc)
    (tgz,) = packed.glob("*.tgz")
    with tarfile.open(tgz) as tf:
        tf.extractall(packed, filter="data")
    marker.write_text(json.dumps(key))
    return base


def npm_ls(project: Path) -> set[tuple[str, str]]:
    proc = subprocess.run(
        [require_tool("npm"), "ls", "--all", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out: set[tuple[str, str]] = set()

    def walk(tree: Mapping[str, Any]) -> None:
        for name, dep in (tree.get("dependencies") or {}).items():
            if "version" in dep:
                out.add((name, dep["version"]))
            walk(dep)

    walk(json.loads(proc.stdout))
    return out


# --- Go --------------------------------------------------------------------------------------


@one_at_a_time
def build_go(config: pytest.Config) -> Path:
    go = require_tool("go")
    base = persistent_dir(config, "go")
    binary, marker = base / "out" / "httpstatus", base / "done.json"
    key = [GO_MAIN]
    if binary.is_file() and marker.is_file() and json.loads(marker.read_text()) == key:
        return binary
    src = base / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    (src / "main.go").write_text(GO_MAIN)
    (src / "go.mod").write_text("module example.com/httpstatus\n\ngo 1.19\n")
    env = {
        **os.environ,
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod -modcacherw",
        "GOPATH": str(base / "gopath"),
        "GOCACHE": str(base / "gocache"),
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    run([go, "build", "-o", str(binary), "."], cwd=src, env=env)
    marker.write_text(json.dumps(key))
    return binary


def go_version_m(binary: Path) -> set[tuple[str, str]]:
    """Modules with a version, and ``stdlib``, as ``go version -m`` prints them."""
    out = run([require_tool("go"), "version", "-m", str(binary)])
    lines = out.splitlines()
    got = {("stdlib", lines[0].rsplit(": ", 1)[1].strip().removeprefix("go"))}
    for line in lines[1:]:
        parts = line.strip().split("\t")
        if parts[0] == "dep":
            got.add((parts[1], parts[2]))
        assert parts[0] != "=>", "no replacements expected"
    return got


# --- the image -------------------------------------------------------------------------------

Files = dict[str, tuple[bytes, int]]


def tree_files(root: Path, prefix: str, *, skip: tuple[str, ...] = ()) -> Files:
    """Regular files under ``root`` (modes kept), named ``prefix + relative path``."""
    out: Files = {}
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(names):
            full = Path(dirpath) / name
            st = full.lstat()
            if stat.S_ISREG(st.st_mode) and not name.endswith(".pyc"):
                rel = prefix + full.relative_to(root).as_posix()
                out[rel] = (full.read_bytes(), stat.S_IMODE(st.st_mode))
    return out


def layer_tar(files: Files) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Image:
    layout: Path
    tag: str
    layers: list[str] = field(default_factory=list)  # compressed blob digests, in order
    diff_ids: list[str] = field(default_factory=list)
    digest: str = ""


def write_image(layout: Path, tag: str, layers: list[Files]) -> Image:
    lay = OCILayout(layout)
    img = Image(layout, tag)
    descs = []
    for files in layers:
        tar = layer_tar(files)
        desc = lay.add_blob(gzip.compress(tar, compresslevel=1, mtime=0), OCI_LAYER)
        descs.append(desc)
        img.layers.append(desc["digest"])
        img.diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["/usr/local/bin/httpstatus"]},
        "rootfs": {"type": "layers", "diff_ids": img.diff_ids},
        "history": [{"created_by": f"layer {i + 1}"} for i in range(len(layers))],
    }
    cfg = lay.add_blob(json.dumps(config, sort_keys=True).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": descs}
    desc = lay.add_blob(json.dumps(manifest, sort_keys=True).encode(), OCI_MANIFEST)
    lay.tag(tag, desc)
    img.digest = desc["digest"]
    return img
