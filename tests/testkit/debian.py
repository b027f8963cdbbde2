"""Debian root filesystems made with debootstrap, cached once per machine.

A root filesystem (``--variant=minbase`` plus extra packages, from the Debian mirror this
machine's apt sources name) is made once and kept as a tarball under the temp dir, keyed by
suite and package set; later test sessions, also in parallel (a file lock), reuse it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from testkit.tools import unavailable


def debian_mirror() -> str | None:
    """The first Debian archive URI in this machine's apt sources (deb822 or one-line)."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = path.read_text()
        except OSError:
            continue
        for m in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            uri = m.group(1).rstrip("/")
            if uri.startswith("http") and uri.endswith("/debian"):
                return uri
    return None


def rootfs_tar(suite: str, extra: Sequence[str], *, slim: bool = False) -> Path:
    """A tarball (numeric owners, no /dev, /proc, /sys content) of a debootstrapped ``suite``
    minbase with ``extra`` packages, made once per machine. ``slim``: without apt's package
    lists and downloaded packages (a third of a minbase; a base image needs neither)."""
    key = f"patchwarden-debootstrap-{suite}-minbase-{'-'.join(extra)}{'-slim' if slim else ''}-v1"
    cache = Path(tempfile.gettempdir()) / f"{key}.tar"
    with open(f"{cache}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cache.is_file():
            return cache
        mirror = debian_mirror()
        if mirror is None:
            unavailable("no Debian mirror in this machine's apt sources")
        work = Path(tempfile.mkdtemp(prefix="pw-debootstrap-"))
        try:
            root = work / "root"
            argv = ["debootstrap", "--variant=minbase", suite, str(root), str(mirror)]
            if extra:
                argv.insert(2, f"--include={','.join(extra)}")
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                unavailable(f"debootstrap failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
            tmp = cache.with_suffix(".partial")
            subprocess.run(
                [
                    "tar",
                    "-C",
                    str(root),
                    "--numeric-owner",
                    "--exclude=./dev/*",
                    "--exclude=./proc/*",
                    "--exclude=./sys/*",
                    *(
                        ["--exclude=./var/lib/apt/lists/*", "--exclude=./var/cache/apt/*"]
                        if slim
                        else []
                    ),
                    "-cf",
                    str(tmp),
                    ".",
                ],
                check=True,
                timeout=600,
            )
            os.replace(tmp, cache)
        finally:
            _remove(work)
    return cache


def _remove(work: Path) -> None:
    """Remove a debootstrap directory. An interrupted debootstrap leaves /proc (and maybe
    /sys, a bind-mounted /dev) mounted inside: unmount those first, and never delete through
    a mount that stays."""
    inside = [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith(f"{work}/")
    ]
    for mount in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, timeout=60)
    if any(
        ln.split()[1].startswith(f"{work}/") for ln in Path("/proc/mounts").read_text().splitlines()
    ):
        return  # left for a person to look at, rather than deleting through a mount
    shutil.rmtree(work, ignore_errors=True)
