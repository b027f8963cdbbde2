"""Build (once) the realistic multi-layer image ``bench/scan.py`` measures. See bench/README.md.

debootstrap bookworm + apt packages + pip + npm + a layer of deletions (whiteouts, an opaque
directory), written as gzip layers into an OCI layout, copied to a docker-archive with skopeo.
Run it directly to (re)build and print the ground truth; ``scan.py`` imports :func:`ensure`.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from isal import igzip

from patchwarden.devtools import oci_builder

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench" / "scan"
TAG = "bench:latest"
BUILD_VERSION = 2
SITE = "usr/local/lib/python3.11/dist-packages"
APT_PACKAGES = (  # noqa: SIM905
    "python3 python3-pip python3-venv python3-yaml build-essential git curl vim openssh-client "
    "npm ca-certificates less procps libpq-dev libssl-dev zlib1g-dev unzip xz-utils"
).split()
PIP_PACKAGES = ["requests", "flask", "django==4.2.0", "pillow", "pyyaml"]
NPM_APP = ["express", "lodash", "axios"]
NPM_LEGACY = (["moment", "left-pad", "underscore"], ["dayjs", "chalk@4"])  # layer 4, then 5
APT_PURGE = ["vim"]
SKIP_CONTENT = ("proc", "sys", "dev", "run")  # kept as empty directories, as in real images
Snapshot = dict[str, tuple[int, int, int, str]]


def log(msg: str) -> None:
    print(f"[scan_image] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, text=True, **kw)


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (never a hard-coded one)."""
    texts = [p.read_text() for p in [Path("/etc/apt/sources.list")] if p.exists()]
    texts += [p.read_text() for p in sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]
    texts += [p.read_text() for p in sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]
    for text in texts:
        for m in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            url = m.group(1).rstrip("/")
            if url.endswith("/debian"):
                return url
    raise SystemExit("no Debian mirror found in /etc/apt/sources.list(.d)")


# -- snapshots and layers --------------------------------------------------------------------
def snapshot(root: Path) -> Snapshot:
    out: Snapshot = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir in SKIP_CONTENT:
            dirs[:] = []
            continue
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            rel = os.path.normpath(os.path.join(rel_dir, name))
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            mtime = 0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns
            out[rel] = (st.st_mode, size, mtime, link)
    return out


def parents(path: str) -> Iterator[str]:
    p = os.path.dirname(path)
    while p:
        yield p
        p = os.path.dirname(p)


class _HashingWriter:
    """Hash the uncompressed tar (diff_id) while gzip-compressing it with ISA-L."""

    def __init__(self, raw: BinaryIO, level: int) -> None:
        self.sha = hashlib.sha256()
        self.gz = igzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level, mtime=0)
        self.pos = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.pos += len(data)
        return int(self.gz.write(data))

    def tell(self) -> int:
        return self.pos


def write_layer(
    root: Path, before: Snapshot, after: Snapshot, opaque: set[str], dest: Path, level: int
) -> dict[str, Any]:
    """A gzip tar of ``after`` minus ``before``: changed entries, ``.wh.`` and opaque markers."""
    changed = {p for p, v in after.items() if before.get(p) != v}
    for d in opaque:
        changed |= {p for p in after if p == d or p.startswith(d + "/")}
    deleted = {p for p in before if p not in after}
    whiteouts = {
        p
        for p in deleted
        if not any(q in deleted for q in parents(p))
        and not any(p == d or p.startswith(d + "/") for d in opaque)
    }
    entries = set(changed)
    for p in changed | whiteouts:
        entries.update(q for q in parents(p) if q in after)
    raw = dest.open("wb")
    hw = _HashingWriter(raw, level)
    with tarfile.open(fileobj=hw, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for p in sorted(
            entries
            | {f"{os.path.dirname(w)}/.wh.{os.path.basename(w)}".lstrip("/") for w in whiteouts}
            | {f"{d}/.wh..wh..opq" for d in opaque}
        ):
            if p in entries:
                full = root / p
                info = tar.gettarinfo(str(full), arcname=p)
                if info.isreg():
                    with full.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
            else:  # a whiteout or an opaque marker: an empty regular file
                info = tarfile.TarInfo(p)
                info.mode = 0o600
                tar.addfile(info)
    hw.gz.close()
    raw.close()
    return {
        "diff_id": "sha256:" + hw.sha.hexdigest(),
        "entries": len(entries),
        "whiteouts": len(whiteouts),
        "opaque": sorted(opaque),
    }


# -- build steps ------------------------------------------------------------------------------
def chroot(root: Path, *cmd: str) -> None:
    env = {
        "DEBIAN_FRONTEND": "noninteractive",
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "HOME": "/root",
    }
    sh(["chroot", str(root), *cmd], env=env)


def step_apt(root: Path) -> set[str]:
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    proc = root / "proc"
    sh(["mount", "-t", "proc", "proc", str(proc)])
    try:
        chroot(root, "apt-get", "update", "-qq")
        chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES)
    finally:
        sh(["umount", str(proc)])
        policy.unlink()
    return set()


def step_pip(root: Path) -> set[str]:
    sh(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--target",
            str(root / SITE),
            *PIP_PACKAGES,
        ]
    )
    return set()


def npm_install(prefix: Path, name: str, pkgs: list[str]) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(
        json.dumps({"name": name, "version": "1.0.0", "private": True}, indent=2)
    )
    sh(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *pkgs])


def step_npm(root: Path) -> set[str]:
    npm_install(root / "app", "bench-app", NPM_APP)
    npm_install(root / "srv/legacy", "bench-legacy", NPM_LEGACY[0])
    return set()


def step_cleanup(root: Path) -> set[str]:
    """Deletions: an apt purge, a pip package, apt lists; /srv/legacy replaced wholesale."""
    proc = root / "proc"
    sh(["mount", "-t", "proc", "proc", str(proc)])
    try:
        chroot(root, "apt-get", "purge", "-y", "-qq", "--auto-remove", *APT_PURGE)
        chroot(root, "apt-get", "clean")
    finally:
        sh(["umount", str(proc)])
    shutil.rmtree(root / "var/lib/apt/lists")
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    site = root / SITE
    for p in [site / "yaml", site / "_yaml", *site.glob("[Pp]y[Yy][Aa][Mm][Ll]-*.dist-info")]:
        shutil.rmtree(p)
    shutil.rmtree(root / "srv/legacy")
    npm_install(root / "srv/legacy", "bench-legacy", NPM_LEGACY[1])
    return {"srv/legacy"}


# -- ground truth ------------------------------------------------------------------------------
def ground_truth(root: Path) -> dict[str, list[str]]:
    """Sorted ``name@version`` per type for the final tree (language packages owned by dpkg
    are not counted: they are the OS package's files)."""
    out = sh(
        [
            "dpkg-query",
            "--admindir",
            str(root / "var/lib/dpkg"),
            "-W",
            "-f",
            "${db:Status-Abbrev} ${Package} ${Version}\n",
        ],
        capture_output=True,
    ).stdout
    deb = sorted({f"{p[1]}@{p[2]}" for ln in out.splitlines() if (p := ln.split())[0] == "ii"})
    owned: set[str] = set()
    for lst in (root / "var/lib/dpkg/info").glob("*.list"):
        owned.update(ln.strip().lstrip("/") for ln in lst.read_text(errors="replace").splitlines())
    python, npm = set(), set()
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.split("/")[0] in SKIP_CONTENT:
            dirs[:] = []
            continue
        base = os.path.basename(rel)
        if base.endswith((".dist-info", ".egg-info")) and rel not in owned:
            meta = "METADATA" if base.endswith(".dist-info") else "PKG-INFO"
            if meta in files:
                python.add(_py_meta(Path(dirpath) / meta))
        if "package.json" in files and _npm_dir(rel) and f"{rel}/package.json" not in owned:
            pj = json.loads((Path(dirpath) / "package.json").read_text())
            if pj.get("name") and pj.get("version"):
                npm.add(f"{pj['name']}@{pj['version']}")
    return {"deb": deb, "python": sorted(python), "npm": sorted(npm)}


def _npm_dir(rel: str) -> bool:
    """``.../node_modules/NAME`` or ``.../node_modules/@scope/NAME``."""
    parent = os.path.dirname(rel)
    if os.path.basename(parent).startswith("@"):
        parent = os.path.dirname(parent)
    return os.path.basename(parent) == "node_modules"


def _py_meta(path: Path) -> str:
    name = version = ""
    for ln in path.read_text(errors="replace").splitlines():
        if not ln:
            break
        if ln.startswith("Name:"):
            name = re.sub(r"[-_.]+", "-", ln[5:].strip()).lower()
        elif ln.startswith("Version:"):
            version = ln[8:].strip()
    return f"{name}@{version}"


# -- orchestration ----------------------------------------------------------------------------
def params(level: int) -> dict[str, Any]:
    return {
        "version": BUILD_VERSION,
        "apt": APT_PACKAGES,
        "pip": PIP_PACKAGES,
        "npm": NPM_APP,
        "npm_legacy": list(NPM_LEGACY),
        "purge": APT_PURGE,
        "gzip_level": level,
    }


def build(level: int) -> dict[str, Any]:
    root, layers_dir = WORK / "rootfs", WORK / "layers"
    bootstrapped = WORK / "debootstrap.done"  # a fresh debootstrap tree, reusable
    stale = [layers_dir, WORK / "oci", WORK / "registry"]
    for d in stale if bootstrapped.exists() else [root, *stale]:
        shutil.rmtree(d, ignore_errors=True)
    for f in ("image.tar", "pushed.json"):
        (WORK / f).unlink(missing_ok=True)
    layers_dir.mkdir(parents=True)
    mirror = apt_mirror()
    t0 = time.monotonic()
    if not bootstrapped.exists():
        sh(["debootstrap", "--variant=minbase", "bookworm", str(root), mirror])
        bootstrapped.write_text(mirror)
    steps: list[tuple[str, Callable[[Path], set[str]]]] = [
        ("debootstrap", lambda r: set()),
        ("apt", step_apt),
        ("pip", step_pip),
        ("npm", step_npm),
        ("cleanup", step_cleanup),
    ]
    before: Snapshot = {}
    layers = []
    for i, (name, fn) in enumerate(steps, 1):
        if i > 1:
            bootstrapped.unlink(missing_ok=True)
        opaque = fn(root)
        after = snapshot(root)
        info = write_layer(root, before, after, opaque, layers_dir / f"{i}.tar.gz", level)
        log(f"layer {i} ({name}): {info['entries']} entries, {info['whiteouts']} whiteouts")
        layers.append(info | {"step": name})
        before = after
    truth = ground_truth(root)
    image = write_oci(layers, layers_dir)
    sh(
        [
            "skopeo",
            "copy",
            "--quiet",
            f"oci:{WORK / 'oci'}:{TAG}",
            f"docker-archive:{WORK / 'image.tar'}:{TAG}",
        ]
    )
    shutil.rmtree(layers_dir)
    meta = {
        "params": params(level),
        "mirror": mirror,
        "build_s": time.monotonic() - t0,
        "image": image,
        "truth": truth,
    }
    (WORK / "built.json").write_text(json.dumps(meta, indent=1))
    return meta


def write_oci(layers: list[dict[str, Any]], layers_dir: Path) -> dict[str, Any]:
    layout = oci_builder.OCILayout(WORK / "oci")
    descs = []
    for i in range(1, len(layers) + 1):
        src = layers_dir / f"{i}.tar.gz"
        h = hashlib.sha256()
        with src.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digest = "sha256:" + h.hexdigest()
        src.rename(layout.path / "blobs" / "sha256" / digest.split(":")[1])
        descs.append(
            {
                "mediaType": oci_builder.OCI_LAYER,
                "digest": digest,
                "size": (layout.path / "blobs/sha256" / digest.split(":")[1]).stat().st_size,
            }
        )
    config = {
        "created": oci_builder.DEFAULT_CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/bash"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": [info["diff_id"] for info in layers]},
        "history": [
            {"created": oci_builder.DEFAULT_CREATED, "created_by": f"bench: {x['step']}"}
            for x in layers
        ],
    }
    cfg = layout.add_blob(oci_builder._json(config), oci_builder.OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci_builder.OCI_MANIFEST,
        "config": cfg,
        "layers": descs,
    }
    desc = layout.add_blob(oci_builder._json(manifest), oci_builder.OCI_MANIFEST)
    layout.tag(TAG, desc)
    return {
        "manifest": desc["digest"],
        "layers": descs,
        "compressed": sum(d["size"] for d in descs),
        "layer_info": layers,
    }


def ensure(rebuild: bool = False, level: int = 2) -> dict[str, Any]:
    """Build the image unless ``.bench/scan/built.json`` records the same parameters."""
    marker = WORK / "built.json"
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (a second run waits, reuses)
        if not rebuild and marker.exists():
            meta: dict[str, Any] = json.loads(marker.read_text())
            if meta["params"] == params(level) and (WORK / "image.tar").exists():
                return meta | {"reused": True}
        marker.unlink(missing_ok=True)
        return build(level) | {"reused": False}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rebuild", action="store_true", help="build again even if up to date")
    ap.add_argument("--gzip-level", type=int, default=2, choices=range(4), help="ISA-L level")
    a = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("building needs root (debootstrap, chroot)")
    meta = ensure(a.rebuild, a.gzip_level)
    how = "reused" if meta["reused"] else f"built in {meta['build_s']:.0f} s"
    print(f"image: {WORK / 'oci'}:{TAG}, {WORK / 'image.tar'}; {how}")
    for t, names in meta["truth"].items():
        print(f"ground truth {t}: {len(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
