"""The hostile-input suite's tools: run the CLI in its own process and measure that process's
peak memory (``os.wait4`` returns the rusage of exactly that child), and build hostile images.

Every case states its memory bound as a multiple of an honest scan measured in the same
session (``baseline_mib``): the rule is "a hostile input costs at most a few times a normal
run". An address-space limit (``GUARD_BYTES``) keeps a regression from taking the machine down:
it turns runaway growth into a MemoryError (exit 4), which the assertions then catch.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchwarden.devtools.oci_builder import OCILayout, sha256

GUARD_BYTES = 3 * 1024**3
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def _guard() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GUARD_BYTES, GUARD_BYTES))


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Run:
    """``patchwarden ARGS`` in a fresh process; its exit code, output and peak RSS."""
    full = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "XDG_CACHE_HOME": str(cwd / ".xdg-cache"),
        "XDG_DATA_HOME": str(cwd / ".xdg-data"),
        **(env or {}),
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "patchwarden.cli.main", *args],
            cwd=cwd,
            env=full,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=_guard,
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                raise AssertionError(f"patchwarden {' '.join(args)} ran over {timeout}s")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            usage.ru_maxrss / 1024,  # KiB on Linux
            seconds,
        )


# -- images -------------------------------------------------------------------------------

Member = tuple[tarfile.TarInfo, bytes | None]


def reg(name: str, data: bytes, mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def hardlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def symlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def tar_of(members: Sequence[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return buf.getvalue()


def oci_layout(
    directory: Path,
    layers: Sequence[bytes],
    *,
    tag: str = "hostile",
    diff_ids: Sequence[str] | None = None,
) -> Path:
    """An OCI layout holding one image made of the given gzip-compressed layer blobs."""
    layout = OCILayout(directory)
    descs = [layout.add_blob(blob, OCI_LAYER) for blob in layers]
    if diff_ids is None:
        diff_ids = [sha256(gzip.decompress(b)) for b in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    cfg = layout.add_blob(json.dumps(config).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": descs}
    desc = layout.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
    layout.tag(tag, desc)
    return directory


def dpkg_status(count: int, prefix: str = "pkg") -> bytes:
    return "".join(
        f"Package: {prefix}{i}\nStatus: install ok installed\nVersion: 1.{i}-1\n"
        f"Architecture: amd64\nDescription: package number {i}\n\n"
        for i in range(count)
    ).encode()
