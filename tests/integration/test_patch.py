"""`patch` end to end on a real Debian 11 root filesystem.

The root filesystem is made with debootstrap (minbase plus libssl1.1, openssl, libexpat1 and
expat) from the Debian mirror this machine's apt sources name, once per machine (cached under
the temp dir, keyed by suite and package set). In its dpkg database five packages are then
recorded at older versions that the test's OSV records (tests/fixtures/osv/Debian, derived from
Debian's DSA list) call vulnerable:

  zlib1g            1:1.2.11.dfsg-2+deb11u1  DSA-5218-1 (CVE-2022-37434), fixed ...+deb11u2
  libssl1.1/openssl 1.1.1n-0+deb11u3         DSA-5343-1, fixed 1.1.1n-0+deb11u4
  libexpat1/expat   2.2.10-2+deb11u4         DSA-5266-1 (CVE-2022-43680), fixed ...+deb11u5

`patch` must upgrade exactly those from the mirror in one new layer, the rescan must show the
findings fixed, the layer must hold only what changed, and the image must still run (Podman).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools import skopeo
from patchwarden.devtools.oci_builder import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, OCILayout, sha256
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.versions.ecosystems import compare
from testkit.cli_process import import_advisories
from testkit.debian import rootfs_tar
from testkit.podman import podman_ready, session_config
from testkit.tools import image_config, require_tool, unavailable

# apt in a container and scans of a Debian root file system: minutes on a loaded machine, so more
# than the suite's 300 s guard against hangs
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
OSV = Path(__file__).parents[1] / "fixtures" / "osv" / "Debian"
SUITE = "bullseye"
EXTRA = ("libssl1.1", "openssl", "libexpat1", "expat")
OLDER = {
    "zlib1g": "1:1.2.11.dfsg-2+deb11u1",
    "libssl1.1": "1.1.1n-0+deb11u3",
    "openssl": "1.1.1n-0+deb11u3",
    "libexpat1": "2.2.10-2+deb11u4",
    "expat": "2.2.10-2+deb11u4",
}
FIXED = {
    "zlib1g": "1:1.2.11.dfsg-2+deb11u2",
    "libssl1.1": "1.1.1n-0+deb11u4",
    "openssl": "1.1.1n-0+deb11u4",
    "libexpat1": "2.2.10-2+deb11u5",
    "expat": "2.2.10-2+deb11u5",
}


def older_status(status: str) -> tuple[str, int]:
    """The dpkg status with OLDER versions; and the packages' summed Installed-Size (KiB)."""
    out, size = [], 0
    for para in status.strip().split("\n\n"):
        name = re.search(r"^Package: (\S+)", para, re.M)
        if name and name.group(1) in OLDER:
            para = re.sub(r"^Version: .*$", f"Version: {OLDER[name.group(1)]}", para, flags=re.M)
            installed = re.search(r"^Installed-Size: (\d+)", para, re.M)
            assert installed is not None, para
            size += int(installed.group(1))
        out.append(para)
    return "\n\n".join(out) + "\n", size


def push_debian(tar_path: Path, work: Path, dest: str) -> int:
    """The root filesystem as a one-layer image whose dpkg status records OLDER; returns the
    Installed-Size sum (KiB) of the five packages."""
    layer = work / "layer.tar"
    size = 0
    with tarfile.open(tar_path) as src, tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src:
            member.name = member.name.removeprefix("./")
            if member.islnk():
                member.linkname = member.linkname.removeprefix("./")
            if member.name in ("", "."):
                continue
            if member.name == "var/lib/dpkg/status":
                status = src.extractfile(member)
                assert status is not None
                text, size = older_status(status.read().decode())
                data = text.encode()
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            elif member.isfile():
                dst.addfile(member, src.extractfile(member))
            else:
                dst.addfile(member)
    raw = layer.read_bytes()
    layout = OCILayout(work / "layout")
    ldesc = layout.add_blob(gzip.compress(raw, compresslevel=1), OCI_LAYER)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": ["/bin/bash"],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"org.example.kept": "yes"},
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
    }
    cdesc = layout.add_blob(json.dumps(config).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": [ldesc]}
    layout.tag("11", layout.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST))
    skopeo.push(work / "layout", "11", dest)
    return size


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    for name in ("buildah", "skopeo", "podman", "debootstrap"):
        require_tool(name)
    why = podman_ready()
    if why:
        unavailable(why)
    work = tmp_path_factory.mktemp("patch")
    db = import_advisories(OSV, work / "adv.db")
    return {
        **os.environ,
        **session_config(work),
        "PATCHWARDEN_ADVISORY_DB": str(db),
        "PATCHWARDEN_CONFIG": "",
    }


def patch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "patchwarden.cli.main", "patch", *args, "--format", "json"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)


def test_patch_upgrades_exactly_the_vulnerable_packages_in_one_layer(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path
) -> None:
    host, ns = plain_registry.host, f"p{uuid.uuid4().hex[:8]}"
    installed_kib = push_debian(rootfs_tar(SUITE, EXTRA), tmp_path, f"{host}/{ns}/deb:11")
    vex = tmp_path / "deb.vex.json"
    proc = patch(env, f"{host}/{ns}/deb:11", "--vex", str(vex))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r: dict[str, Any] = json.loads(proc.stdout)
    assert r["outcome"] == "patched", r
    assert r["pushed"] == f"{host}/{ns}/deb:11-patched"
    assert sorted(u["package"] for u in r["upgrades"]) == sorted(OLDER)
    for u in r["upgrades"]:
        assert u["installed"] == OLDER[u["package"]]
        assert compare("Debian:11", u["now"], FIXED[u["package"]]) >= 0, u
    for vid in ("CVE-2022-37434 (zlib1g)", "CVE-2022-43680 (libexpat1)", "DSA-5343-1 (libssl1.1)"):
        assert vid in r["fixed"], r["fixed"]
    assert not [x for x in r["remaining"] if x.split(" (")[1].rstrip(")") in OLDER]

    patched = f"{host}/{ns}/deb:11-patched"
    raw = json.loads(skopeo.inspect_raw(patched))
    base = json.loads(skopeo.inspect_raw(f"{host}/{ns}/deb:11"))
    assert len(raw["layers"]) == len(base["layers"]) + 1 == 2
    cfg = image_config(patched)
    base_cfg = image_config(f"{host}/{ns}/deb:11")
    # the base layer's content is untouched (buildah recompresses it: same diff_id, new blob)
    assert cfg["rootfs"]["diff_ids"][:1] == base_cfg["rootfs"]["diff_ids"]
    assert cfg["config"]["Cmd"] == ["/bin/bash"]
    assert cfg["config"]["Labels"]["org.example.kept"] == "yes"

    # the new layer: only the upgraded packages' files and the package databases
    layout = tmp_path / "patched"
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{patched}", f"oci:{layout}:p"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    algo, hexd = raw["layers"][1]["digest"].split(":")
    with tarfile.open(layout / "blobs" / algo / hexd) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        owned: set[str] = set()
        names = {m.name for m in members}
        for pkg in OLDER:
            found = [
                n
                for n in (f"var/lib/dpkg/info/{pkg}.list", f"var/lib/dpkg/info/{pkg}:amd64.list")
                if n in names
            ]
            assert found, f"{pkg}'s file list is not in the new layer"
            lst = tar.extractfile(found[0])
            assert lst is not None
            owned |= {line.lstrip("/") for line in lst.read().decode().splitlines()}
        whiteouts = [m.name for m in tar.getmembers() if ".wh." in m.name]
    assert whiteouts == [], whiteouts[:5]
    allowed = (
        "var/lib/dpkg/",
        "var/lib/apt/extended_states",
        "var/log/",
        "var/cache/debconf/",
        "var/cache/ldconfig/",
        "etc/ld.so.cache",
    )
    strays = [m.name for m in members if m.name not in owned and not m.name.startswith(allowed)]
    assert strays == [], strays
    total = sum(m.size for m in members)
    assert total <= installed_kib * 1024 * 1.10, (total, installed_kib)

    doc = json.loads(vex.read_text())
    assert doc["@context"] == "https://openvex.dev/ns/v0.2.0"
    by_vuln = {s["vulnerability"]["name"]: s for s in doc["statements"]}
    assert by_vuln["CVE-2022-37434"]["status"] == "fixed"
    digest = skopeo.inspect_digest(patched)
    assert digest.replace(":", "%3A") in by_vuln["CVE-2022-37434"]["products"][0]["@id"]

    ran = subprocess.run(
        ["podman", "run", "--rm", patched, "openssl", "version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0 and ran.stdout.startswith("OpenSSL 1.1.1"), ran.stdout + ran.stderr


def test_patch_refuses_an_alpine_image(
    env: dict[str, str], plain_registry: RegistryServer, pusher: Pusher
) -> None:
    ns = f"p{uuid.uuid4().hex[:8]}"
    files = {
        "etc/os-release": b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
        "lib/apk/db/installed": b"P:busybox\nV:1.36.1-r15\nA:x86_64\n\n",
    }
    pusher.image(plain_registry, f"{ns}/alp", "3.19", files=files)
    proc = patch(env, f"{plain_registry.host}/{ns}/alp:3.19")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "patch does not support Alpine Linux v3.19 images (apk) yet" in proc.stderr
    assert skopeo.list_tags(f"{plain_registry.host}/{ns}/alp") == ["3.19"]
    nowhere = patch(env, f"{plain_registry.host}/{ns}/alp:3.19", "--vex", "/nonexistent/d/v.json")
    assert nowhere.returncode == 2 and "the directory of --vex" in nowhere.stderr
