"""Tar member names: normalization, traversal refusal, and OCI whiteout classification."""

from __future__ import annotations

from patchwarden.scan.errors import HostileLayerError

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
WH_META = ".wh..wh."  # aufs metadata (.wh..wh.plnk, .wh..wh.aufs): ignored


def normalize(name: str, layer: str) -> str:
    """``./usr//bin/x`` -> ``usr/bin/x``; a ``..`` component is refused as path traversal."""
    if "/." not in name and "//" not in name and not name.startswith((".", "/")):
        return name.rstrip("/")  # the common case: no ".", ".." or empty component
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise HostileLayerError(layer, f"path traversal in tar entry {name!r}")
    return "/".join(parts)


def whiteout(path: str) -> tuple[str, str] | None:
    """``("delete", target)``, ``("opaque", dir)``, ``("ignore", path)`` or None (normal)."""
    head, _, base = path.rpartition("/")
    if not base.startswith(WH_PREFIX):
        return None
    if base == WH_OPAQUE:
        return "opaque", head
    if base.startswith(WH_META):
        return "ignore", path
    target = base[len(WH_PREFIX) :]
    if not target:
        return "ignore", path
    return "delete", f"{head}/{target}" if head else target


def hidden_by(
    path: str, deleted: frozenset[str] | set[str], opaque: frozenset[str] | set[str]
) -> bool:
    """True when a lower-layer ``path`` is hidden by an upper layer's whiteouts/opaque dirs:
    the path or one of its ancestors is deleted, or one of its strict ancestors is opaque."""
    if path in deleted:
        return True
    p = path
    while True:
        p, sep, _ = p.rpartition("/")
        if not sep:
            return "" in opaque
        if p in deleted or p in opaque:
            return True
