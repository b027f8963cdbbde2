"""``patch IMAGE``: scan, upgrade the fixable dpkg packages in a working container, commit one
layer, rescan, push as ``TAG-patched``, write OpenVEX.

Nothing is pushed unless the rescan shows at least one finding fixed; the push is the last
step, from the rescanned OCI layout, so a failure anywhere leaves the registry unchanged.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchwarden.app.check.vulns import key
from patchwarden.app.patch.container import APT_TIMEOUT_S, WorkingContainer, apt_script
from patchwarden.app.patch.plan import Upgrade, plan_upgrades, supported
from patchwarden.app.patch.vex import openvex
from patchwarden.app.rebuild.proc import check, run, tool
from patchwarden.app.rebuild.scanning import IndexScanner
from patchwarden.app.rebuild.tools import Publisher, verify_tls
from patchwarden.cache.registry import CachingRegistry
from patchwarden.core.ref import ImageRef
from patchwarden.core.words import plural
from patchwarden.errors import UsageError
from patchwarden.scan.model import Finding


@dataclass(frozen=True, slots=True)
class PatchResult:
    image: str
    outcome: str  # patched | nothing-to-patch | failed
    reason: str
    digest_before: str | None = None
    digest_after: str | None = None
    pushed: str | None = None
    upgrades: tuple[Upgrade, ...] = ()
    installed_now: dict[str, str] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    remaining: tuple[str, ...] = ()
    layer_bytes: int | None = None
    vex: dict[str, Any] | None = None  # OpenVEX document of the fixes (when asked for)
    output: str = ""
    duration_s: float = 0.0


class Patcher:
    def __init__(
        self,
        registry: CachingRegistry,
        scanner: IndexScanner,
        publisher: Publisher,
        *,
        insecure_hosts: frozenset[str] = frozenset(),
        authfile: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.scanner = scanner
        self.publisher = publisher
        self.insecure = insecure_hosts
        self.authfile = authfile
        self.now = now

    def run(self, image: ImageRef, tag: str | None, vex: bool = False) -> PatchResult:
        t0 = time.monotonic()
        if image.tag is None and tag is None:
            raise UsageError(f"{image} has no tag", "pass --tag for the patched image's tag")
        new_tag = tag or f"{image.tag}-patched"
        digest = self.registry.inner.head_manifest(image).digest
        pinned = image.with_digest(digest)
        inv, before = self.scanner.inventory(self.scanner.open_registry(pinned))
        supported(inv.os, before)
        upgrades = plan_upgrades(before)
        if not upgrades:
            return PatchResult(
                str(image),
                "nothing-to-patch",
                "no dpkg package has a fixed version for its findings",
                digest_before=digest,
                duration_s=time.monotonic() - t0,
            )
        ctr = WorkingContainer(
            f"{image.name}@{digest}",
            tls_verify=verify_tls(image.registry, self.insecure),
            authfile=self.authfile,
        )
        built: str | None = None
        try:
            self._require_apt(ctr)
            done = ctr.run(
                apt_script([u.package for u in upgrades]),
                {"DEBIAN_FRONTEND": "noninteractive"},
                APT_TIMEOUT_S,
            )
            if done.code != 0:
                return PatchResult(
                    str(image),
                    "failed",
                    f"apt-get failed (exit {done.code}); nothing was pushed",
                    digest_before=digest,
                    upgrades=tuple(upgrades),
                    output=done.output[-4000:],
                    duration_s=time.monotonic() - t0,
                )
            built = ctr.commit(f"localhost/patchwarden-patch/{digest.split(':')[-1][:12]}:patched")
        finally:
            ctr.close()
        try:
            return self._finish(image, new_tag, digest, before, upgrades, built, vex, t0)
        finally:
            run([tool("buildah"), "rmi", "--force", built], timeout=600)

    def _require_apt(self, ctr: WorkingContainer) -> None:
        root = ctr.root()
        if not (root / "usr/bin/apt-get").exists() or not (root / "bin/sh").exists():
            raise UsageError(
                "the image has no apt-get (or no /bin/sh): patch runs the image's own package "
                "manager",
                "distroless or slimmed images cannot be patched in place; rebuild them instead",
            )

    def _finish(
        self,
        image: ImageRef,
        new_tag: str,
        digest: str,
        before: list[Finding],
        upgrades: list[Upgrade],
        built: str,
        want_vex: bool,
        t0: float,
    ) -> PatchResult:
        with tempfile.TemporaryDirectory(prefix="patchwarden-patch-") as tmp:
            layout = Path(tmp) / "layout"
            digest_file = Path(tmp) / "digest"
            check(
                [
                    tool("buildah"),
                    "push",
                    f"--digestfile={digest_file}",
                    built,
                    f"oci:{layout}:patched",
                ],
                "buildah push to an OCI layout",
                timeout=600,
            )
            after_digest = digest_file.read_text().strip()
            inv, after = self.scanner.inventory(self.scanner.open_layout(layout, "patched"))
            now_keys = {key(f) for f in after}
            fixed = [f for f in before if key(f) not in now_keys]
            versions = {p.name: p.version for p in inv.packages}
            layer = _top_layer_size(layout)
            base = dict(
                image=str(image),
                digest_before=digest,
                digest_after=after_digest,
                upgrades=tuple(upgrades),
                installed_now={u.package: versions.get(u.package, "?") for u in upgrades},
                fixed=tuple(sorted({f"{f.id} ({f.package.name})" for f in fixed})),
                remaining=tuple(sorted({f"{f.id} ({f.package.name})" for f in after})),
                layer_bytes=layer,
            )
            if not fixed:
                return PatchResult(
                    outcome="failed",
                    reason="the upgrade fixed none of the findings (do the image's apt sources "
                    "carry the fixed versions? e.g. the security suite); nothing was pushed",
                    duration_s=time.monotonic() - t0,
                    **base,  # type: ignore[arg-type]
                )
            dest = str(image.with_digest(None).with_tag(new_tag))
            pushed = self.publisher.push(layout, "patched", dest)
        vex = None
        if want_vex:
            vex = openvex(
                image.with_tag(new_tag).with_digest(None),
                pushed,
                [(f.id, f.package.purl) for f in fixed],
                self.now(),
            )
        return PatchResult(
            outcome="patched",
            reason=f"pushed {dest}: {plural(len(base['fixed']), 'finding')} fixed",  # type: ignore[arg-type]
            pushed=dest,
            vex=vex,
            duration_s=time.monotonic() - t0,
            **base,  # type: ignore[arg-type]
        )


def _top_layer_size(layout: Path) -> int | None:
    """Uncompressed size is not in the manifest; the compressed size of the new layer is."""
    try:
        index = json.loads((layout / "index.json").read_text())
        mdesc = index["manifests"][0]["digest"].split(":")
        manifest = json.loads((layout / "blobs" / mdesc[0] / mdesc[1]).read_text())
        return int(manifest["layers"][-1]["size"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


__all__ = ["PatchResult", "Patcher"]
