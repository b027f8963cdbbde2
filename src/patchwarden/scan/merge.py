"""Merge per-layer facts bottom-up into the final image's packages, with layer attribution."""

from __future__ import annotations

from collections.abc import Sequence

from patchwarden.scan.model import (
    FileFacts,
    LayerFacts,
    OSInfo,
    Package,
    PackageFact,
    PackageType,
)
from patchwarden.scan.tarsafety import hidden_by

LANGUAGE_TYPES = frozenset({PackageType.PYTHON, PackageType.NPM, PackageType.JAVA, PackageType.GO})
_Key = tuple[str, str, str, str, str]  # (type, namespace, name, version, arch)


def _key(p: PackageFact) -> _Key:
    return (p.type.value, p.namespace or "", p.name, p.version, p.arch or "")


def _norm_owned(path: str) -> str:
    if not path.startswith(("/", ".")) and "//" not in path and "/./" not in path:
        return path.rstrip("/")  # the usual case: already relative and clean
    return "/".join(x for x in path.split("/") if x and x != ".")


class _Links:
    """Hard links share their target's facts (catalogued once, reported once). When an upper
    layer removes or replaces the target while a link to it survives, the file still exists
    under the link's path: its facts move there."""

    def __init__(
        self, state: dict[str, tuple[FileFacts, int]], intro: dict[tuple[str, _Key], int]
    ) -> None:
        self.state, self.intro = state, intro
        self.target: dict[str, str] = {}  # live link path -> target path
        self.linked: dict[str, list[str]] = {}  # target path -> link paths

    def add(self, links: dict[str, str]) -> None:
        for link, target in links.items():
            self.target[link] = target
            self.linked.setdefault(target, []).append(link)

    def leaving(self, path: str) -> None:
        """``path`` is about to be removed or replaced."""
        target = self.target.pop(path, None)
        if target is not None:  # a link itself goes: nothing to move
            return
        heirs = [x for x in self.linked.pop(path, ()) if self.target.get(x) == path]
        if not heirs or path not in self.state:
            return
        heir, rest = heirs[0], heirs[1:]
        del self.target[heir]
        facts, i = self.state[path]
        self.state[heir] = (facts, i)
        for pkg in facts.packages:
            k = _key(pkg)
            if (path, k) in self.intro:
                self.intro[(heir, k)] = self.intro[(path, k)]
        for x in rest:
            self.target[x] = heir
        if rest:
            self.linked[heir] = rest


def merge_layers(layers: Sequence[LayerFacts]) -> tuple[OSInfo | None, tuple[Package, ...]]:
    """Apply each layer's whiteouts/opaque dirs to the state below it, then its files.

    A package is attributed to the lowest layer from which the same (type, namespace, name,
    version, arch) has been continuously present at the same path: a file rewritten by every layer
    keeps its packages' original layer, an upgrade is attributed to the upgrading layer.
    """
    state: dict[str, tuple[FileFacts, int]] = {}  # path -> (facts, layer index)
    intro: dict[tuple[str, _Key], int] = {}  # (path, package key) -> introducing layer index
    links = _Links(state, intro)
    for i, layer in enumerate(layers):
        if layer.whiteouts or layer.opaque_dirs:
            deleted, opaque = set(layer.whiteouts), set(layer.opaque_dirs)
            gone = [p for p in state if hidden_by(p, deleted, opaque)]
            for p in gone:
                links.leaving(p)
                facts, _ = state.pop(p)
                for pkg in facts.packages:
                    intro.pop((p, _key(pkg)), None)
        for path, facts in layer.files.items():
            links.leaving(path)
            old = state.get(path)
            new_keys = {_key(pkg) for pkg in facts.packages}
            if old is not None:
                for pkg in old[0].packages:
                    if _key(pkg) not in new_keys:
                        intro.pop((path, _key(pkg)), None)
            for k in new_keys:
                intro.setdefault((path, k), i)
            state[path] = (facts, i)
        links.add(layer.links)

    os_info: OSInfo | None = None
    os_rank = (-1, "")
    owned: set[str] = set()
    for path, (facts, i) in state.items():
        if facts.os is not None and (i > os_rank[0] or (i == os_rank[0] and path < os_rank[1])):
            os_info, os_rank = facts.os, (i, path)
        owned.update(_norm_owned(o) for o in facts.owned_paths)

    out: dict[tuple[str, _Key], tuple[int, Package]] = {}
    for path, (facts, _) in state.items():
        for pf in facts.packages:
            if pf.type in LANGUAGE_TYPES and path in owned:
                continue  # installed by the OS package manager: reported as the OS package
            k = _key(pf)
            li = intro[(path, k)]
            out.setdefault(
                (path, k),
                (
                    li,
                    Package(
                        name=pf.name,
                        version=pf.version,
                        type=pf.type,
                        purl=pf.purl,
                        layer=layers[li].digest,
                        path=path,
                        source_name=pf.source_name,
                        source_version=pf.source_version,
                        arch=pf.arch,
                        namespace=pf.namespace,
                        licenses=pf.licenses,
                    ),
                ),
            )
    ordered = sorted(
        out.values(),
        key=lambda t: (t[1].type.value, t[1].namespace or "", t[1].name, t[1].version, t[1].path),
    )
    return os_info, tuple(p for _, p in ordered)
