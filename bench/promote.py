"""Benchmark ``patchwarden registry promote``: a 5-layer, ~400 MB image between two loopback
registries, against ``skopeo copy`` of the same image measured in the same run; then a
promotion within one registry, which must upload no blob (cross-repository mount).

Each round copies to fresh destination repositories, alternating which tool goes first, and
the median ratio is reported (machines are noisy). Both are measured as processes, start-up
included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from patchwarden.devtools import skopeo
from patchwarden.devtools.oci_builder import OCILayout
from patchwarden.devtools.registry_server import RegistryServer

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench" / "promote"
MiB = 1024 * 1024
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
TARGET = 1.3


def build_layout(path: Path, layers: int, layer_mib: int) -> None:
    """``layers`` uncompressed tar layers of random bytes (so nothing compresses away)."""
    if (path / "index.json").exists():
        return
    layout = OCILayout(path)
    descs, diff_ids = [], []
    for i in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(f"data/layer{i}.bin")
            info.size = layer_mib * MiB
            tar.addfile(info, io.BytesIO(os.urandom(info.size)))
        d = layout.add_blob(buf.getvalue(), OCI_TAR)
        descs.append(d)
        diff_ids.append(d["digest"])
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }
    cfg = layout.add_blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": descs,
    }
    m = layout.add_blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    layout.tag("bench", m)


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{cmd[:4]} failed: {proc.stderr[-2000:]}")
    return took, proc.stdout


def copy_with(tool: str, src: str, dst_host: str, pw: list[str], layers: int) -> float:
    if tool == "skopeo":
        cmd = [
            skopeo.skopeo_binary(),
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{src}",
            f"docker://{dst_host}/app:1",
        ]
        return timed(cmd)[0]
    if tool == "patchwarden":
        took, out = timed([*pw, src, f"{dst_host}/app:1", "--no-record", "--format", "json"])
        stats = json.loads(out)["copy"]
        assert stats["blobs_uploaded"] == layers + 1, stats
        return took
    from patchwarden.app.promote import Promoter
    from patchwarden.core.ref import parse_reference
    from patchwarden.registry.client import RegistryClient

    with RegistryClient() as client:
        t0 = time.perf_counter()
        Promoter(client).promote(parse_reference(src), parse_reference(f"{dst_host}/app:1"))
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--layer-mib", type=int, default=80)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    layout = WORK / f"layout-{args.layers}x{args.layer_mib}"
    build_layout(layout, args.layers, args.layer_mib)
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PATCHWARDEN_CONFIG", None)
    pw = [sys.executable, "-m", "patchwarden.cli.main", "registry", "promote"]
    with RegistryServer("none") as a:
        skopeo.push(layout, "bench", f"{a.host}/bench/app:1")
        src = f"{a.host}/bench/app:1"
        ratios, engine_ratios = [], []
        order = ("skopeo", "patchwarden", "in-process")
        for r in range(args.rounds):
            # A fresh destination registry per copy: skopeo remembers where blobs went (its
            # blob-info cache) and would mount them instead of copying on a later round.
            times: dict[str, float] = {}
            for tool in order[r % 3 :] + order[: r % 3]:
                with RegistryServer("none") as b:
                    times[tool] = copy_with(tool, src, b.host, pw, args.layers)
            t_sk, t_pw, t_in = times["skopeo"], times["patchwarden"], times["in-process"]
            ratios.append(t_pw / t_sk)
            engine_ratios.append(t_in / t_sk)
            print(
                f"round {r + 1}: skopeo copy {t_sk:.2f} s, patchwarden registry promote "
                f"{t_pw:.2f} s (ratio {t_pw / t_sk:.2f}), copy engine in-process {t_in:.2f} s "
                f"(ratio {t_in / t_sk:.2f})",
                flush=True,
            )
        t_mount, out = timed(
            [*pw, src, f"{a.host}/mounted/app:1", "--no-record", "--format", "json"]
        )
        mount = json.loads(out)["copy"]
    size = args.layers * args.layer_mib
    median = statistics.median(ratios)
    print(
        f"image: {args.layers} layers, {size} MiB; median ratio promote/skopeo {median:.2f} "
        f"(target <= {TARGET}): {'OK' if median <= TARGET else 'MISSED'}"
    )
    print(
        f"same-registry promotion: {t_mount:.2f} s, {mount['blobs_uploaded']} blobs uploaded, "
        f"{mount['blobs_mounted']} mounted: {'OK' if mount['blobs_uploaded'] == 0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
